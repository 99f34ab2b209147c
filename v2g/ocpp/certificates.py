"""Get15118EVCertificate at the CSMS (OCPP 2.0.1 M02/M03): the station forwards the
EV's CertificateInstallationReq (EXI, base64) and the CSMS answers with the
CertificateInstallationRes a contract certificate provider made for it.

The provider is a small Protocol: this CSMS ships none that signs contracts, so by
default every request is answered ``Failed`` with the reason (never silence, never a
made-up EXI stream). A provider plugs in through ``Csms(certificates=...)``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Protocol

#: The schema versions a station names (ISO 15118-2 and -20 message namespaces).
SCHEMA_VERSIONS = frozenset(
    {"urn:iso:15118:2:2013:MsgDef", "urn:iso:std:iso:15118:-20:CommonMessages"}
)


class ContractUnavailable(Exception):
    """The provider cannot answer this request; the message says why."""


class ContractProvider(Protocol):
    """Turns an EV's CertificateInstallationReq / CertificateUpdateReq (EXI bytes) into
    the CertificateInstallationRes / CertificateUpdateRes EXI (raises
    ContractUnavailable)."""

    async def exi_response(
        self, schema_version: str, action: str, exi_request: bytes
    ) -> bytes: ...


class NoContractProvider:
    """The default: no contract certificate provider is configured."""

    async def exi_response(self, schema_version: str, action: str, exi_request: bytes) -> bytes:
        raise ContractUnavailable("no contract certificate provider is configured")


def _failed(reason_code: str, why: str) -> dict[str, Any]:
    return {
        "status": "Failed",
        "exiResponse": "",
        "statusInfo": {"reasonCode": reason_code, "additionalInfo": why[:500]},
    }


async def ev_certificate_answer(
    provider: ContractProvider, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """The Get15118EVCertificateResponse payload for a schema-valid request."""
    version = str(payload["iso15118SchemaVersion"])
    if version not in SCHEMA_VERSIONS:
        return _failed("InvalidSchemaVersion", f"unknown ISO 15118 schema {version!r}")
    try:
        exi = base64.b64decode(str(payload["exiRequest"]), validate=True)
    except (binascii.Error, ValueError):
        return _failed("InvalidValue", "exiRequest is not base64")
    if not exi:
        return _failed("InvalidValue", "exiRequest is empty")
    try:
        response = await provider.exi_response(version, str(payload["action"]), exi)
    except ContractUnavailable as error:
        return _failed("NoCertAvailable", str(error))
    return {"status": "Accepted", "exiResponse": base64.b64encode(response).decode("ascii")}
