"""Raw signatures and digests of the ISO 15118 message security suites.

ISO 15118 signs EXI-encoded message parts with an XML signature whose SignatureValue
is the raw signature: r || s for ECDSA (each padded to the curve's size), the 114-byte
signature for Ed448. The suite follows the key: secp256r1 with SHA-256 (-2),
secp521r1 with SHA-512 and Ed448 with SHAKE256 digests (-20).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from pki.keys import KeyAlgorithm, PrivateKey, PublicKey, algorithm_of


@dataclass(frozen=True, slots=True)
class SignatureSuite:
    """The XML-signature algorithms one key algorithm signs with."""

    algorithm: KeyAlgorithm
    signature_uri: str
    digest_uri: str
    #: Octets of r and of s in the raw ECDSA signature (0 for EdDSA).
    component_size: int


SUITES: dict[KeyAlgorithm, SignatureSuite] = {
    "secp256r1": SignatureSuite(
        "secp256r1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        32,
    ),
    "secp521r1": SignatureSuite(
        "secp521r1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
        "http://www.w3.org/2001/04/xmlenc#sha512",
        66,
    ),
    "ed448": SignatureSuite(
        "ed448",
        "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448",
        "http://www.w3.org/2007/05/xmldsig-more#shake256",
        0,
    ),
}


class SignatureKeyError(ValueError):
    """A key of no ISO 15118 security suite."""


def suite_of(key: object) -> SignatureSuite:
    algorithm = algorithm_of(key)
    if algorithm is None:
        raise SignatureKeyError(f"no ISO 15118 signature suite for {type(key).__name__}")
    return SUITES[algorithm]


def digest(suite: SignatureSuite, data: bytes) -> bytes:
    """The reference digest of ``data`` in ``suite``."""
    algorithm: hashes.HashAlgorithm
    if suite.algorithm == "secp256r1":
        algorithm = hashes.SHA256()
    elif suite.algorithm == "secp521r1":
        algorithm = hashes.SHA512()
    else:
        algorithm = hashes.SHAKE256(64)
    hasher = hashes.Hash(algorithm)
    hasher.update(data)
    return hasher.finalize()


def sign_raw(key: PrivateKey, data: bytes) -> bytes:
    """The raw signature over ``data`` (r || s, or the EdDSA signature)."""
    suite = suite_of(key)
    if isinstance(key, ed448.Ed448PrivateKey):
        return key.sign(data)
    hash_algorithm = hashes.SHA256() if suite.algorithm == "secp256r1" else hashes.SHA512()
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_algorithm)))
    return r.to_bytes(suite.component_size, "big") + s.to_bytes(suite.component_size, "big")


def verify_raw(public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (raw) over ``data`` verifies with ``public_key``."""
    suite = suite_of(public_key)
    try:
        if isinstance(public_key, ed448.Ed448PublicKey):
            public_key.verify(signature, data)
            return True
        size = suite.component_size
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        hash_algorithm = hashes.SHA256() if suite.algorithm == "secp256r1" else hashes.SHA512()
        public_key.verify(der, data, ec.ECDSA(hash_algorithm))
    except InvalidSignature:
        return False
    return True
