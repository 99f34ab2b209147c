"""OCPP security profiles 2 and 3 of ``v2g serve`` against an independent station:
ocpp-rpc (Node, strict mode) over Node's own TLS, with certificates made by
``v2g pki init`` and ``v2g pki issue csms|station``. Each refusal leaves an honest
station, connected meanwhile, working."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ocpp.processes import Service, Station, free_port, node_peer_ready, v2g
from tests.ocpp.tls_files import make_pki

SITE = """
[store]
url = "sqlite+aiosqlite:///{data}/v2g.db"
[api]
port = {api_port}
[ocpp]
listen = "127.0.0.1:{ocpp_port}"
{security}
id_tokens = ["RFID-1"]
contract_roots = ["{pki}/certs/moRootCACert.pem"]
[[charger]]
evse_id = "E1"
station_id = "CS-001"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
"""

PROFILE_2 = """security_profile = 2
tls_cert = "tls/localhost.pem"
tls_key = "tls/localhost.key"
"""
PROFILE_3 = PROFILE_2.replace("= 2", "= 3") + 'client_ca = "pki/certs/v2gRootCACert.pem"\n'

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "Test", "vendorName": "ocpp-rpc"}}


@dataclass
class Site:
    folder: Path
    port: int
    passwords: dict[str, str]

    def url(self, scheme: str = "wss") -> str:
        return f"{scheme}://localhost:{self.port}/ocpp"

    def tls(self, name: str | None = None, folder: Path | None = None) -> dict[str, str]:
        """The peer's TLS files: the CSMS CA and, given ``name``, that station's own
        certificate (from ``folder``, default this site's)."""
        env = {"OCPP_CA": str(self.folder / "pki" / "certs" / "v2gRootCACert.pem")}
        if name is not None:
            tls = (folder or self.folder) / "tls"
            env |= {"OCPP_CERT": str(tls / f"{name}.pem"), "OCPP_KEY": str(tls / f"{name}.key")}
        return env


def pki(folder: Path, *names: str) -> None:
    made = v2g("pki", "init", "--profile", "iso2", str(folder / "pki"))
    assert made.returncode == 0, made.stderr
    for kind, option, name in [("csms", "--host", "localhost")] + [
        ("station", "--station-id", n) for n in names
    ]:
        issued = v2g(
            "pki", "issue", kind, "--pki", str(folder / "pki"), option, name,
            "--out", str(folder / "tls"),
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr


def serve(folder: Path, security: str, by_command: bool) -> Iterator[Site]:
    """``v2g serve`` with ``security``; its PKI made by the ``v2g pki`` commands or,
    quicker, by the same functions in process."""
    node_peer_ready()
    if by_command:
        pki(folder, "CS-001", "CS-002")
    else:
        make_pki(folder, ("localhost", "CS-001", "CS-002"))
    api_port, ocpp_port = free_port(), free_port()
    config = folder / "site.toml"
    config.write_text(
        SITE.format(
            data=folder / "data",
            api_port=api_port,
            ocpp_port=ocpp_port,
            security=security,
            pki=folder / "pki",
        )
    )
    passwords = {}
    for station_id in ("CS-001", "CS-002"):
        done = v2g("station", "create", "--id", station_id, "--config", str(config))
        assert done.returncode == 0, done.stderr
        passwords[station_id] = done.stdout.strip()
    service = Service(config, api_port, folder / "serve.log")
    try:
        yield Site(folder, ocpp_port, passwords)
    finally:
        service.stop()


@pytest.fixture(scope="module")
def profile_3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve(tmp_path_factory.mktemp("profile3"), PROFILE_3, by_command=True)


@pytest.fixture(scope="module")
def profile_2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve(tmp_path_factory.mktemp("profile2"), PROFILE_2, by_command=False)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stranger")
    make_pki(folder, ("CS-001",))
    return folder


def test_profile_3_a_strict_station_boots_with_its_certificate_and_is_authorized(
    profile_3: Site,
) -> None:
    """A00.FR.401-405 with an independent TLS stack; Authorize (C01) in strict mode."""
    peer = Station(profile_3.url(), "CS-001", "", "ocpp2.0.1", env=profile_3.tls("CS-001"))
    try:
        assert peer.opened == {"event": "open", "protocol": "ocpp2.0.1"}, peer.opened
        assert peer.call("BootNotification", BOOT)["result"]["status"] == "Accepted"
        rfid = {"idToken": {"idToken": "RFID-1", "type": "ISO14443"}}
        answer = peer.call("Authorize", rfid)
        assert answer["result"]["idTokenInfo"]["status"] == "Accepted", answer
        unknown = {"idToken": {"idToken": "RFID-9", "type": "ISO14443"}}
        assert peer.call("Authorize", unknown)["result"]["idTokenInfo"]["status"] == "Unknown"
        certs = profile_3.folder / "pki" / "certs"
        chain = (certs / "contractLeafCert.pem").read_text() + (
            certs / "intermediateMOCACerts.pem"
        ).read_text()
        contract = {
            "idToken": {"idToken": "DE-V2G-C12345678-9", "type": "eMAID"},
            "certificate": chain,
        }
        answer = peer.call("Authorize", contract)
        assert answer["result"] == {
            "idTokenInfo": {"status": "Accepted"},
            "certificateStatus": "Accepted",
        }, answer
        installation = {
            "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
            "action": "Install",
            "exiRequest": "gJgCEA==",
        }
        answer = peer.call("Get15118EVCertificate", installation)
        assert answer["result"]["status"] == "Failed", answer  # no provider on this site
        assert not [e for e in peer.seen if e["event"] == "invalid"]
    finally:
        peer.close()


def test_profile_3_refuses_another_stations_certificate_a_foreign_one_none_and_plain_ws(
    profile_3: Site, stranger: Path
) -> None:
    """A00.FR.405 (CS-002's certificate on CS-001's URL: 401), A00.FR.403/407 (another
    PKI's certificate, no certificate even with the right password: no handshake),
    A00.FR.002 (plain ws: no connection); the honest CS-001 keeps working."""
    honest = Station(profile_3.url(), "CS-001", "", "ocpp2.1", env=profile_3.tls("CS-001"))
    try:
        assert honest.opened["event"] == "open", honest.opened
        attempts = [
            (profile_3.url(), "", profile_3.tls("CS-002"), 401),
            (profile_3.url(), "", profile_3.tls("CS-001", folder=stranger), None),
            (profile_3.url(), profile_3.passwords["CS-001"], profile_3.tls(), None),
            (profile_3.url("ws"), profile_3.passwords["CS-001"], {}, None),
        ]
        for url, password, env, status in attempts:
            impostor = Station(url, "CS-001", password, "ocpp2.1", env=env)
            impostor.close()
            assert impostor.opened["event"] in ("error", "close"), (env, impostor.opened)
            if status is not None:
                assert impostor.opened["status"] == status
        assert honest.call("Heartbeat", {})["event"] == "result"
    finally:
        honest.close()
    log = (profile_3.folder / "serve.log").read_text()
    assert "station CS-001 refused: the certificate is for 'CS-002'" in log


def test_profile_2_basic_auth_over_tls_binds_the_password_to_the_station(
    profile_2: Site,
) -> None:
    honest = Station(
        profile_2.url(), "CS-001", profile_2.passwords["CS-001"], "ocpp2.0.1", env=profile_2.tls()
    )
    try:
        assert honest.opened["event"] == "open", honest.opened
        assert honest.call("BootNotification", BOOT)["result"]["status"] == "Accepted"
        other = Station(
            profile_2.url(),
            "CS-001",
            profile_2.passwords["CS-002"],
            "ocpp2.1",
            env=profile_2.tls(),
        )
        other.close()
        assert other.opened["event"] == "error" and other.opened["status"] == 401
        plain = Station(profile_2.url("ws"), "CS-001", profile_2.passwords["CS-001"], "ocpp2.1")
        plain.close()
        assert plain.opened["event"] in ("error", "close")
        assert honest.call("Heartbeat", {})["event"] == "result"
    finally:
        honest.close()


def test_our_own_station_reports_to_v2g_serve_over_profile_3(
    profile_3: Site, tmp_path: Path
) -> None:
    """The station side of ``v2g secc`` (profile 3, its certificate from
    ``v2g pki issue station``) against the real ``v2g serve``: its queued session
    events are answered, so the queue empties."""
    import asyncio
    import contextlib
    from datetime import UTC, datetime

    from v2g.clock import SystemClock
    from v2g.ocpp.charging_station import ChargingStationLink
    from v2g.ocpp.config import TlsFiles
    from v2g.ocpp.frames import OcppVersion
    from v2g.ocpp.station_config import OcppStationConfig
    from v2g.session import SessionEnded, SessionStarted

    tls = profile_3.tls("CS-001")
    config = OcppStationConfig(
        csms_url=profile_3.url(),
        station_id="CS-001",
        password_file=None,
        version=OcppVersion.V21,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1},
        security_profile=3,
        tls=TlsFiles(Path(tls["OCPP_CERT"]), Path(tls["OCPP_KEY"]), Path(tls["OCPP_CA"])),
    )

    async def run() -> int:
        link = ChargingStationLink(config, "", {}, SystemClock())
        now = datetime.now(UTC)
        link(SessionStarted("E1", "own-1", now, "00:11:22:33:44:55", "ISO15118-2"))
        link(SessionEnded("E1", "own-1", now, "EVDeparted"))
        task = asyncio.create_task(link.run())
        try:
            async with asyncio.timeout(20):
                while len(link.queue) or not link.online:
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return len(link.queue)

    assert asyncio.run(run()) == 0
    assert "station CS-001 connected (ocpp2.1)" in (profile_3.folder / "serve.log").read_text()


def test_pki_issue_for_ocpp_says_what_is_missing(tmp_path: Path) -> None:
    made = v2g("pki", "init", "--profile", "iso2", str(tmp_path / "pki"))
    assert made.returncode == 0, made.stderr
    for args, reason in [
        (["station", "--out", str(tmp_path / "tls")], "needs --station-id"),
        (["csms", "--host", "localhost"], "needs --out"),
        (["station", "--station-id", "../CS", "--out", str(tmp_path)], "cannot name"),
    ]:
        done = v2g("pki", "issue", *args[:1], "--pki", str(tmp_path / "pki"), *args[1:])
        assert done.returncode == 2 and reason in done.stderr, done.stderr
    assert not (tmp_path / "tls").exists()
