"""The station's local authorization list (``v2g.ocpp.local_list``) kept in a file
beside its outbound queue, so it survives a restart of ``v2g secc``. Each update is
written to a temporary file, synced and moved over the old one: a crash leaves the
old list or the new one, never half of either."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from v2g.clock import Clock
from v2g.ocpp.local_list import (
    ACCEPTED,
    FAILED,
    LocalList,
    OfflineVerdict,
    Update,
    offline_verdict,
    updated,
)

logger = logging.getLogger(__name__)

#: The CSMS requests this answers (D01, D02).
LOCAL_LIST_ACTIONS = frozenset({"SendLocalList", "GetLocalListVersion"})


class StoredLocalList:
    """The list in force and its file. ``accept_unknown``: a token not listed may
    charge while the CSMS is away (``[ocpp] accept_unknown_offline``)."""

    def __init__(self, path: Path, clock: Clock, accept_unknown: bool = False) -> None:
        self._path = path
        self._clock = clock
        self._accept_unknown = accept_unknown
        self.list = _read(path)

    def answer(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The response payload to ``action`` (one of LOCAL_LIST_ACTIONS), whose
        request passed its schema."""
        if action == "GetLocalListVersion":
            return {"versionNumber": self.list.version}
        update = updated(self.list, payload)
        if update.status == ACCEPTED:
            try:
                self._write(update.list)
            except OSError as error:
                update = Update(self.list, FAILED, f"the list could not be stored: {error}")
        if update.status == ACCEPTED:
            self.list = update.list
            logger.info(
                "local list v%d (%s): %d tokens",
                update.list.version,
                payload["updateType"],
                len(update.list.entries),
            )
        else:
            logger.warning(
                "SendLocalList v%s %s: %s", payload["versionNumber"], update.status, update.reason
            )
        return update.answer()

    def verdict(self, id_token: Mapping[str, Any]) -> OfflineVerdict:
        """Whether ``id_token`` (an OCPP IdTokenType) may charge while the CSMS is away."""
        return offline_verdict(self.list, id_token, self._clock.now(), self._accept_unknown)

    def _write(self, local: LocalList) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as sink:
            json.dump(local.wire(), sink, separators=(",", ":"))
            sink.flush()
            os.fsync(sink.fileno())
        temporary.replace(self._path)


def _read(path: Path) -> LocalList:
    """The list stored at ``path``; none (version 0) when there is no file or it cannot
    be read, so the CSMS, seeing version 0, sends the whole list again."""
    if not path.exists():
        return LocalList()
    try:
        return LocalList.from_wire(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.error("local list %s unreadable (%s): starting without one", path, error)
        return LocalList()
