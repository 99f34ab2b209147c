"""Interop with an independent tool: OpenSSL.

Certificates made by the iso15118 package's own script (``create_certs.sh``, OpenSSL
based) verify in ``pki``; certificates made by ``pki`` pass ``openssl verify
-x509_strict`` for every leaf role, profile and key algorithm.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import iso15118
import pytest

from pki.profiles import PROFILES, Role, chain_roles
from pki.store import PkiStore, read_certificates
from pki.testpki import build_test_pki
from pki.verify import verify_chain

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

LEAVES = [Role.SECC_LEAF, Role.CPS_LEAF, Role.CONTRACT_LEAF, Role.OEM_LEAF]


@pytest.fixture(scope="module")
def package_pki(tmp_path_factory) -> PkiStore:
    """The test PKI the iso15118 package's script makes for ISO 15118-2."""
    script_dir = Path(iso15118.__file__).parent / "shared" / "pki"
    work = tmp_path_factory.mktemp("package-pki")
    shutil.copytree(script_dir, work, dirs_exist_ok=True)
    subprocess.run(
        ["bash", "create_certs.sh", "-v", "iso-2"], cwd=work, check=True, capture_output=True
    )
    return PkiStore(work / "iso15118_2")


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda r: r.name)
def test_chains_made_by_the_iso15118_script_verify_in_pki(package_pki, leaf):
    roles = chain_roles(leaf)
    certs = [package_pki.certificate(r) for r in roles]
    verified = verify_chain(
        certs[0], certs[1:-1], certs[-1:], datetime.now(UTC) + timedelta(days=1), role=leaf
    )
    assert verified.anchor == package_pki.certificate(roles[-1])


def test_the_scripts_tls_chain_file_verifies_in_pki(package_pki):
    chain = read_certificates(package_pki.chain_path(Role.SECC_LEAF))
    verify_chain(chain[0], chain[1:], [package_pki.certificate(Role.V2G_ROOT)], datetime.now(UTC))


def test_the_scripts_secc_certificate_is_refused_as_a_contract(package_pki):
    from pki.verify import ChainError

    certs = [package_pki.certificate(r) for r in chain_roles(Role.SECC_LEAF)]
    with pytest.raises(ChainError, match="content_commitment"):
        verify_chain(certs[0], certs[1:-1], certs[-1:], datetime.now(UTC), role=Role.CONTRACT_LEAF)


@pytest.fixture(
    scope="module",
    params=[("iso2", "secp256r1"), ("iso20", "secp521r1"), ("iso20", "ed448")],
    ids="-".join,
)
def pki_folder(request, tmp_path_factory) -> PkiStore:
    name, algorithm = request.param
    store = PkiStore(tmp_path_factory.mktemp(f"{name}-{algorithm}"))
    made = build_test_pki(PROFILES[name], datetime.now(UTC), key_algorithm=algorithm)
    store.write_manifest(name, None)
    for role, credential in made.items():
        store.write_credential(role, credential, None)
    store.write_bundles()
    return store


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda r: r.name)
def test_pki_made_chains_pass_openssl_verify(pki_folder, leaf):
    roles = chain_roles(leaf)
    untrusted = [arg for r in roles[1:-1] for arg in ("-untrusted", str(pki_folder.cert_path(r)))]
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-CAfile",
            str(pki_folder.cert_path(roles[-1])),
            *untrusted,
            str(pki_folder.cert_path(leaf)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_openssl_rejects_a_pki_made_chain_under_a_foreign_root(pki_folder, tmp_path):
    other = build_test_pki(PROFILES["iso2"], datetime.now(UTC))
    foreign = tmp_path / "root.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    foreign.write_bytes(other[Role.V2G_ROOT].certificate.public_bytes(Encoding.PEM))
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(foreign),
            "-untrusted",
            str(pki_folder.chain_path(Role.SECC_LEAF)),
            str(pki_folder.cert_path(Role.SECC_LEAF)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
