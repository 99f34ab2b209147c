"""Who a leaf certificate names: the SECC's EVSE ID, the contract's EMAID."""

from __future__ import annotations

from cryptography import x509

from pki.emaid import EmaidError, normalise_emaid
from pki.verify import ChainError, Failure, common_name


def normalise_evse_id(evse_id: str) -> str:
    """EVSE IDs compare without their optional ``*`` separators, case-insensitively
    (ISO 15118-2 Annex H writes ``DE*V2G*E0001`` and ``DEV2GE0001`` alike)."""
    return evse_id.replace("*", "").upper()


def check_secc_subject(certificate: x509.Certificate, evse_id: str) -> None:
    """The SECC certificate's CN must name the EVSE it is installed in."""
    name = common_name(certificate)
    if normalise_evse_id(name) != normalise_evse_id(evse_id):
        raise ChainError(
            Failure.SUBJECT,
            f"SECC certificate is for {name!r}, but this EVSE is {evse_id!r}",
        )


def contract_emaid(certificate: x509.Certificate) -> str:
    """The EMAID in a contract certificate's CN (normalised), or ChainError."""
    name = common_name(certificate)
    try:
        return normalise_emaid(name)
    except EmaidError as error:
        raise ChainError(Failure.SUBJECT, f"contract certificate CN: {error}") from error
