"""Certificate roles of the ISO 15118 PKI and the profile each role's certificate follows.

Four hierarchies share one shape, root → sub-CA 1 → sub-CA 2 → leaf
(ISO 15118-2 Annex F, ISO 15118-20 Annex B):

- V2G root → CPO sub-CA 1 → CPO sub-CA 2 → SECC certificate (TLS server)
- V2G root → CPS sub-CA 1 → CPS sub-CA 2 → CPS certificate (signs installed contracts)
- MO root → MO sub-CA 1 → MO sub-CA 2 → contract certificate (EMAID)
- OEM root → OEM sub-CA 1 → OEM sub-CA 2 → OEM provisioning certificate (TLS client in -20)

A profile fixes, per role: CA or not, the path length, the key usages, the domain
component of the subject and the validity the test PKI issues with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from pki.keys import KeyAlgorithm

ProfileName = Literal["iso2", "iso20"]

#: Key usage names as cryptography's ``x509.KeyUsage`` spells its fields.
KeyUsageName = Literal[
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
]


class Role(enum.Enum):
    """A certificate's place in the ISO 15118 PKI; the value is its file stem."""

    V2G_ROOT = "v2gRootCA"
    CPO_SUB_CA1 = "cpoSubCA1"
    CPO_SUB_CA2 = "cpoSubCA2"
    SECC_LEAF = "seccLeaf"
    CPS_SUB_CA1 = "cpsSubCA1"
    CPS_SUB_CA2 = "cpsSubCA2"
    CPS_LEAF = "cpsLeaf"
    MO_ROOT = "moRootCA"
    MO_SUB_CA1 = "moSubCA1"
    MO_SUB_CA2 = "moSubCA2"
    CONTRACT_LEAF = "contractLeaf"
    OEM_ROOT = "oemRootCA"
    OEM_SUB_CA1 = "oemSubCA1"
    OEM_SUB_CA2 = "oemSubCA2"
    OEM_LEAF = "oemLeaf"


#: Who issues whom in the test PKI (None: self-signed root).
ISSUER: dict[Role, Role | None] = {
    Role.V2G_ROOT: None,
    Role.CPO_SUB_CA1: Role.V2G_ROOT,
    Role.CPO_SUB_CA2: Role.CPO_SUB_CA1,
    Role.SECC_LEAF: Role.CPO_SUB_CA2,
    Role.CPS_SUB_CA1: Role.V2G_ROOT,
    Role.CPS_SUB_CA2: Role.CPS_SUB_CA1,
    Role.CPS_LEAF: Role.CPS_SUB_CA2,
    Role.MO_ROOT: None,
    Role.MO_SUB_CA1: Role.MO_ROOT,
    Role.MO_SUB_CA2: Role.MO_SUB_CA1,
    Role.CONTRACT_LEAF: Role.MO_SUB_CA2,
    Role.OEM_ROOT: None,
    Role.OEM_SUB_CA1: Role.OEM_ROOT,
    Role.OEM_SUB_CA2: Role.OEM_SUB_CA1,
    Role.OEM_LEAF: Role.OEM_SUB_CA2,
}

_CA_USAGE: frozenset[KeyUsageName] = frozenset({"key_cert_sign", "crl_sign"})


@dataclass(frozen=True, slots=True)
class CertProfile:
    """What one role's certificate must look like.

    ``path_length`` is the basicConstraints pathLenConstraint of a CA (None: unlimited,
    as for roots); ``key_usage`` the usages it carries, all of which a verifier
    requires; ``domain_component`` the DC attribute of its subject; ``validity_days``
    the lifetime the test PKI gives it.
    """

    role: Role
    is_ca: bool
    path_length: int | None
    key_usage: frozenset[KeyUsageName]
    domain_component: str
    validity_days: int
    common_name: str

    def __post_init__(self) -> None:
        if self.is_ca and "key_cert_sign" not in self.key_usage:
            raise ValueError(f"{self.role.name}: a CA profile needs keyCertSign")
        if not self.is_ca and (self.path_length is not None or "key_cert_sign" in self.key_usage):
            raise ValueError(f"{self.role.name}: a leaf profile cannot sign certificates")
        if self.validity_days <= 0:
            raise ValueError(f"{self.role.name}: validity_days must be positive")


@dataclass(frozen=True, slots=True)
class PkiProfile:
    """One standard's PKI: its key algorithms (the first is the default) and role profiles.

    ``max_sub_cas`` is the number of sub-CAs a chain may hold between leaf and root
    (ISO 15118-2 Annex F: at most two).
    """

    name: ProfileName
    key_algorithms: tuple[KeyAlgorithm, ...]
    roles: dict[Role, CertProfile]
    max_sub_cas: int = 2

    def __post_init__(self) -> None:
        if not self.key_algorithms:
            raise ValueError(f"{self.name}: at least one key algorithm")
        if set(self.roles) != set(Role):
            raise ValueError(f"{self.name}: every role needs a profile")

    def __getitem__(self, role: Role) -> CertProfile:
        return self.roles[role]


def _profiles(leaf_validity: dict[Role, int]) -> dict[Role, CertProfile]:
    def ca(role: Role, path_length: int | None, dc: str, days: int, cn: str) -> CertProfile:
        return CertProfile(role, True, path_length, _CA_USAGE, dc, days, cn)

    def leaf(role: Role, usage: set[KeyUsageName], dc: str, cn: str) -> CertProfile:
        return CertProfile(role, False, None, frozenset(usage), dc, leaf_validity[role], cn)

    # Validities as issued by the test PKI, those of the iso15118 package's script
    # (within ISO 15118-2 Annex F's maxima); verification does not enforce them.
    return {
        Role.V2G_ROOT: ca(Role.V2G_ROOT, None, "V2G", 3650, "V2GRootCA"),
        Role.CPO_SUB_CA1: ca(Role.CPO_SUB_CA1, 1, "V2G", 1460, "CPOSubCA1"),
        Role.CPO_SUB_CA2: ca(Role.CPO_SUB_CA2, 0, "V2G", 365, "CPOSubCA2"),
        # ISO 15118-2 Annex F: the SECC certificate's CN holds the EVSE ID; the test PKI's
        # default is replaced by the configured one at issue time.
        Role.SECC_LEAF: leaf(
            Role.SECC_LEAF, {"digital_signature", "key_agreement"}, "CPO", "SECCCert"
        ),
        Role.CPS_SUB_CA1: ca(Role.CPS_SUB_CA1, 1, "CPS", 1460, "ProvSubCA1"),
        Role.CPS_SUB_CA2: ca(Role.CPS_SUB_CA2, 0, "CPS", 730, "ProvSubCA2"),
        Role.CPS_LEAF: leaf(Role.CPS_LEAF, {"digital_signature"}, "CPS", "CPSLeaf"),
        Role.MO_ROOT: ca(Role.MO_ROOT, None, "MO", 3650, "MORootCA"),
        Role.MO_SUB_CA1: ca(Role.MO_SUB_CA1, 1, "MO", 1460, "MOSubCA1"),
        Role.MO_SUB_CA2: ca(Role.MO_SUB_CA2, 0, "MO", 730, "MOSubCA2"),
        # The contract certificate's CN is the EMAID (ISO 15118-2 Annex H).
        Role.CONTRACT_LEAF: leaf(
            Role.CONTRACT_LEAF,
            {"digital_signature", "content_commitment"},
            "MO",
            "DEV2GC000000001",
        ),
        Role.OEM_ROOT: ca(Role.OEM_ROOT, None, "OEM", 3650, "OEMRootCA"),
        Role.OEM_SUB_CA1: ca(Role.OEM_SUB_CA1, 1, "OEM", 1460, "OEMSubCA1"),
        Role.OEM_SUB_CA2: ca(Role.OEM_SUB_CA2, 0, "OEM", 1460, "OEMSubCA2"),
        Role.OEM_LEAF: leaf(
            Role.OEM_LEAF, {"digital_signature", "key_agreement"}, "OEM", "OEMProvCert"
        ),
    }


_LEAF_DAYS_2 = {
    Role.SECC_LEAF: 60,
    Role.CPS_LEAF: 90,
    Role.CONTRACT_LEAF: 730,
    Role.OEM_LEAF: 1460,
}

#: The profiles by name: ISO 15118-2 (secp256r1/SHA-256) and -20 (secp521r1 or Ed448).
PROFILES: dict[ProfileName, PkiProfile] = {
    "iso2": PkiProfile("iso2", ("secp256r1",), _profiles(_LEAF_DAYS_2)),
    "iso20": PkiProfile("iso20", ("secp521r1", "ed448"), _profiles(_LEAF_DAYS_2)),
}

#: Leaves and the root their chain ends in.
ROOT_OF: dict[Role, Role] = {
    Role.SECC_LEAF: Role.V2G_ROOT,
    Role.CPS_LEAF: Role.V2G_ROOT,
    Role.CONTRACT_LEAF: Role.MO_ROOT,
    Role.OEM_LEAF: Role.OEM_ROOT,
}


def chain_roles(leaf: Role) -> tuple[Role, ...]:
    """Leaf first, root last: the roles on the way from ``leaf`` to its root."""
    roles = [leaf]
    issuer = ISSUER[leaf]
    while issuer is not None:
        roles.append(issuer)
        issuer = ISSUER[issuer]
    return tuple(roles)
