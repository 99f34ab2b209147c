"""The site file's ``[openadr]`` table (v2g.openadr.config): what a utility link is
configured with, and every mistake named at once, nothing half-configured."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from v2g.config import ConfigError
from v2g.openadr.config import Oadr3Site, parse_openadr_site
from v2g.openadr.signals import LevelRequest
from v2g.openadr.ven import VenConfig
from v2g.service.config import load_site_config


def parse(text: str, base: Path | None = None):
    return parse_openadr_site(tomllib.loads(text), base)


def test_a_2_0b_table_with_its_signal_mapping_becomes_the_ven_configuration(tmp_path):
    (tmp_path / "ven.pem").write_text("cert")
    (tmp_path / "ven.key").write_text("key")
    found, problems = parse(
        """
        [openadr]
        version = "2.0b"
        vtn_url = "https://vtn.example/OpenADR2/Simple/2.0b"
        ven_name = "fleet-1"
        poll_interval_s = 5
        cert_path = "ven.pem"
        key_path = "ven.key"
        vtn_fingerprint = "AA:BB"
        [openadr.signals]
        load_dispatch_unit_w = 1
        [openadr.signals.levels]
        "1" = { kind = "shed_w", value_w = 5000 }
        "3" = { kind = "export_w", value_w = 20000 }
        """,
        tmp_path,
    )
    assert problems == []
    assert isinstance(found, VenConfig)
    assert found.ven_name == "fleet-1" and found.poll_interval_s == 5
    assert found.offer_confidence == 0.9  # judged by the P90 offer past the horizon
    assert found.cert_path == str(tmp_path / "ven.pem")
    assert found.mapping.load_dispatch_unit_w == 1
    assert dict(found.mapping.levels) == {
        1: LevelRequest("shed_w", 5000),
        3: LevelRequest("export_w", 20000),
    }


def test_an_openadr_3_table_reads_the_secret_from_its_file_and_places_the_webhook(tmp_path):
    (tmp_path / "secret").write_text("s3cret\n")
    found, problems = parse(
        """
        [openadr]
        version = "3"
        vtn_url = "https://vtn.example/openadr3/3.0.1"
        client_id = "ven-client"
        client_secret_file = "secret"
        programs = ["fleet-dr"]
        webhook = true
        webhook_listen = "0.0.0.0:9443"
        webhook_url = "https://fleet.example/openadr3/notifications"
        """,
        tmp_path,
    )
    assert problems == []
    assert isinstance(found, Oadr3Site)
    assert found.client.client_secret == "s3cret"
    assert found.client.programs == ("fleet-dr",)
    assert found.client.spec_version == "3.0.1"
    assert (found.webhook, found.webhook_host, found.webhook_port) == (True, "0.0.0.0", 9443)
    assert found.webhook_url == "https://fleet.example/openadr3/notifications"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('version = "2.1"', 'openadr.version: must be "2.0b", "3"'),
        (
            'version = "3"\nvtn_url = "http://v"\nclient_id = "c"',
            "exactly one of client_secret_file or client_secret",
        ),
        (
            'version = "3"\nvtn_url = "http://v"\nclient_id = "c"\nclient_secret = "s"\n'
            'webhook_listen = "127.0.0.1:9"',
            "set webhook = true",
        ),
        (
            'version = "3"\nvtn_url = "http://v"\nclient_id = "c"\nclient_secret_file = "nope"',
            "openadr.client_secret_file: cannot read",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\nven_key = "x"',
            "openadr.ven_key: not a key of OpenADR 2.0b",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\n'
            '[openadr.signals.levels]\n"4" = { kind = "shed_w", value_w = 1 }',
            "openadr.signals.levels.4: SIMPLE levels are 1, 2 or 3",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\n'
            '[openadr.signals.levels]\n"1" = { kind = "more_w", value_w = 1 }',
            "level kind 'more_w'",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\n'
            "[openadr.signals]\nload_dispatch_unit_w = 0",
            "openadr.signals.load_dispatch_unit_w: must lie in (0, inf]",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\noffer_confidence = 0.3',
            "offer_confidence must be within [0.5, 1), got 0.3",
        ),
        (
            'version = "2.0b"\nvtn_url = "http://v"\nven_name = "v"\noffer_confidence = "p90"',
            "openadr.offer_confidence: must be a number",
        ),
    ],
)
def test_each_mistake_is_named_and_nothing_is_configured(tmp_path, table, problem):
    found, problems = parse(f"[openadr]\n{table}\n", tmp_path)
    assert found is None
    assert any(problem in p for p in problems), problems


def test_the_site_file_finds_openadr_files_beside_itself_and_refuses_with_every_problem(
    tmp_path,
):
    site = tmp_path / "site.toml"
    site.write_text('[openadr]\nversion = "2.0b"\nvtn_url = "ftp://v"\nca_file = "ca.pem"\n')
    with pytest.raises(ConfigError) as refused:
        load_site_config(site)
    problems = "; ".join(refused.value.problems)
    assert "openadr.vtn_url: must be an http(s) URL" in problems
    assert f"openadr.ca_file: cannot read {tmp_path / 'ca.pem'}" in problems
    assert "openadr.ven_name: missing" in problems
