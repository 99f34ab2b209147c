"""A contract certificate provider for Get15118EVCertificate built on the project's
``pki``: for an EV's ISO 15118-2 CertificateInstallationReq it issues a new contract
(a fresh key, a certificate from MO sub-CA 2 with the configured EMAID), encrypts the
key for the EV's OEM provisioning certificate (ECDH, ISO 15118-2 7.9.2.4.2) and signs
the answer with the CPS key, as an MO and its certificate provisioning service would.

It is meant for test benches and pilots that run the project's test PKI (``v2g pki
init``): a production CSMS forwards the request to its contract certificate pool
instead. ISO 15118-20 requests and CertificateUpdate are answered unavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from pki.emaid import normalise_emaid
from pki.profiles import Role
from pki.store import PkiStore, StoreError
from pki.testpki import reissue_leaf
from pki.verify import ChainError, verify_chain
from v2g.clock import Clock
from v2g.ocpp.certificates import ContractUnavailable

logger = logging.getLogger(__name__)

ISO2 = "urn:iso:15118:2:2013:MsgDef"


class PkiContractProvider:
    """Issues contracts for ``emaid`` from the PKI folder ``store`` (a ``ContractProvider``)."""

    def __init__(
        self, store: PkiStore, emaid: str, clock: Clock, environ: Mapping[str, str]
    ) -> None:
        self._store = store
        self._emaid = normalise_emaid(emaid)
        self._clock = clock
        self._environ = environ

    async def exi_response(self, schema_version: str, action: str, exi_request: bytes) -> bytes:
        if schema_version != ISO2 or action != "Install":
            raise ContractUnavailable(
                f"only ISO 15118-2 installation, not {action} {schema_version}"
            )
        try:
            return self._install(exi_request, self._clock.now())
        except (StoreError, ChainError) as error:
            raise ContractUnavailable(str(error)) from error
        except ContractUnavailable:
            raise
        except Exception as error:  # the EXI codec and iso15118 models raise their own
            logger.exception("CertificateInstallationRes could not be built")
            raise ContractUnavailable(
                f"cannot build the answer: {type(error).__name__}"
            ) from error

    def _install(self, exi_request: bytes, now: datetime) -> bytes:
        _codec_ready()
        from iso15118.shared.exi_codec import EXI
        from iso15118.shared.messages.enums import Namespace
        from iso15118.shared.messages.iso15118_2.body import (
            Body,
            CertificateInstallationReq,
            CertificateInstallationRes,
        )
        from iso15118.shared.messages.iso15118_2.datatypes import (
            EMAID,
            CertificateChain,
            DHPublicKey,
            EncryptedPrivateKey,
            ResponseCode,
            SubCertificates,
        )
        from iso15118.shared.messages.iso15118_2.header import MessageHeader
        from iso15118.shared.messages.iso15118_2.msgdef import V2GMessage
        from iso15118.shared.security import create_signature, encrypt_priv_key

        exi = EXI()  # type: ignore[no-untyped-call]
        request = exi.from_exi(exi_request, Namespace.ISO_V2_MSG_DEF)
        body = getattr(getattr(request, "body", None), "certificate_installation_req", None)
        if not isinstance(body, CertificateInstallationReq):
            raise ContractUnavailable("exiRequest is no CertificateInstallationReq")
        self._check_oem(body.oem_provisioning_cert, now)
        store, env = self._store, self._environ
        sub_ca2 = store.credential(Role.MO_SUB_CA2, env)
        contract = reissue_leaf(
            store.profile(), Role.CONTRACT_LEAF, sub_ca2, now, common_name=self._emaid
        )
        assert isinstance(contract.key, ec.EllipticCurvePrivateKey)
        dh_public, encrypted = encrypt_priv_key(body.oem_provisioning_cert, contract.key)

        def der(certificate: x509.Certificate) -> bytes:
            return certificate.public_bytes(Encoding.DER)

        answer = CertificateInstallationRes(
            response_code=ResponseCode.OK,
            cps_cert_chain=CertificateChain(
                certificate=der(store.certificate(Role.CPS_LEAF)),
                sub_certificates=SubCertificates(
                    certificates=[
                        der(store.certificate(Role.CPS_SUB_CA2)),
                        der(store.certificate(Role.CPS_SUB_CA1)),
                    ]
                ),
            ),
            contract_cert_chain=CertificateChain(
                id="id1",
                certificate=der(contract.certificate),
                sub_certificates=SubCertificates(
                    certificates=[
                        der(sub_ca2.certificate),
                        der(store.certificate(Role.MO_SUB_CA1)),
                    ]
                ),
            ),
            encrypted_private_key=EncryptedPrivateKey(id="id2", value=encrypted),
            dh_public_key=DHPublicKey(id="id3", value=dh_public),
            emaid=EMAID(id="id4", value=self._emaid),
        )
        # ISO 15118-2 V2G2-811: the CPS signs these four elements of the answer.
        elements = (
            answer.contract_cert_chain,
            answer.encrypted_private_key,
            answer.dh_public_key,
            answer.emaid,
        )
        signed = [(e.id, exi.to_exi(e, Namespace.ISO_V2_MSG_DEF)) for e in elements]
        cps_key = store.credential(Role.CPS_LEAF, env).key
        assert isinstance(cps_key, ec.EllipticCurvePrivateKey)
        message = V2GMessage(
            header=MessageHeader(
                session_id=request.header.session_id, signature=create_signature(signed, cps_key)
            ),
            body=Body.parse_obj({"CertificateInstallationRes": answer.dict()}),
        )
        logger.info("contract %s issued for an EV", self._emaid)
        return bytes(exi.to_exi(message, Namespace.ISO_V2_MSG_DEF))

    def _check_oem(self, oem_der: bytes, now: datetime) -> None:
        """The EV's provisioning certificate must chain to the PKI's OEM root."""
        store = self._store
        leaf = x509.load_der_x509_certificate(oem_der)
        verify_chain(
            leaf,
            [store.certificate(Role.OEM_SUB_CA2), store.certificate(Role.OEM_SUB_CA1)],
            [store.certificate(Role.OEM_ROOT)],
            now,
            role=Role.OEM_LEAF,
            profile=store.profile(),
        )


def _codec_ready() -> None:
    """iso15118's EXI singleton with the product's native codec and its settings
    (normally read from ``.env``); importing iso15118 re-points the root logger,
    which is put back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.settings import SettingKey, shared_settings

    from v2g.secc.codec import make_codec

    root.handlers[:] = handlers
    root.setLevel(level)
    shared_settings.setdefault(SettingKey.MESSAGE_LOG_JSON, False)
    shared_settings.setdefault(SettingKey.MESSAGE_LOG_EXI, False)
    exi = EXI()  # type: ignore[no-untyped-call]
    if exi.exi_codec is None:
        exi.set_exi_codec(make_codec("native"))
