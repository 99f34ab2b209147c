"""``v2g secc`` with ``[ocpp] authorize = true``: each ISO 15118 session is authorized
at the CSMS (OCPP 2.0.1 C01, C07) before it charges.

The SECC's own check runs first (EIM is accepted locally; a Plug & Charge contract
chain is verified against the station's PKI); only what passes it is sent on:

- EIM: ``Authorize`` with the EV's EVCCID as a ``MacAddress`` idToken;
- Plug & Charge (-2): the EMAID as an ``eMAID`` idToken with the contract chain (PEM)
  in ``certificate``, so the CSMS checks it against its MO roots and revocation lists.

The iso15118 SECC asks again on every AuthorizationReq while the answer is Ongoing, so
the CSMS call runs once per session in the background: until it is answered (at most
``wait_s`` per request) the EV hears Ongoing and asks again. While the CSMS is
unreachable (OCPP's LocalAuthorizeOffline) the station's local authorization list
decides when it is given one (``v2g.ocpp.local_list``: a listed token by its status, an
unlisted one refused unless unknown tokens are allowed offline), else the station's
own answer stands; a session never hangs on a lost connection, and the decision is
logged with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from iso15118.secc.controller.interface import AuthorizationResponse
from iso15118.shared.messages.enums import AuthorizationStatus

from v2g.ocpp.local_list import OfflineVerdict

logger = logging.getLogger(__name__)

#: CSMS certificateStatus → the -2 response code naming it (others: FAILED).
_CERTIFICATE_CODES = {
    "CertificateExpired": "FAILED_CERTIFICATE_EXPIRED",
    "CertificateRevoked": "FAILED_CERTIFICATE_REVOKED",
    "SignatureError": "FAILED_SIGNATURE_ERROR",
    "CertChainError": "FAILED_CERT_CHAIN_ERROR",
}


@dataclass(frozen=True)
class AskedFor:
    """The session an authorization is asked for."""

    evse_id: str
    session_id: str
    ev_id: str | None  # the EV's EVCCID


class Sessions(Protocol):
    """Who decides: the Authorize call (raises ConnectionError while it cannot be
    asked, RuntimeError when the CSMS answers with a CALLERROR). The charger's OCPP
    link asks its CSMS; ``v2g serve`` asks the site's drivers."""

    async def authorize(
        self, payload: dict[str, Any], asked_for: AskedFor | None = None
    ) -> dict[str, Any]: ...


class OfflineList(Protocol):
    """What decides while the CSMS cannot be asked: the station's local list."""

    def verdict(self, id_token: Mapping[str, Any]) -> OfflineVerdict: ...


LocalCheck = Callable[..., Awaitable[AuthorizationResponse]]


class StationAuthorization:
    """Wraps EVSE controllers' ``is_authorized`` with the CSMS's Authorize."""

    def __init__(
        self,
        sessions: Sessions,
        wait_s: float = 1.5,
        asked: str = "CSMS",
        offline: OfflineList | None = None,
    ) -> None:
        self._sessions = sessions
        self._asked = asked  # who decides, for the log: the CSMS, or the site's drivers
        self._wait_s = wait_s
        self._offline = offline
        self._asking: dict[str, tuple[str, dict[str, Any], asyncio.Task[dict[str, Any]]]] = {}

    def guard(self, controller: Any) -> None:
        """From now on ``controller`` (an EvseController) asks the CSMS too."""
        local: LocalCheck = controller.is_authorized
        evse_id: str = controller.evse.evse_id
        session_now: Callable[[], tuple[str, str | None] | None] = controller.session_now

        async def checked(
            id_token: str | None = None,
            id_token_type: Any = None,
            certificate_chain: bytes | None = None,
            hash_data: list[dict[str, str]] | None = None,
        ) -> AuthorizationResponse:
            answer = await local(
                id_token=id_token,
                id_token_type=id_token_type,
                certificate_chain=certificate_chain,
                hash_data=hash_data,
            )
            if answer.authorization_status is not AuthorizationStatus.ACCEPTED:
                return answer
            session = session_now()
            if session is None:  # before SessionSetup: nothing to decide for
                return answer
            asked_for = AskedFor(evse_id, *session)
            return await self._at_csms(asked_for, answer, id_token, certificate_chain)

        controller.is_authorized = checked

    async def _at_csms(
        self,
        asked_for: AskedFor,
        local: AuthorizationResponse,
        id_token: str | None,
        certificate_chain: bytes | None,
    ) -> AuthorizationResponse:
        evse_id = asked_for.evse_id
        asked = self._asking.get(evse_id)
        if asked is None or asked[0] != asked_for.session_id:
            payload = _payload(asked_for.ev_id, id_token, certificate_chain)
            if payload is None:
                return local
            task = asyncio.get_running_loop().create_task(
                self._sessions.authorize(payload, asked_for)
            )
            asked = self._asking[evse_id] = (asked_for.session_id, payload, task)
        _, payload, task = asked
        await asyncio.wait({task}, timeout=self._wait_s)
        if not task.done():
            return AuthorizationResponse(
                AuthorizationStatus.ONGOING, local.certificate_response_status
            )
        try:
            verdict = task.result()
        except (
            ConnectionError,
            TimeoutError,
            RuntimeError,
            ValueError,
            asyncio.CancelledError,
        ) as error:
            if self._offline is not None and isinstance(error, ConnectionError | TimeoutError):
                return self._offline_answer(evse_id, payload, local)
            logger.warning(
                "EVSE %s: %s Authorize unavailable (%s); the station's own answer stands",
                evse_id,
                self._asked,
                error or type(error).__name__,
            )
            return local
        return _answer(evse_id, verdict, local, self._asked)

    def _offline_answer(
        self, evse_id: str, payload: dict[str, Any], local: AuthorizationResponse
    ) -> AuthorizationResponse:
        assert self._offline is not None
        verdict = self._offline.verdict(payload["idToken"])
        logger.warning(
            "EVSE %s: %s unreachable; local list: %s", evse_id, self._asked, verdict.reason
        )
        return _answer(evse_id, verdict.payload(), local, "local list")


def _payload(
    ev_id: str | None, id_token: str | None, certificate_chain: bytes | None
) -> dict[str, Any] | None:
    if certificate_chain is not None and id_token:
        return {
            "idToken": {"idToken": id_token, "type": "eMAID"},
            "certificate": certificate_chain.decode("ascii", "replace"),
        }
    if id_token:
        return {"idToken": {"idToken": id_token, "type": "eMAID"}}
    if ev_id:
        return {"idToken": {"idToken": ev_id, "type": "MacAddress"}}
    return None


def _answer(
    evse_id: str, verdict: Mapping[str, Any], local: AuthorizationResponse, asked: str
) -> AuthorizationResponse:
    status = verdict.get("idTokenInfo", {}).get("status")
    if status == "Accepted":
        logger.info("EVSE %s: authorized by the %s", evse_id, asked)
        return local
    certificate = verdict.get("certificateStatus")
    logger.warning(
        "EVSE %s: %s Authorize %s (%s): not charging", evse_id, asked, status, certificate
    )
    code = local.certificate_response_status
    if code is not None:
        family = type(code)
        name = _CERTIFICATE_CODES.get(str(certificate), "FAILED")
        code = getattr(family, name, getattr(family, "FAILED", code))
    return AuthorizationResponse(AuthorizationStatus.REJECTED, code)
