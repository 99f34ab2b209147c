"""Logging for the ``v2g`` processes: everything goes to stderr.

Called from entry points only (never at import). It also undoes what the iso15118
package does when imported: it configures the root logger to write to *stdout*,
which would corrupt ``--json`` output and the loopback's READY handshake.
"""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO", prefix: str = "") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s".replace("  ", " ")
        )
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # py4j logs every gateway call at DEBUG/INFO; it is noise for users.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    # pandapower warns that numba is missing whenever a reference grid runs its own
    # power flow; gridmodel runs without numba on purpose (no 4 s JIT cold start).
    logging.getLogger("pandapower").setLevel(logging.ERROR)
