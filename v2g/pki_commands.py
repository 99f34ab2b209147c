"""``v2g pki init | issue secc|contract | verify``: the ISO 15118 PKI from the shell.

Bad input (unknown profile, unreadable file, malformed EMAID, missing passphrase)
raises PkiUsageError, which the CLI turns into exit status 2 with a one-line reason. A
chain that does not verify is a failed run: exit 1 with the reason.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509 import ocsp

from pki.emaid import EmaidError, normalise_emaid
from pki.identity import check_secc_subject, contract_emaid
from pki.profiles import ISSUER, PROFILES, ROOT_OF, Role
from pki.store import PkiStore, StoreError, read_certificates
from pki.testpki import build_test_pki, reissue_leaf
from pki.verify import ChainError, common_name, verify_chain

#: The environment variable a new PKI's key passphrase is read from by default.
PASSPHRASE_ENV = "V2G_PKI_PASSPHRASE"

_ROLES = {
    "secc": Role.SECC_LEAF,
    "contract": Role.CONTRACT_LEAF,
    "oem": Role.OEM_LEAF,
    "cps": Role.CPS_LEAF,
}


class PkiUsageError(Exception):
    """Bad input to a pki command (exit 2)."""


def add_pki_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pki = commands.add_parser("pki", help="ISO 15118 certificates: test PKI, issue, verify")
    actions = pki.add_subparsers(dest="pki_command", required=True)

    init = actions.add_parser("init", help="create a complete test PKI in DIR")
    init.add_argument("dir", type=Path, metavar="DIR")
    init.add_argument("--profile", required=True, choices=sorted(PROFILES))
    init.add_argument(
        "--algorithm",
        choices=("secp256r1", "secp521r1", "ed448"),
        help="key algorithm (iso2: secp256r1; iso20: secp521r1 by default, or ed448)",
    )
    init.add_argument("--evse-id", default="DE*V2G*E0001", help="CN of the SECC certificate")
    init.add_argument("--emaid", default="DE-V2G-C12345678-9", help="CN of the contract")
    init.add_argument(
        "--passphrase-env",
        default=PASSPHRASE_ENV,
        help=f"encrypt keys with the passphrase in this variable if set ({PASSPHRASE_ENV})",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing PKI")

    issue = actions.add_parser(
        "issue", help="issue a new SECC, contract or OCPP (csms, station) certificate"
    )
    issue.add_argument("kind", choices=("secc", "contract", "csms", "station"))
    issue.add_argument("--pki", type=Path, required=True, help="PKI folder (from pki init)")
    issue.add_argument("--evse-id", help="secc: the EVSE ID (CN)")
    issue.add_argument("--emaid", help="contract: the EMAID (CN)")
    issue.add_argument("--days", type=int, default=None, help="validity in days")
    issue.add_argument("--host", help="csms: the CSMS host name stations connect to (CN)")
    issue.add_argument("--station-id", help="station: the OCPP station id (CN)")
    issue.add_argument(
        "--out", type=Path, help="csms, station: folder for NAME.pem (chain) and NAME.key"
    )

    verify = actions.add_parser("verify", help="verify a certificate chain (PEM, leaf first)")
    verify.add_argument("chain", type=Path, metavar="CHAIN")
    verify.add_argument(
        "--pki", type=Path, help="trust the roots of this PKI folder (V2G, MO, OEM)"
    )
    verify.add_argument(
        "--anchor", type=Path, action="append", default=[], help="trusted root (repeatable)"
    )
    verify.add_argument("--role", choices=sorted(_ROLES), help="require this leaf role")
    verify.add_argument("--profile", choices=sorted(PROFILES), default=None)
    verify.add_argument("--at", help="check at this UTC time (ISO 8601) instead of now")
    verify.add_argument("--crl", type=Path, action="append", default=[], help="CRL (PEM/DER)")
    verify.add_argument(
        "--ocsp", type=Path, action="append", default=[], help="OCSP response (DER)"
    )
    verify.add_argument("--evse-id", help="secc: the EVSE ID the certificate must name")


def run_pki_command(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Exit status (0 ok, 1 chain rejected) and the text to print."""
    env = os.environ if environ is None else environ
    now = datetime.now(UTC)
    try:
        if args.pki_command == "init":
            return 0, _init(args, env, now)
        if args.pki_command == "issue":
            return 0, _issue(args, env, now)
        return _verify(args, now)
    except StoreError as error:
        raise PkiUsageError(str(error)) from error
    except EmaidError as error:
        raise PkiUsageError(str(error)) from error


def _init(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> str:
    profile = PROFILES[args.profile]
    algorithm = args.algorithm or profile.key_algorithms[0]
    if algorithm not in profile.key_algorithms:
        raise PkiUsageError(
            f"profile {profile.name} uses {' or '.join(profile.key_algorithms)}, not {algorithm}"
        )
    store = PkiStore(args.dir)
    if (args.dir / "pki.json").exists() and not args.force:
        raise PkiUsageError(f"{args.dir} already holds a PKI; use --force to replace it")
    passphrase = env.get(args.passphrase_env) or None
    made = build_test_pki(
        profile, now, key_algorithm=algorithm, evse_id=args.evse_id, emaid=args.emaid
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    store.write_manifest(profile.name, args.passphrase_env if passphrase else None)
    for role, credential in made.items():
        store.write_credential(role, credential, passphrase.encode() if passphrase else None)
    store.write_bundles()
    encrypted = f"encrypted with ${args.passphrase_env}" if passphrase else "NOT encrypted"
    return (
        f"{profile.name} test PKI ({algorithm}) in {args.dir}: {len(made)} certificates, "
        f"keys {encrypted}; SECC {args.evse_id}, contract {normalise_emaid(args.emaid)}"
    )


def _issue(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> str:
    store = PkiStore(args.pki)
    profile = store.profile()
    if args.kind in ("csms", "station"):
        return _issue_ocpp(args, store, env, now)
    if args.kind == "secc":
        if not args.evse_id:
            raise PkiUsageError("issue secc needs --evse-id")
        role, name = Role.SECC_LEAF, args.evse_id
    else:
        if not args.emaid:
            raise PkiUsageError("issue contract needs --emaid")
        role, name = Role.CONTRACT_LEAF, normalise_emaid(args.emaid)
    if args.days is not None and args.days <= 0:
        raise PkiUsageError("--days must be positive")
    issuer_role = ISSUER[role]
    assert issuer_role is not None
    issuer = store.credential(issuer_role, env)
    credential = reissue_leaf(
        profile, role, issuer, now, common_name=name, validity_days=args.days
    )
    passphrase = store.passphrase(env)
    store.write_credential(role, credential, passphrase)
    store.write_bundles()
    until = credential.certificate.not_valid_after_utc
    return f"{args.kind} certificate for {name} until {until:%Y-%m-%d}: {store.cert_path(role)}"


def _issue_ocpp(
    args: argparse.Namespace, store: PkiStore, env: Mapping[str, str], now: datetime
) -> str:
    """OCPP security profile 2/3 certificates (v2g.ocpp.security): the CSMS's server
    certificate (CN = its host name, A00.FR.510) or a station's client certificate
    (CN = its station id, A00.FR.405), both CPO leaves under the V2G root."""
    from v2g.ocpp.security import issue_ocpp_credential

    name = args.host if args.kind == "csms" else args.station_id
    if not name:
        option = "--host" if args.kind == "csms" else "--station-id"
        raise PkiUsageError(f"issue {args.kind} needs {option}")
    if args.out is None:
        raise PkiUsageError(f"issue {args.kind} needs --out DIR")
    if "/" in name or name.startswith("."):
        raise PkiUsageError(f"{name!r} cannot name a certificate file")
    cert, key, until = issue_ocpp_credential(store, name, args.out, env, now)
    root = store.cert_path(Role.V2G_ROOT)
    return f"{args.kind} certificate for {name} until {until:%Y-%m-%d}: {cert}, {key}; CA {root}"


def _verify(args: argparse.Namespace, now: datetime) -> tuple[int, str]:
    chain = read_certificates(args.chain)
    anchors = [c for path in args.anchor for c in read_certificates(path)]
    if args.pki:
        store = PkiStore(args.pki)
        anchors += [store.certificate(r) for r in sorted(set(ROOT_OF.values()), key=str)]
    if not anchors:
        raise PkiUsageError("give trust anchors with --pki DIR or --anchor FILE")
    at = _parse_time(args.at) if args.at else now
    role = _ROLES[args.role] if args.role else None
    profile = PROFILES[args.profile] if args.profile else None
    crls = [_read_crl(p) for p in args.crl]
    responses = [_read_ocsp(p) for p in args.ocsp]
    try:
        verified = verify_chain(
            chain[0],
            chain[1:],
            anchors,
            at,
            role=role,
            profile=profile,
            crls=crls,
            ocsp_responses=responses,
        )
        if args.evse_id:
            check_secc_subject(verified.leaf, args.evse_id)
        if role is Role.CONTRACT_LEAF:
            contract_emaid(verified.leaf)
    except ChainError as error:
        return 1, f"REJECTED ({error.failure.name}): {error.detail}"
    path = " -> ".join(repr(c) for c in _names(verified.certificates))
    return 0, f"OK at {at:%Y-%m-%dT%H:%M:%SZ}: {path}"


def _names(certificates: tuple[x509.Certificate, ...]) -> list[str]:
    return [common_name(c) for c in certificates]


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise PkiUsageError(f"--at {text!r} is not an ISO 8601 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (OSError, ValueError) as error:
        raise PkiUsageError(f"cannot read CRL {path}: {error}") from error


def _read_ocsp(path: Path) -> ocsp.OCSPResponse:
    try:
        return ocsp.load_der_ocsp_response(path.read_bytes())
    except (OSError, ValueError) as error:
        raise PkiUsageError(f"cannot read OCSP response {path}: {error}") from error
