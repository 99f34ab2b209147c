"""ISO 15118 PKI: certificate roles and profiles, issuing, chain verification, TLS contexts.

Standalone: never imports ``v2g``. Built on ``cryptography`` (pinned at 44.0.0 by
iso15118). Pure parts (profiles, issuing, verification) take ``now`` as an argument;
file and TLS edges live in :mod:`pki.store` and :mod:`pki.tls`.
"""

from pki.emaid import EmaidError, normalise_emaid
from pki.keys import KeyAlgorithm
from pki.profiles import PROFILES, CertProfile, PkiProfile, Role
from pki.verify import ChainError, Failure, VerifiedChain, verify_chain

__all__ = [
    "PROFILES",
    "CertProfile",
    "ChainError",
    "EmaidError",
    "Failure",
    "KeyAlgorithm",
    "PkiProfile",
    "Role",
    "VerifiedChain",
    "normalise_emaid",
    "verify_chain",
]
