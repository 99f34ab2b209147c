"""``v2g pki``: exit 0 when fine, 1 when a chain is rejected, 2 with a reason on bad input."""

from __future__ import annotations

import pytest

from v2g.cli import main


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki") / "iso2"
    assert main(["pki", "init", "--profile", "iso2", str(folder)]) == 0
    return folder


def test_init_writes_a_pki_whose_secc_chain_verifies(pki_dir, capsys):
    chain = pki_dir / "certs" / "cpoCertChain.pem"
    status = main(
        [
            "pki",
            "verify",
            str(chain),
            "--pki",
            str(pki_dir),
            "--role",
            "secc",
            "--evse-id",
            "DE*V2G*E0001",
        ]
    )
    assert status == 0
    assert "OK" in capsys.readouterr().out


def test_verify_rejects_a_chain_at_a_time_after_expiry_with_exit_1(pki_dir, capsys):
    chain = pki_dir / "certs" / "cpoCertChain.pem"
    status = main(["pki", "verify", str(chain), "--pki", str(pki_dir), "--at", "2099-01-01"])
    assert status == 1
    assert "REJECTED (EXPIRED)" in capsys.readouterr().out


def test_verify_rejects_a_secc_certificate_for_another_evse(pki_dir, capsys):
    chain = pki_dir / "certs" / "cpoCertChain.pem"
    status = main(["pki", "verify", str(chain), "--pki", str(pki_dir), "--evse-id", "DE*X*E9"])
    assert status == 1
    assert "SUBJECT" in capsys.readouterr().out


def test_issue_contract_then_verify_it_as_a_contract(pki_dir, capsys):
    assert (
        main(["pki", "issue", "contract", "--pki", str(pki_dir), "--emaid", "NL-ABC-000000001"])
        == 0
    )
    chain = pki_dir / "chain.pem"
    certs = pki_dir / "certs"
    chain.write_bytes(
        (certs / "contractLeafCert.pem").read_bytes()
        + (certs / "intermediateMOCACerts.pem").read_bytes()
    )
    assert main(["pki", "verify", str(chain), "--pki", str(pki_dir), "--role", "contract"]) == 0
    assert "NLABC000000001" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["pki", "issue", "contract", "--emaid", "nonsense"], "not an EMAID"),
        (["pki", "issue", "secc"], "needs --evse-id"),
        (["pki", "verify", "/nonexistent.pem", "--anchor", "/nonexistent.pem"], "cannot read"),
        (["pki", "verify", "CHAIN"], "trust anchors"),
        (["pki", "verify", "CHAIN", "--at", "yesterday", "--pki", "DIR"], "ISO 8601"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_reason(pki_dir, capsys, argv, reason):
    argv = [
        a.replace("CHAIN", str(pki_dir / "certs" / "cpoCertChain.pem")).replace(
            "DIR", str(pki_dir)
        )
        for a in argv
    ]
    if argv[1] == "issue":
        argv += ["--pki", str(pki_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert reason in err
    assert len(err.strip().splitlines()) == 1


def test_init_refuses_to_overwrite_without_force(pki_dir, capsys):
    assert main(["pki", "init", "--profile", "iso2", str(pki_dir)]) == 2
    assert "--force" in capsys.readouterr().err


def test_init_encrypts_keys_when_the_passphrase_variable_is_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("V2G_PKI_PASSPHRASE", "s3cret")
    assert main(["pki", "init", "--profile", "iso20", "--algorithm", "ed448", str(tmp_path)]) == 0
    assert b"ENCRYPTED" in (tmp_path / "private_keys" / "seccLeaf.key").read_bytes()
    monkeypatch.delenv("V2G_PKI_PASSPHRASE")
    assert main(["pki", "issue", "secc", "--pki", str(tmp_path), "--evse-id", "DE*V2G*E2"]) == 2
    assert "V2G_PKI_PASSPHRASE" in capsys.readouterr().err


def test_iso2_profile_refuses_ed448(tmp_path, capsys):
    assert main(["pki", "init", "--profile", "iso2", "--algorithm", "ed448", str(tmp_path)]) == 2
    assert "secp256r1" in capsys.readouterr().err


def test_verify_with_a_crl_listing_the_secc_certificate_exits_1(pki_dir, tmp_path, capsys):
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from pki.profiles import Role
    from pki.store import PkiStore

    store = PkiStore(pki_dir)
    issuer = store.credential(Role.CPO_SUB_CA2, {})
    now = datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now)
        .next_update(now + timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(store.certificate(Role.SECC_LEAF).serial_number)
            .revocation_date(now)
            .build()
        )
        .sign(issuer.key, hashes.SHA256())
    )
    (tmp_path / "cpo.crl").write_bytes(crl.public_bytes(Encoding.PEM))
    chain = str(pki_dir / "certs" / "cpoCertChain.pem")
    status = main(
        ["pki", "verify", chain, "--pki", str(pki_dir), "--crl", str(tmp_path / "cpo.crl")]
    )
    assert status == 1
    assert "REJECTED (REVOKED)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--protocol", "iso2-ac", "--cert-install"], "need pki_dir"),
        (["--protocol", "iso20-dc-bpt", "--cert-install", "--pki", "DIR"], "ISO 15118-2 only"),
    ],
)
def test_loopback_plug_and_charge_options_are_checked_before_any_session(
    pki_dir, capsys, argv, reason
):
    argv = [a.replace("DIR", str(pki_dir)) for a in argv]
    assert main(["loopback", *argv]) == 2
    assert reason in capsys.readouterr().err


def test_pki_package_exports_its_public_api():
    import pki

    assert sorted(pki.__all__) == sorted(
        [
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
    )
