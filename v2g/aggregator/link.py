"""SessionLink: how setpoints reach the sessions. In process, straight into the SECC's
per-EVSE mailboxes (writing never waits for the SECC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from v2g.secc.mailbox import SetpointMailbox
from v2g.session import Setpoint


class SessionLink(Protocol):
    """Delivers a setpoint to the session at one EVSE."""

    def post(self, evse_id: str, setpoint: Setpoint) -> None: ...


class MailboxLink:
    """The in-process link: the SECC runs in the same process as the aggregator."""

    def __init__(self, mailboxes: Mapping[str, SetpointMailbox]) -> None:
        self._mailboxes = mailboxes

    def post(self, evse_id: str, setpoint: Setpoint) -> None:
        mailbox = self._mailboxes.get(evse_id)
        if mailbox is not None:
            mailbox.post(setpoint)


class RecordingLink:
    """A link that keeps every setpoint it is given (simulation, tests)."""

    def __init__(self) -> None:
        self.posted: dict[str, list[Setpoint]] = {}

    def post(self, evse_id: str, setpoint: Setpoint) -> None:
        self.posted.setdefault(evse_id, []).append(setpoint)

    def latest(self, evse_id: str) -> Setpoint | None:
        history = self.posted.get(evse_id)
        return history[-1] if history else None
