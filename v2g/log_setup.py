"""Logging for the ``v2g`` processes: everything goes to stderr.

Called from entry points only (never at import). It also undoes what the iso15118
package does when imported: it configures the root logger to write to *stdout*,
which would corrupt ``--json`` output and the loopback's READY handshake.
"""

from __future__ import annotations

import logging
import sys
import unicodedata

from aiohttp.http_exceptions import HttpProcessingError


def configure_logging(level: str = "INFO", prefix: str = "") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter(
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


class OneLineFormatter(logging.Formatter):
    """One record, one line: control and format characters in the message (a newline
    or a right-to-left override in an id someone sent) are written as escapes, so no
    input can forge or hide a log line. Tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape_unprintable(record.message)
        return super().formatMessage(record)


def escape_unprintable(text: str) -> str:
    """``text`` with control, format, surrogate and line-separator characters as
    ``\\xNN`` / ``\\uNNNN`` escapes (printable text, tabs included, unchanged)."""
    if text.isprintable():
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if char != "\t" and unicodedata.category(char) in _UNPRINTABLE
        else char
        for char in text
    )


_UNPRINTABLE = ("Cc", "Cf", "Cs", "Zl", "Zp")


class MalformedRequestFilter(logging.Filter):
    """Keeps what a malformed HTTP request carried out of the log.

    aiohttp logs a request its parser refuses (a control character in a header, a
    header over 8 KB, a bad URL) with the offending bytes quoted: an
    ``Authorization: Bearer ...`` line read from a token file with a stray CR ends up
    in the log in clear. This filter keeps the record (who, and what kind of error)
    and drops the quoted content and the traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = (
                f"{record.getMessage()}: malformed request refused "
                f"({type(error).__name__}, {error.code}); its content is not logged"
            )
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def keep_malformed_requests_out_of_the_log() -> None:
    """Install MalformedRequestFilter on aiohttp's server logger (once)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server.filters):
        server.addFilter(MalformedRequestFilter())
