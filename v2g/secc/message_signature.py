"""XML signatures of ISO 15118 messages for every security suite, at the iso15118 seam.

iso15118 0.31.2 signs and verifies with secp256r1 only (r and s cut to 32 bytes), so a
-20 contract key on secp521r1 or Ed448 crashes its EV (OverflowError) and fails its
SECC. These functions have the package's signatures (``create_signature``,
``verify_signature``) and pick the suite from the key (:mod:`pki.signature`); the
package's EXI codec encodes the parts, as ISO 15118 requires.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography import x509

from pki.keys import PrivateKey
from pki.signature import SignatureKeyError, digest, sign_raw, suite_of, verify_raw

logger = logging.getLogger(__name__)

_EXI_TRANSFORM = "http://www.w3.org/TR/canonical-exi/"


def create_signature(elements_to_sign: list[tuple[str, bytes]], signature_key: PrivateKey) -> Any:
    """A Signature over ``(id, EXI bytes)`` parts, in the key's suite."""
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.messages.xmldsig import (
        CanonicalizationMethod,
        DigestMethod,
        Reference,
        Signature,
        SignatureMethod,
        SignatureValue,
        SignedInfo,
        Transform,
        Transforms,
    )

    suite = suite_of(signature_key)
    references = [
        Reference(
            uri="#" + element_id,
            transforms=Transforms(transform=[Transform(algorithm=_EXI_TRANSFORM)]),
            digest_method=DigestMethod(algorithm=suite.digest_uri),
            digest_value=digest(suite, exi),
        )
        for element_id, exi in elements_to_sign
    ]
    signed_info = SignedInfo(
        canonicalization_method=CanonicalizationMethod(algorithm=_EXI_TRANSFORM),
        signature_method=SignatureMethod(algorithm=suite.signature_uri),
        reference=references,
    )
    encoded = EXI().to_exi(signed_info, Namespace.XML_DSIG)
    return Signature(
        signed_info=signed_info,
        signature_value=SignatureValue(value=sign_raw(signature_key, encoded)),
    )


def verify_signature(
    signature: Any,
    elements_to_sign: list[tuple[str, bytes]],
    leaf_cert: bytes,
    sub_ca_certs: list[bytes] | None = None,
    root_ca_cert: bytes | None = None,
) -> bool:
    """True when every part's digest and the SignedInfo signature verify with the key
    of ``leaf_cert``, in its suite (a signature declaring another suite is refused).
    The chain itself is verified elsewhere (``plug_and_charge``)."""
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace

    public_key = x509.load_der_x509_certificate(leaf_cert).public_key()
    try:
        suite = suite_of(public_key)
    except SignatureKeyError as error:
        logger.error("message signature: %s", error)
        return False
    declared = str(signature.signed_info.signature_method.algorithm)
    if declared != suite.signature_uri:
        logger.error("message signature: %s declared for a %s key", declared, suite.algorithm)
        return False
    references = {r.uri: r for r in signature.signed_info.reference}
    for element_id, exi in elements_to_sign:
        reference = references.get("#" + element_id)
        if reference is None or str(reference.digest_method.algorithm) != suite.digest_uri:
            logger.error(
                "message signature: no %s reference for #%s", suite.digest_uri, element_id
            )
            return False
        if reference.digest_value != digest(suite, exi):
            logger.error("message signature: digest of #%s does not match", element_id)
            return False
    encoded = EXI().to_exi(signature.signed_info, Namespace.XML_DSIG)
    if not verify_raw(public_key, encoded, bytes(signature.signature_value.value)):  # type: ignore[arg-type]
        logger.error("message signature: SignatureValue does not verify")
        return False
    return True
