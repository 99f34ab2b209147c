"""``v2g secc`` with ``[ocpp] forward_certificate_installation = true``: an EV's
ISO 15118-2 CertificateInstallationReq goes to the CSMS as Get15118EVCertificate
(OCPP 2.0.1 M02) and the CSMS's CertificateInstallationRes goes back to the EV.

The iso15118 SECC calls its controller's ``get_15118_ev_certificate`` with the request
(EXI, base64) when it runs with a CPO backend (``Station.cpo_backend``); the SECC still
checks the EV's OEM provisioning certificate and the request's signature first. A
refusal or an unreachable CSMS raises, which the SECC answers with
FAILED_NoCertificateAvailable.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class CertificateBackend(Protocol):
    """The station link's Get15118EVCertificate (see ``ChargingStationLink``)."""

    async def ev_certificate(self, schema_version: str, exi_request_b64: str) -> str: ...


def forward_installations(controller: Any, backend: CertificateBackend) -> None:
    """From now on ``controller`` (an EvseController) asks ``backend`` for contracts."""
    evse_id: str = controller.evse.evse_id

    async def forwarded(base64_encoded_cert_installation_req: str, namespace: str) -> str:
        try:
            answer = await backend.ev_certificate(namespace, base64_encoded_cert_installation_req)
        except (RuntimeError, ConnectionError, TimeoutError, ValueError) as error:
            logger.error("EVSE %s: no contract from the CSMS: %s", evse_id, error)
            raise
        logger.info("EVSE %s: contract certificate installation answered by the CSMS", evse_id)
        return answer

    controller.get_15118_ev_certificate = forwarded
