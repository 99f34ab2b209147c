"""OpenADR 2.0b security with a real openleadr VTN: mutual TLS and signed messages
checked against certificate fingerprints. A VTN whose signature does not match the
fingerprint the VEN was given is not listened to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openleadr import OpenADRServer
from openleadr.service import VTNService

from tests.openadr.certs import ThrowawayPki
from tests.openadr.support import eventually, free_port
from v2g.openadr.ven import Oadr2Ven, VenConfig

#: openleadr keeps a VTN's signing key, signature policy and VEN lookup on the
#: VTNService class; a signing VTN in one test must not leak into the next.
_CLASS_STATE = ("_create_message", "verify_message_signatures", "ven_lookup")


@pytest.fixture
def isolated_vtn_service() -> Iterator[None]:
    saved = {
        name: VTNService.__dict__[name] for name in _CLASS_STATE if name in VTNService.__dict__
    }
    yield
    for name in _CLASS_STATE:
        if name in saved:
            setattr(VTNService, name, saved[name])
        elif name in VTNService.__dict__:
            delattr(VTNService, name)


@pytest.fixture
def pki(tmp_path) -> ThrowawayPki:
    return ThrowawayPki(tmp_path)


@pytest.fixture
async def secure_vtn(
    pki, isolated_vtn_service
) -> AsyncIterator[tuple[OpenADRServer, str, dict[str, list[str]]]]:
    vtn = pki.issue("vtn", server=True)
    ven = pki.issue("ven")
    port = free_port()
    opts: dict[str, list[str]] = {}

    def ven_lookup(ven_id: str) -> dict[str, Any]:
        return {
            "ven_id": "ven-1",
            "ven_name": "v2g-fleet",
            "fingerprint": ven.fingerprint,
            "registration_id": "reg-1",
        }

    server = OpenADRServer(
        vtn_id="VTN-TLS",
        cert=str(vtn.cert),
        key=str(vtn.key),
        http_cert=str(vtn.cert),
        http_key=str(vtn.key),
        http_ca_file=str(pki.ca_file),
        http_host="127.0.0.1",
        http_port=port,
        requested_poll_freq=timedelta(seconds=1),
        ven_lookup=ven_lookup,
        show_fingerprint=False,
    )

    async def on_create_party_registration(info: dict[str, Any]) -> tuple[str, str] | bool:
        # The VTN admits the VEN whose client certificate it knows.
        return ("ven-1", "reg-1") if info.get("fingerprint") == ven.fingerprint else False

    server.add_handler("on_create_party_registration", on_create_party_registration)
    await server.run()
    server.add_event(
        "ven-1",
        "LOAD_DISPATCH",
        "setpoint",
        [
            {
                "dtstart": datetime.now(UTC),
                "duration": timedelta(minutes=10),
                "signal_payload": -5.0,
            }
        ],
        callback=lambda ven_id, event_id, opt_type: opts.setdefault(event_id, []).append(opt_type),
        event_id="evt-tls",
    )
    yield server, f"https://127.0.0.1:{port}/OpenADR2/Simple/2.0b", opts
    await server.stop()


def config(pki: ThrowawayPki, url: str, vtn_fingerprint: str) -> VenConfig:
    """The VEN with the client certificate the VTN knows (issued by ``secure_vtn``)."""
    return VenConfig(
        url,
        "v2g-fleet",
        poll_interval_s=1,
        cert_path=str(pki.folder / "ven.pem"),
        key_path=str(pki.folder / "ven.key"),
        ca_file=str(pki.ca_file),
        vtn_fingerprint=vtn_fingerprint,
        report_sampling_s=1,
    )


async def test_over_mutual_tls_with_signed_messages_the_ven_registers_and_opts_in(
    pki, secure_vtn, fleet_site
):
    _, url, opts = secure_vtn
    _, intake = fleet_site
    ven = Oadr2Ven(config(pki, url, _vtn_fp(pki)), intake)
    await ven.start()
    try:
        assert ven.registered
        await eventually(lambda: opts.get("evt-tls"))
        assert opts["evt-tls"] == ["optIn"]
    finally:
        await ven.stop()


async def test_a_vtn_signing_with_another_certificate_is_not_listened_to(
    pki, secure_vtn, fleet_site
):
    _, url, opts = secure_vtn
    _, intake = fleet_site
    impostor = pki.issue("impostor", server=True)
    ven = Oadr2Ven(config(pki, url, impostor.fingerprint), intake)
    await ven.start()
    try:
        assert not ven.registered
        assert "not registered" in ven.status
        assert any("not registered" in note for note in intake.channel_notes())
        await asyncio.sleep(1.5)
        assert "evt-tls" not in opts and not intake.aggregator.state.events.events
    finally:
        await ven.stop()


def _vtn_fp(pki: ThrowawayPki) -> str:
    from openleadr.utils import certificate_fingerprint

    return str(certificate_fingerprint((pki.folder / "vtn.pem").read_text()))
