"""-20 DC_BPT sessions with what the schemas allow and the package's EV never sends
(issue 20): meter info asked in every charge loop, DisplayParameters without
ChargingComplete, a scheduled power profile without PowerToleranceAcceptance.
Against ``v2g.secc.loopback.charger`` (the product's Station) in network namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from v2g.secc.loopback.netns import veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns
ROOT = Path(__file__).resolve().parents[2]


def run_session(
    spec: LoopbackSpec, work: Path, ev: str = "meter"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One session between the product's SECC and ``tests.conformance.vehicle``;
    returns what each side recorded."""
    spec_path = work / "spec.json"
    spec.write(spec_path)
    results = {side: work / f"{side}.json" for side in ("charger", "vehicle")}
    modules = {"charger": "v2g.secc.loopback.charger", "vehicle": "tests.conformance.vehicle"}
    with veth_link() as ends, ExitStack() as stack:
        processes = {}
        for side, end in zip(("charger", "vehicle"), ends, strict=True):
            log = stack.enter_context((work / f"{side}.log").open("w", encoding="utf-8"))
            argv = end.command(
                sys.executable,
                "-m",
                modules[side],
                str(spec_path),
                end.interface,
                str(results[side]),
            )
            output = subprocess.PIPE if side == "charger" else subprocess.DEVNULL
            # The charger appends every message it decoded or encoded here (JSON lines).
            env = {
                **os.environ,
                "V2G_EXI_CAPTURE": str(work / "capture.jsonl"),
                "V2G_CONFORMANCE_EV": ev,
            }
            process = stack.enter_context(
                subprocess.Popen(argv, cwd=ROOT, env=env, stdout=output, stderr=log, text=True)
            )
            stack.callback(process.kill)
            processes[side] = process
            if side == "charger":
                assert process.stdout is not None
                for line in process.stdout:
                    if line.strip() == "READY":
                        break
        for process in processes.values():
            process.wait(timeout=spec.session_timeout_s + 30)
    return tuple(json.loads(results[s].read_text()) for s in ("charger", "vehicle"))  # type: ignore[return-value]


@pytest.mark.parametrize("control", ["dynamic", "scheduled"])
def test_a_dc_bpt_session_asking_for_meter_info_in_every_loop_completes(control, tmp_path):
    spec = LoopbackSpec(
        protocol="iso20-dc-bpt",
        control=control,
        setpoint_w=-5000.0,
        charge_loop_cycles=6,
        session_timeout_s=60.0,
    )
    charger, vehicle = run_session(spec, tmp_path)
    assert vehicle["completed"], (tmp_path / "charger.log").read_text()[-3000:]
    loops = [m["body"] for m in vehicle["received"] if m["name"] == "DC_ChargeLoopRes"]
    assert len(loops) >= 3
    for body in loops:
        assert body["ResponseCode"] == "OK"
        meter = body["MeterInfo"]
        assert {"MeterID", "ChargedEnergyReadingWh", "BPT_DischargedEnergyReadingWh"} <= set(meter)
    answered = [e["response"] for e in charger["exchanges"]]
    assert "SessionStopRes" in answered
    requests = _decoded_by_the_secc(tmp_path / "capture.jsonl")
    loop_requests = requests["DC_ChargeLoopReq"]
    assert loop_requests and all(r["MeterInfoRequested"] is True for r in loop_requests)
    assert all("ChargingComplete" not in r["DisplayParameters"] for r in loop_requests)
    if control == "scheduled":
        profiles = [
            r["EVPowerProfile"]["Scheduled_EVPPTControlMode"]
            for r in requests["PowerDeliveryReq"]
            if r["ChargeProgress"] == "Start" and "EVPowerProfile" in r
        ]
        assert profiles and all("PowerToleranceAcceptance" not in p for p in profiles)
    log = (tmp_path / "charger.log").read_text()
    assert "EXIEncodingError" not in log and "schema_conformance" not in log


def _decoded_by_the_secc(capture: Path) -> dict[str, list[dict[str, Any]]]:
    """The requests the SECC decoded, by message name (bodies as JSON)."""
    from v2g.secc.codec import message_name

    found: dict[str, list[dict[str, Any]]] = {}
    for line in capture.read_text().splitlines():
        record = json.loads(line)
        if record["direction"] == "decode":
            name, body = message_name(record["json"])
            found.setdefault(name, []).append(body)
    return found


def test_a_charge_loop_in_the_empty_control_mode_is_answered_not_dropped(tmp_path):
    """Schema-valid, refused by the model and the standard: the EV gets a
    DC_ChargeLoopRes with FAILED_WrongChargeParameter (before, the link just closed)."""
    spec = LoopbackSpec(protocol="iso20-dc-bpt", setpoint_w=5000.0, session_timeout_s=10.0)
    _, vehicle = run_session(spec, tmp_path, ev="empty-control-mode")
    codes = [
        m["body"]["ResponseCode"] for m in vehicle["received"] if m["name"] == "DC_ChargeLoopRes"
    ]
    assert codes[:2] == ["OK", "OK"] and codes[2] == "FAILED_WrongChargeParameter", codes
    log = (tmp_path / "charger.log").read_text()
    refusals = [line for line in log.splitlines() if "schema_conformance" in line]
    assert (
        len(refusals) == 1
        and "DCChargeLoopReq answered FAILED_WrongChargeParameter" in refusals[0]
    )


def test_the_java_codec_carries_meter_info_under_the_schema_names():
    """With the schema's names the Java codec (``--codec java``) encodes meter info
    byte for byte as the native codec; under the package's names it dropped them."""
    from tests.conformance.instances import instances
    from v2g.exi import codec as native
    from v2g.exi.schemas import ISO20_DC
    from v2g.secc.codec import make_codec

    (document, *_) = [
        i.document
        for i in instances(ISO20_DC, "Res")
        if i.message == "DC_ChargeLoopRes" and i.kind == "maximal"
    ]
    assert "BPT_DischargedEnergyReadingWh" in document["DC_ChargeLoopRes"]["MeterInfo"]
    stream = make_codec("java").encode(json.dumps(document), ISO20_DC)
    assert stream == native.encode(document, ISO20_DC)
