"""Loopback sessions over TLS with ``pki``-made certificates, and Plug & Charge.

The SECC serves TLS from a ``v2g pki init`` folder: TLS 1.2 for ISO 15118-2, TLS 1.3
with mutual authentication for -20. The iso15118 package's EVCC uses the same folder
(or, in the negative cases, a copy whose contract certificate is broken in one way).
Every rejected session must end at the SECC with the reason in its SessionEnded event.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pki.issue import Credential, issue
from pki.profiles import PROFILES, CertProfile, Role
from pki.store import PkiStore
from pki.testpki import build_test_pki, reissue_leaf, serial_number
from tests.integration.test_loopback import EV_TIMEOUT_SCALE, phases
from v2g.cli import main
from v2g.secc.loopback.run import run_loopback
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns

EMAID = "DEV2GC123456789"
#: A rejected session ends within seconds; the EV is not waited for longer.
NEGATIVE_TIMEOUT_S = 25.0


@pytest.fixture(scope="module")
def iso2_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "iso2"
    assert main(["pki", "init", "--profile", "iso2", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def iso20_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "iso20"
    assert main(["pki", "init", "--profile", "iso20", str(folder)]) == 0
    return folder


def session(protocol: str, work: Path, **spec) -> tuple[dict, dict, str]:
    spec.setdefault("ev_timeout_scale", EV_TIMEOUT_SCALE)
    report = run_loopback(LoopbackSpec(protocol=protocol, **spec), work).to_json()
    charger = (
        json.loads((work / "charger.json").read_text()) if (work / "charger.json").exists() else {}
    )
    logs = "\n".join(p.read_text() for p in sorted(work.glob("*.log")))
    return report, charger, logs


def test_iso2_ac_plug_and_charge_with_certificate_installation_over_tls12(iso2_dir, tmp_path):
    report, _charger, logs = session("iso2-ac", tmp_path, pki_dir=str(iso2_dir), cert_install=True)
    assert report["completed"], logs
    assert phases(report["sequence"])[:7] == [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "ServiceDetailReq",
        "PaymentServiceSelectionReq",
        "CertificateInstallationReq",
        "PaymentDetailsReq",
    ]
    assert "TLS session TLSv1.2 ECDHE-ECDSA-AES128-SHA256" in logs
    assert f"Plug & Charge contract {EMAID} verified" in logs
    # Issue 21: each request is paired with the response sent for it, not with the
    # part of a signed message encoded to check its signature.
    pairs = {(e["request"], e["response"]) for e in report["exchanges"]}
    assert all(res == req.removesuffix("Req") + "Res" for req, res in pairs if req[0].isupper())
    assert ("CertificateInstallationReq", "CertificateInstallationRes") in pairs


def test_iso20_dc_bpt_plug_and_charge_over_tls13_mutual(iso20_dir, tmp_path):
    report, _, logs = session("iso20-dc-bpt", tmp_path, pki_dir=str(iso20_dir))
    assert report["completed"], logs
    assert "AuthorizationReq" in report["sequence"]
    assert "TLS session TLSv1.3 TLS_AES_256_GCM_SHA384; EV certificate: verified" in logs
    pairs = {(e["request"], e["response"]) for e in report["exchanges"]}
    assert ("AuthorizationReq", "AuthorizationRes") in pairs, pairs
    assert all(res == req.removesuffix("Req") + "Res" for req, res in pairs if req[0].isupper())
    assert f"contract {EMAID} verified to its root" in logs


# -- negative cases: the EV's copy of the PKI carries a broken contract -------------------


def ev_copy(source: Path, target: Path, **replace: Credential | x509.Certificate) -> Path:
    shutil.copytree(source, target)
    store = PkiStore(target)
    for name, item in replace.items():
        role = Role[name]
        if isinstance(item, Credential):
            store.write_credential(role, item, None)
        else:  # a certificate written as is (tampered)
            store.cert_path(role).write_bytes(item.public_bytes(Encoding.PEM))
            store.cert_path(role, "der").write_bytes(item.public_bytes(Encoding.DER))
    store.write_bundles()
    return target


def rejected(protocol: str, pki_dir: Path, ev_dir: Path, work: Path) -> tuple[dict, str]:
    report, charger, logs = session(
        protocol,
        work,
        pki_dir=str(pki_dir),
        ev_pki_dir=str(ev_dir),
        session_timeout_s=NEGATIVE_TIMEOUT_S,
    )
    assert not report["completed"]
    ended = [e for e in charger.get("events", []) if e["type"] == "SessionEnded"]
    assert ended, f"the SECC did not end the session\n{logs}"
    assert "ChargeParameterDiscoveryReq" not in report["sequence"]
    return ended[-1], logs


def test_expired_contract_certificate_is_rejected_in_iso20(iso20_dir, tmp_path):
    store = PkiStore(iso20_dir)
    past = datetime.now(UTC) - timedelta(days=30)
    expired = reissue_leaf(
        PROFILES["iso20"],
        Role.CONTRACT_LEAF,
        store.credential(Role.MO_SUB_CA2, {}),
        past,
        common_name=EMAID,
        validity_days=10,
    )
    ev = ev_copy(iso20_dir, tmp_path / "ev", CONTRACT_LEAF=expired)
    ended, _ = rejected("iso20-dc-bpt", iso20_dir, ev, tmp_path / "run")
    assert "Plug & Charge rejected: expired" in ended["reason"]


def test_contract_without_non_repudiation_has_the_wrong_key_usage(iso20_dir, tmp_path):
    store = PkiStore(iso20_dir)
    profile = PROFILES["iso20"]
    wrong = CertProfile(
        Role.CONTRACT_LEAF,
        False,
        None,
        frozenset({"digital_signature", "key_agreement"}),
        "MO",
        700,
        EMAID,
    )
    key = reissue_leaf(
        profile, Role.CONTRACT_LEAF, store.credential(Role.MO_SUB_CA2, {}), datetime.now(UTC)
    ).key
    cert = issue(
        profile,
        wrong,
        key.public_key(),
        store.credential(Role.MO_SUB_CA2, {}),
        datetime.now(UTC),
        serial_number(),
    )
    ev = ev_copy(iso20_dir, tmp_path / "ev", CONTRACT_LEAF=Credential(cert, key))
    ended, _ = rejected("iso20-dc-bpt", iso20_dir, ev, tmp_path / "run")
    assert "wrong key usage" in ended["reason"]
    assert "content_commitment" in ended["reason"]


def test_contract_chain_to_an_unknown_root_is_rejected_in_iso2(iso2_dir, tmp_path):
    foreign = build_test_pki(PROFILES["iso2"], datetime.now(UTC), emaid=EMAID)
    ev = ev_copy(
        iso2_dir,
        tmp_path / "ev",
        MO_ROOT=foreign[Role.MO_ROOT],
        MO_SUB_CA1=foreign[Role.MO_SUB_CA1],
        MO_SUB_CA2=foreign[Role.MO_SUB_CA2],
        CONTRACT_LEAF=foreign[Role.CONTRACT_LEAF],
    )
    ended, _ = rejected("iso2-ac", iso2_dir, ev, tmp_path / "run")
    assert "Plug & Charge rejected: unknown issuer" in ended["reason"]


def test_contract_with_a_tampered_signature_is_rejected_in_iso2(iso2_dir, tmp_path):
    contract = PkiStore(iso2_dir).certificate(Role.CONTRACT_LEAF)
    der = bytearray(contract.public_bytes(Encoding.DER))
    der[-1] ^= 0x01
    ev = ev_copy(
        iso2_dir, tmp_path / "ev", CONTRACT_LEAF=x509.load_der_x509_certificate(bytes(der))
    )
    ended, _ = rejected("iso2-ac", iso2_dir, ev, tmp_path / "run")
    assert "Plug & Charge rejected: bad signature" in ended["reason"]


def test_ev_offering_no_certificate_in_tls13_is_disconnected(iso20_dir, tmp_path):
    report, _charger, logs = session(
        "iso20-dc-bpt",
        tmp_path,
        pki_dir=str(iso20_dir),
        ev_certificate=False,
        session_timeout_s=20.0,
    )
    assert not report["completed"]
    assert report["requests"] == 0
    assert "ISO 15118-20 requires the EV's certificate and none was offered" in logs


def test_certificate_installation_for_a_foreign_oem_provisioning_certificate_is_refused(
    iso2_dir, tmp_path
):
    foreign = build_test_pki(PROFILES["iso2"], datetime.now(UTC))
    ev = ev_copy(
        iso2_dir,
        tmp_path / "ev",
        OEM_ROOT=foreign[Role.OEM_ROOT],
        OEM_SUB_CA1=foreign[Role.OEM_SUB_CA1],
        OEM_SUB_CA2=foreign[Role.OEM_SUB_CA2],
        OEM_LEAF=foreign[Role.OEM_LEAF],
    )
    report, charger, _ = session(
        "iso2-ac",
        tmp_path / "run",
        pki_dir=str(iso2_dir),
        ev_pki_dir=str(ev),
        cert_install=True,
        session_timeout_s=NEGATIVE_TIMEOUT_S,
    )
    assert not report["completed"]
    assert report["sequence"][-1] == "CertificateInstallationReq"
    ended = [e for e in charger["events"] if e["type"] == "SessionEnded"]
    assert "certificate installation refused: OEM provisioning certificate" in ended[-1]["reason"]


def test_iso20_dc_bpt_plug_and_charge_with_ed448_certificates(tmp_path):
    pki_dir = tmp_path / "pki"
    assert main(["pki", "init", "--profile", "iso20", "--algorithm", "ed448", str(pki_dir)]) == 0
    report, _, logs = session("iso20-dc-bpt", tmp_path / "run", pki_dir=str(pki_dir))
    assert report["completed"], logs
    assert "TLSv1.3" in logs and "EV certificate: verified" in logs
    assert f"contract {EMAID} verified to its root" in logs
