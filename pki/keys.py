"""Key algorithms of the ISO 15118 security profiles, and their PEM form.

ISO 15118-2 uses ECDSA on secp256r1 with SHA-256. ISO 15118-20 defines two
security suites: ECDSA on secp521r1 with SHA-512, and EdDSA on Ed448.
"""

from __future__ import annotations

from typing import Literal, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448

KeyAlgorithm = Literal["secp256r1", "secp521r1", "ed448"]
KEY_ALGORITHMS: tuple[KeyAlgorithm, ...] = get_args(KeyAlgorithm)

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed448.Ed448PublicKey


class KeyReadError(ValueError):
    """A key that is not one of the ISO 15118 algorithms, or cannot be read."""


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """A fresh private key of ``algorithm``."""
    if algorithm == "secp256r1":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "secp521r1":
        return ec.generate_private_key(ec.SECP521R1())
    return ed448.Ed448PrivateKey.generate()


def algorithm_of(key: object) -> KeyAlgorithm | None:
    """The ISO 15118 algorithm of a public or private key, or None for any other key."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        name = key.curve.name
        return name if name in ("secp256r1", "secp521r1") else None  # type: ignore[return-value]
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "ed448"
    return None


def signature_hash(algorithm: KeyAlgorithm) -> hashes.HashAlgorithm | None:
    """The hash a certificate signed with this key uses (None: EdDSA hashes itself)."""
    if algorithm == "secp256r1":
        return hashes.SHA256()
    if algorithm == "secp521r1":
        return hashes.SHA512()
    return None


def private_key_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM, encrypted when a passphrase is given (OpenSSL reads both)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(pem: bytes, passphrase: bytes | None) -> PrivateKey:
    """Read a PEM private key of an ISO 15118 algorithm."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except (ValueError, TypeError) as error:
        raise KeyReadError(f"cannot read private key: {error}") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey) or (
        algorithm_of(key) is None
    ):
        raise KeyReadError("private key is not secp256r1, secp521r1 or Ed448")
    return key
