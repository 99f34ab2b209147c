"""A fake of the part of an ``EvseController`` that ``StationAuthorization`` guards:
its own authorization answer (scripted) and the session it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iso15118.secc.controller.interface import AuthorizationResponse
from iso15118.shared.messages.enums import AuthorizationStatus
from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode


@dataclass
class FakeEvse:
    evse_id: str


class AuthorizingController:
    """Answers ``is_authorized`` with ``local`` (OK or FAILED as the status says);
    ``begin`` stands for SessionSetup answered for an EV."""

    def __init__(
        self, evse_id: str, local: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    ) -> None:
        self.evse = FakeEvse(evse_id)
        self.local = local
        self.session: tuple[str, str | None] | None = None

    def begin(self, ev_id: str) -> None:
        """SessionSetup answered for the EV ``ev_id`` (its EVCCID)."""
        self.session = (f"s-{self.evse.evse_id}", ev_id)

    def session_now(self) -> tuple[str, str | None] | None:
        return self.session

    async def is_authorized(self, **_: Any) -> AuthorizationResponse:
        failed = self.local is not AuthorizationStatus.ACCEPTED
        return AuthorizationResponse(
            self.local, ResponseCode.FAILED if failed else ResponseCode.OK
        )
