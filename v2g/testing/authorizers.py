"""Fakes for the CSMS's Authorize and Get15118EVCertificate collaborators."""

from __future__ import annotations

from collections.abc import Mapping

from v2g.ocpp.authorize import IdToken
from v2g.ocpp.certificates import ContractUnavailable


class FixedAuthorizer:
    """An ``Authorizer`` with a fixed status per token value (others ``default``);
    remembers what it was asked."""

    def __init__(self, statuses: Mapping[str, str], default: str = "Unknown") -> None:
        self._statuses = dict(statuses)
        self._default = default
        self.asked: list[IdToken] = []

    async def status_of(self, token: IdToken) -> str:
        self.asked.append(token)
        return self._statuses.get(token.value, self._default)


class FixedContractProvider:
    """A ``ContractProvider`` answering every request with ``response`` (None:
    unavailable); remembers the requests."""

    def __init__(self, response: bytes | None) -> None:
        self._response = response
        self.requests: list[tuple[str, str, bytes]] = []

    async def exi_response(self, schema_version: str, action: str, exi_request: bytes) -> bytes:
        self.requests.append((schema_version, action, exi_request))
        if self._response is None:
            raise ContractUnavailable("the provider has no contract for this EV")
        return self._response
