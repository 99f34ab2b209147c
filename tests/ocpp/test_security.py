"""OCPP security profiles 2 and 3 (OCPP 2.0.1 Part 2, A00) over real TLS on loopback:
the CSMS of ``v2g serve`` (``serving``) and our station side (``ChargingStationLink``),
certificates from the project's ``pki``. Each refusal leaves an honest station that is
already connected working."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket as sockets
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.ocpp.tls_files import OcppPki, make_pki
from v2g.config import ConfigError
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.security import TLS12_CIPHERS, TlsFiles, station_context
from v2g.ocpp.station import StationEvse
from v2g.ocpp.station_config import OcppStationConfig
from v2g.session import SessionEvent, SessionStarted
from v2g.testing import FakeClock
from v2g.testing.stations import StaticCredentials

PASSWORDS = {"CS-1": "password-of-cs-1!", "CS-2": "password-of-cs-2!"}
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


@pytest.fixture(scope="module")
def cso(tmp_path_factory: pytest.TempPathFactory) -> OcppPki:
    return make_pki(tmp_path_factory.mktemp("cso"), ("localhost", "CS-1", "CS-2"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> OcppPki:
    """Another PKI, whose certificates carry the right names but no trusted chain."""
    return make_pki(tmp_path_factory.mktemp("stranger"), ("localhost", "CS-1"))


def free_port() -> int:
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Site:
    """A CSMS serving ``profile`` on a free loopback port."""

    def __init__(self, profile: int, tls: TlsFiles, organization: str | None = None) -> None:
        self.port = free_port()
        self.events: list[SessionEvent] = []
        config = OcppSiteConfig(
            "127.0.0.1",
            self.port,
            security_profile=profile,
            stations={"CS-1": {1: StationEvse("E1", 1, 11000)}},
            tls=tls,
            organization=organization,
        )
        self.csms = Csms(
            config,
            StaticCredentials(PASSWORDS),
            self.events.append,
            FakeClock(datetime.now(UTC)),
        )

    def url(self, station_id: str, scheme: str = "wss", host: str = "localhost") -> str:
        return f"{scheme}://{host}:{self.port}/ocpp/{station_id}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.asynccontextmanager
async def running(site: Site) -> AsyncIterator[Site]:
    async with serving(site.csms, "127.0.0.1", site.port):
        yield site


async def stopped(task: asyncio.Task[None]) -> None:
    """Cancelled and finished, so its connection is closed inside the loop."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def basic(station_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client(pki: OcppPki, name: str | None = None, ca: Path | None = None) -> ssl.SSLContext:
    """A station's context: trusts ``ca`` (default ``pki``'s root), presents ``name``'s
    certificate from ``pki`` when given."""
    files = TlsFiles(
        pki.chain(name) if name else None,
        pki.key(name) if name else None,
        ca or pki.root,
    )
    context = station_context(3 if name else 2, files, {})
    assert context is not None
    return context


async def boots(socket: aiohttp.ClientWebSocketResponse) -> bool:
    await socket.send_str(json.dumps([2, "b", "BootNotification", BOOT]))
    answer = json.loads(await socket.receive_str(timeout=5))
    return bool(answer[0] == 3 and answer[2]["status"] == "Accepted")


async def refused(connecting: Any) -> BaseException:
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)) as caught:
        socket = await connecting
        await socket.close()
    return caught.value


# -- profile 2: TLS with basic authentication --------------------------------------


@pytest.fixture
async def profile_2(cso: OcppPki) -> AsyncIterator[Site]:
    site = Site(2, TlsFiles(cso.chain("localhost"), cso.key("localhost")))
    async with running(site):
        yield site


async def test_profile_2_a_station_with_its_own_password_connects_over_tls_1_2_or_above(
    profile_2: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.306/307 (the CSMS is the TLS server with its certificate), A00.FR.313
    (TLS 1.2 or above), A00.FR.318 (an ECDHE-ECDSA AES-GCM suite)."""
    socket = await http.ws_connect(
        profile_2.url("CS-1"),
        protocols=("ocpp2.0.1",),
        headers=basic("CS-1", PASSWORDS["CS-1"]),
        ssl=client(cso),
    )
    tls = socket.get_extra_info("ssl_object")
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert await boots(socket)
    await socket.close()


async def test_profile_2_a_tls_1_2_station_gets_an_aead_suite(
    profile_2: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.318/319: the ECDHE-ECDSA AES-GCM suites, nothing weaker."""
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"):
        context = client(cso)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(suite)
        socket = await http.ws_connect(
            profile_2.url("CS-1"),
            protocols=("ocpp2.0.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=context,
        )
        assert socket.get_extra_info("ssl_object").cipher()[0] == suite
        await socket.close()
    weak = client(cso)
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("ECDHE-ECDSA-AES128-SHA256")  # CBC: not an OCPP suite
    await refused(
        http.ws_connect(
            profile_2.url("CS-1"),
            protocols=("ocpp2.0.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=weak,
        )
    )
    assert "CBC" not in TLS12_CIPHERS and "SHA:" not in TLS12_CIPHERS + ":"


async def test_profile_2_another_stations_password_is_refused_and_the_honest_one_stays(
    profile_2: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """Profile 2 binds basic auth to the URL's station id (as A00.FR.204 for 1)."""
    honest = await http.ws_connect(
        profile_2.url("CS-1"),
        protocols=("ocpp2.0.1",),
        headers=basic("CS-1", PASSWORDS["CS-1"]),
        ssl=client(cso),
    )
    for url_id, user, password in [
        ("CS-1", "CS-1", PASSWORDS["CS-2"]),  # another station's password
        ("CS-1", "CS-2", PASSWORDS["CS-2"]),  # another station's credentials
        ("CS-2", "CS-1", PASSWORDS["CS-1"]),  # its own credentials, another's URL
    ]:
        error = await refused(
            http.ws_connect(
                profile_2.url(url_id),
                protocols=("ocpp2.0.1",),
                headers=basic(user, password),
                ssl=client(cso),
            )
        )
        assert isinstance(error, aiohttp.WSServerHandshakeError) and error.status == 401
    assert await boots(honest)
    await honest.close()


async def test_plain_ws_to_a_tls_only_csms_never_reaches_the_upgrade(
    profile_2: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.002: a station using another profile (1: plain ws) is not accepted."""
    honest = await http.ws_connect(
        profile_2.url("CS-1"),
        protocols=("ocpp2.0.1",),
        headers=basic("CS-1", PASSWORDS["CS-1"]),
        ssl=client(cso),
    )
    error = await refused(
        http.ws_connect(
            profile_2.url("CS-1", scheme="ws"),
            protocols=("ocpp2.0.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
        )
    )
    assert not isinstance(error, aiohttp.WSServerHandshakeError)  # no HTTP answer at all
    assert await boots(honest)
    await honest.close()


async def test_a_station_refuses_a_csms_it_cannot_verify(
    profile_2: Site, cso: OcppPki, stranger: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.307/309/310: the certification path to the configured CA; A00.FR.308 and
    A00.FR.510: the certificate names the host the station dials."""
    untrusted = await refused(
        http.ws_connect(
            profile_2.url("CS-1"),
            protocols=("ocpp2.0.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=client(cso, ca=stranger.root),
        )
    )
    assert "certificate verify failed" in str(untrusted)
    wrong_host = await refused(
        http.ws_connect(
            profile_2.url("CS-1", host="127.0.0.1"),
            protocols=("ocpp2.0.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=client(cso),
        )
    )
    assert "certificate verify failed" in str(wrong_host)


# -- profile 3: TLS with client certificates ---------------------------------------


@pytest.fixture
async def profile_3(cso: OcppPki) -> AsyncIterator[Site]:
    site = Site(3, TlsFiles(cso.chain("localhost"), cso.key("localhost"), cso.root))
    async with running(site):
        yield site


async def test_profile_3_a_station_is_its_client_certificate(
    profile_3: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.401/402 (the station's certificate as TLS client certificate, no basic
    auth), A00.FR.403 (path to the CA), A00.FR.405 (CN = the station id)."""
    socket = await http.ws_connect(
        profile_3.url("CS-1"), protocols=("ocpp2.1",), ssl=client(cso, "CS-1")
    )
    assert await boots(socket)
    await socket.close()


async def test_profile_3_another_stations_certificate_opens_only_its_own_url(
    profile_3: Site, cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.405: CS-2's valid certificate does not make it CS-1, even with CS-1's
    password; the honest CS-1 keeps its connection."""
    honest = await http.ws_connect(
        profile_3.url("CS-1"), protocols=("ocpp2.1",), ssl=client(cso, "CS-1")
    )
    error = await refused(
        http.ws_connect(
            profile_3.url("CS-1"),
            protocols=("ocpp2.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=client(cso, "CS-2"),
        )
    )
    assert isinstance(error, aiohttp.WSServerHandshakeError) and error.status == 401
    assert await boots(honest)
    await honest.close()


async def test_profile_3_refuses_a_certificate_from_another_pki_and_no_certificate(
    profile_3: Site, cso: OcppPki, stranger: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.403/407: a certificate that does not chain to the CA ends the handshake;
    so does none at all, with the right password (a downgrade to profile 2:
    A00.FR.002). The honest station stays connected."""
    honest = await http.ws_connect(
        profile_3.url("CS-1"), protocols=("ocpp2.1",), ssl=client(cso, "CS-1")
    )
    foreign = client(stranger, "CS-1", ca=cso.root)
    error = await refused(
        http.ws_connect(profile_3.url("CS-1"), protocols=("ocpp2.1",), ssl=foreign)
    )
    assert not isinstance(error, aiohttp.WSServerHandshakeError)
    downgrade = await refused(
        http.ws_connect(
            profile_3.url("CS-1"),
            protocols=("ocpp2.1",),
            headers=basic("CS-1", PASSWORDS["CS-1"]),
            ssl=client(cso),
        )
    )
    assert not isinstance(downgrade, aiohttp.WSServerHandshakeError)
    assert await boots(honest)
    await honest.close()


async def test_profile_3_checks_the_cso_name_when_configured(
    cso: OcppPki, http: aiohttp.ClientSession
) -> None:
    """A00.FR.404: the O of the station's certificate names the CSO."""
    files = TlsFiles(cso.chain("localhost"), cso.key("localhost"), cso.root)
    for organization, accepted in (("v2g test PKI", True), ("Another CSO", False)):
        site = Site(3, files, organization=organization)
        async with running(site):
            connecting = http.ws_connect(
                site.url("CS-1"), protocols=("ocpp2.1",), ssl=client(cso, "CS-1")
            )
            if accepted:
                await (await connecting).close()
            else:
                error = await refused(connecting)
                assert isinstance(error, aiohttp.WSServerHandshakeError)
                assert error.status == 401


def test_a_csms_without_its_certificate_files_says_which_are_missing(
    cso: OcppPki, tmp_path: Path
) -> None:
    site = Site(3, TlsFiles(tmp_path / "missing.pem", cso.key("localhost"), cso.root))

    async def start() -> None:
        async with running(site):
            pass

    with pytest.raises(ConfigError, match=r"missing\.pem"):
        asyncio.run(start())


# -- our own station side ----------------------------------------------------------


def station_config(site: Site, pki: OcppPki, tmp_path: Path, profile: int) -> OcppStationConfig:
    name = "CS-1" if profile == 3 else None
    return OcppStationConfig(
        csms_url=f"wss://localhost:{site.port}/ocpp",
        station_id="CS-1",
        password_file=None,
        version=OcppVersion.V21,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1},
        security_profile=profile,
        tls=TlsFiles(pki.chain(name) if name else None, pki.key(name) if name else None, pki.root),
    )


@pytest.mark.parametrize("profile", [2, 3])
async def test_our_station_reports_a_session_over_profile(
    profile: int, cso: OcppPki, tmp_path: Path
) -> None:
    files = TlsFiles(cso.chain("localhost"), cso.key("localhost"))
    site = Site(profile, files if profile == 2 else replace(files, ca=cso.root))
    link = ChargingStationLink(
        station_config(site, cso, tmp_path, profile),
        PASSWORDS["CS-1"] if profile == 2 else "",
        {},
        FakeClock(datetime.now(UTC)),
    )
    async with running(site):
        link(SessionStarted("E1", "s-1", datetime.now(UTC), "EVCC-1", "ISO15118-20"))
        task = asyncio.create_task(link.run())
        try:
            async with asyncio.timeout(10):
                while not any(isinstance(e, SessionStarted) for e in site.events):
                    await asyncio.sleep(0.05)
        finally:
            await stopped(task)
    assert len(link.queue) == 0


def test_a_tls_station_config_never_falls_back_to_plain_ws(tmp_path: Path) -> None:
    """A00.FR.001/003/005: the station's profile is fixed in its file; a wss://
    profile with a ws:// URL, or profile 3 without its certificate, is refused."""
    from v2g.ocpp.station_config import split_ocpp

    base = {
        "csms_url": "ws://csms.example:9000/ocpp",
        "station_id": "CS-1",
        "queue_dir": "q",
        "password_file": "pw",
    }
    _, config, problems = split_ocpp({"ocpp": {**base, "security_profile": 2}}, tmp_path)
    assert config is None
    assert any("security profile 2 connects to wss://" in p for p in problems)
    assert any("ca_file" in p for p in problems)
    _, config, problems = split_ocpp(
        {"ocpp": {**base, "csms_url": "wss://h/ocpp", "security_profile": 3, "ca_file": "ca"}},
        tmp_path,
    )
    assert config is None
    assert any("client_cert" in p for p in problems) and any("client_key" in p for p in problems)


def test_an_encrypted_csms_key_needs_its_passphrase_variable(cso: OcppPki, tmp_path: Path) -> None:
    from pki.keys import load_private_key, private_key_pem
    from v2g.ocpp.security import TlsConfigError, csms_context

    key = load_private_key(cso.key("localhost").read_bytes(), None)
    encrypted = tmp_path / "localhost.key"
    encrypted.write_bytes(private_key_pem(key, b"passphrase-1"))
    files = TlsFiles(cso.chain("localhost"), encrypted, None, "CSMS_KEY_PASSPHRASE")
    assert csms_context(2, files, {"CSMS_KEY_PASSPHRASE": "passphrase-1"}) is not None
    with pytest.raises(TlsConfigError, match="CSMS_KEY_PASSPHRASE"):
        csms_context(2, files, {})
    with pytest.raises(TlsConfigError, match="cannot load"):
        csms_context(2, files, {"CSMS_KEY_PASSPHRASE": "wrong"})


def test_a_charger_file_with_profile_3_and_missing_certificates_says_so(
    cso: OcppPki, tmp_path: Path
) -> None:
    """``v2g secc --config`` refuses it before anything starts, naming the file."""
    from v2g.ocpp.charging_station import load_charger
    from v2g.secc.config import ConfigError as SeccConfigError

    charger = tmp_path / "charger.toml"
    charger.write_text(
        f"""
[[evse]]
evse_id = "E1"
interface = "lo"
current = "dc"
max_charge_power_w = 11000
[ocpp]
csms_url = "wss://localhost:9000/ocpp"
station_id = "CS-1"
queue_dir = "queue"
security_profile = 3
ca_file = "{cso.root}"
client_cert = "missing.pem"
client_key = "{cso.key("CS-1")}"
"""
    )
    with pytest.raises(SeccConfigError) as raised:
        load_charger(charger)
    assert any("missing.pem" in p for p in raised.value.problems)
    charger.write_text(charger.read_text().replace("missing.pem", str(cso.chain("CS-1"))))
    _, ocpp, password = load_charger(charger)
    assert ocpp is not None and ocpp.security_profile == 3 and password == ""


async def test_a_station_that_cannot_verify_the_csms_reports_it_when_it_can(
    cso: OcppPki, stranger: OcppPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A00.FR.309/310: no connection to a CSMS whose certificate does not verify, and an
    InvalidCsmsCertificate security event (A04) queued; it reaches the CSMS once the
    station trusts the right CA."""
    site = Site(2, TlsFiles(cso.chain("localhost"), cso.key("localhost")))
    right = station_config(site, cso, tmp_path, 2)
    wrong = replace(right, tls=replace(right.tls, ca=stranger.root))
    clock = FakeClock(datetime.now(UTC))
    async with running(site):
        fooled = ChargingStationLink(wrong, PASSWORDS["CS-1"], {}, clock)
        task = asyncio.create_task(fooled.run())
        try:
            async with asyncio.timeout(10):
                while not len(fooled.queue):
                    await asyncio.sleep(0.02)
        finally:
            await stopped(task)
        assert not fooled.online
        head = fooled.queue.head()
        assert head is not None and head[0] == "SecurityEventNotification"
        assert head[1]["type"] == "InvalidCsmsCertificate"
        honest = ChargingStationLink(right, PASSWORDS["CS-1"], {}, clock)
        task = asyncio.create_task(honest.run())
        try:
            async with asyncio.timeout(10):
                while len(honest.queue):
                    await asyncio.sleep(0.02)
        finally:
            await stopped(task)
    assert "station CS-1 security event InvalidCsmsCertificate" in caplog.text
