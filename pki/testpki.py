"""A complete test PKI: all four hierarchies of one profile, issued at ``now``."""

from __future__ import annotations

import secrets
from datetime import datetime

from pki.emaid import normalise_emaid
from pki.issue import Credential, issue, issue_root
from pki.keys import KeyAlgorithm, generate_key
from pki.profiles import ISSUER, PkiProfile, Role

TestPki = dict[Role, Credential]


def serial_number() -> int:
    """A positive 63-bit serial (RFC 5280 4.1.2.2: at most 20 octets, unpredictable)."""
    return secrets.randbits(63) | 1


def build_test_pki(
    profile: PkiProfile,
    now: datetime,
    *,
    key_algorithm: KeyAlgorithm | None = None,
    evse_id: str | None = None,
    emaid: str | None = None,
) -> TestPki:
    """Every role's credential; roots self-signed, each other role signed by its issuer.

    ``evse_id`` becomes the SECC certificate's CN, ``emaid`` the contract's.
    """
    algorithm = key_algorithm or profile.key_algorithms[0]
    names = {
        Role.SECC_LEAF: evse_id,
        Role.CONTRACT_LEAF: normalise_emaid(emaid) if emaid else None,
    }
    made: TestPki = {}
    for role in Role:  # declaration order puts every issuer before what it issues
        key = generate_key(algorithm)
        issuer_role = ISSUER[role]
        if issuer_role is None:
            certificate = issue_root(profile, profile[role], key, now, serial_number())
        else:
            certificate = issue(
                profile,
                profile[role],
                key.public_key(),
                made[issuer_role],
                now,
                serial_number(),
                common_name=names.get(role),
            )
        made[role] = Credential(certificate, key)
    return made


def reissue_leaf(
    profile: PkiProfile,
    role: Role,
    issuer: Credential,
    now: datetime,
    *,
    common_name: str | None = None,
    validity_days: int | None = None,
    key_algorithm: KeyAlgorithm | None = None,
    not_before: datetime | None = None,
) -> Credential:
    """A new certificate and key for ``role``, signed by ``issuer``."""
    key = generate_key(key_algorithm or profile.key_algorithms[0])
    certificate = issue(
        profile,
        profile[role],
        key.public_key(),
        issuer,
        now,
        serial_number(),
        common_name=common_name,
        validity_days=validity_days,
        not_before=not_before,
    )
    return Credential(certificate, key)
