"""A real EV's ISO 15118-2 contract installation through OCPP: the iso15118 EVCC in
one network namespace, the product's SECC (TLS 1.2, Plug & Charge) in the other, the
SECC forwarding the CertificateInstallationReq as Get15118EVCertificate to a CSMS
whose contract provider is the same ``v2g pki init`` folder; the EV then charges with
Plug & Charge."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_loopback import phases
from tests.integration.test_loopback_pki import EMAID, session
from v2g.cli import main

pytestmark = pytest.mark.netns


def test_iso2_certificate_installation_answered_by_the_csms_over_ocpp(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert main(["pki", "init", "--profile", "iso2", str(pki)]) == 0
    work = tmp_path / "work"
    work.mkdir()
    report, _charger, logs = session(
        "iso2-ac", work, pki_dir=str(pki), cert_install=True, ocpp_installation=True
    )
    assert report["completed"], logs
    assert phases(report["sequence"])[5:7] == ["CertificateInstallationReq", "PaymentDetailsReq"]
    assert f"contract {EMAID} issued for an EV" in logs  # by the CSMS's provider
    assert "contract certificate installation answered by the CSMS" in logs
    assert f"Plug & Charge contract {EMAID} verified" in logs
