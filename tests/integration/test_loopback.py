"""The product's SECC against the iso15118 package's own EVCC, over real SDP and TCP.

Each session runs in two network namespaces joined by a veth pair (SDP multicast is
never delivered on ``lo``). The EXI codec is the product's native one (the default)
on both sides; the Java codec is compared with it in ``test_exi_java.py`` and timed
in the benchmark. These tests raise the EVCC's message timeouts fourfold
(``EV_TIMEOUT_SCALE``) so a loaded CI machine does not fail them. The benchmark runs
with the standards' timeouts.
"""

from __future__ import annotations

import itertools

import pytest

from v2g.secc.loopback.run import run_loopback
from v2g.secc.loopback.spec import LoopbackSpec, SetpointChange

pytestmark = pytest.mark.netns

EV_TIMEOUT_SCALE = 4.0

COMMON_20 = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "AuthorizationSetupReq",
    "AuthorizationReq",
    "ServiceDiscoveryReq",
    "ServiceDetailReq",
    "ServiceSelectionReq",
]
#: DIN SPEC 70121 and ISO 15118-2 DC share the sequence from ChargeParameterDiscovery on.
DC_2 = [
    "ChargeParameterDiscoveryReq",
    "CableCheckReq",
    "PreChargeReq",
    "PowerDeliveryReq",
    "CurrentDemandReq",
    "PowerDeliveryReq",
    "WeldingDetectionReq",
    "SessionStopReq",
]
SEQUENCES = {
    "din-dc": [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "ServicePaymentSelectionReq",
        "ContractAuthenticationReq",
        *DC_2,
    ],
    "iso2-ac": [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "PaymentServiceSelectionReq",
        "AuthorizationReq",
        "ChargeParameterDiscoveryReq",
        "PowerDeliveryReq",
        "ChargingStatusReq",
        "PowerDeliveryReq",
        "SessionStopReq",
    ],
    "iso2-dc": [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "PaymentServiceSelectionReq",
        "AuthorizationReq",
        *DC_2,
    ],
    "iso20-ac": [
        *COMMON_20,
        "AC_ChargeParameterDiscoveryReq",
        "ScheduleExchangeReq",
        "PowerDeliveryReq",
        "AC_ChargeLoopReq",
        "PowerDeliveryReq",
        "SessionStopReq",
    ],
    "iso20-dc": [
        *COMMON_20,
        "DC_ChargeParameterDiscoveryReq",
        "ScheduleExchangeReq",
        "DC_CableCheckReq",
        "DC_PreChargeReq",
        "PowerDeliveryReq",
        "DC_ChargeLoopReq",
        "PowerDeliveryReq",
        "DC_WeldingDetectionReq",
        "SessionStopReq",
    ],
}
SEQUENCES["iso20-ac-bpt"] = SEQUENCES["iso20-ac"]
SEQUENCES["iso20-dc-bpt"] = SEQUENCES["iso20-dc"]


def run(protocol: str, tmp_path, **spec) -> dict:
    spec.setdefault("ev_timeout_scale", EV_TIMEOUT_SCALE)
    report = run_loopback(LoopbackSpec(protocol=protocol, **spec), tmp_path).to_json()
    logs = "\n".join(p.read_text()[-3000:] for p in tmp_path.glob("*.log"))
    assert report["completed"], f"session did not complete: {report['failure']}\n{logs}"
    return report


def phases(sequence: list[str]) -> list[str]:
    """The message sequence with repeats (CableCheck, PreCharge, loops) folded."""
    return [name for name, _ in itertools.groupby(sequence)]


@pytest.mark.parametrize(
    ("protocol", "expected_w"),
    [
        ("din-dc", 7000.0),
        ("iso2-ac", 6992.0),
        ("iso2-dc", 7000.0),
        ("iso20-ac", 7000.0),
        ("iso20-dc", 4000.0),
    ],
    ids=["din-dc", "iso2-ac", "iso2-dc", "iso20-ac", "iso20-dc"],
)
def test_unidirectional_session_completes_at_the_mailbox_power(protocol, expected_w, tmp_path):
    """iso2-ac carries per-phase current (10.13 A at 230 V x 3 rounds to 6992 W); the
    iso20-dc simulated EV caps its charging at 4 kW, which binds below the setpoint."""
    report = run(protocol, tmp_path, setpoint_w=7000.0)
    assert phases(report["sequence"]) == SEQUENCES[protocol]
    assert report["charge_loop_requests"] >= 5
    assert report["ev_target_power_w"]
    assert all(t == pytest.approx(expected_w, rel=2e-3) for t in report["ev_target_power_w"])


@pytest.mark.parametrize("protocol", ["iso20-ac-bpt", "iso20-dc-bpt"])
def test_bpt_dynamic_ev_follows_the_mailbox_discharge_and_its_change(protocol, tmp_path):
    """Trap: iso15118 handles a ScheduleRenegotiation like a session start, so live
    setpoints travel in dynamic mode: a change shows up in the next charge-loop answer."""
    report = run(
        protocol,
        tmp_path,
        control="dynamic",
        setpoint_w=-5000.0,
        changes=(SetpointChange(after_loops=3, power_w=-2000.0),),
    )
    assert phases(report["sequence"]) == SEQUENCES[protocol]
    targets = report["ev_target_power_w"]
    assert targets[:3] == [-5000.0] * 3
    assert targets[3:] and set(targets[3:]) == {-2000.0}
    events = {e["type"] for e in report["events"]}
    assert {
        "SessionStarted",
        "LimitsReported",
        "NeedsReported",
        "PowerMeasured",
        "SessionEnded",
    } <= events


@pytest.mark.parametrize("protocol", ["iso20-ac-bpt", "iso20-dc-bpt"])
def test_bpt_scheduled_schedule_carries_the_discharge_slot(protocol, tmp_path):
    report = run(protocol, tmp_path, control="scheduled", setpoint_w=-5000.0)
    assert phases(report["sequence"]) == SEQUENCES[protocol]
    vehicle = (tmp_path / "vehicle.json").read_text()
    assert '"Scheduled_SEResControlMode"' in vehicle
    assert '"DischargingSchedule"' in vehicle
    assert set(report["ev_target_power_w"]) == {-5000.0}


def test_stale_setpoint_never_discharges_the_vehicle(tmp_path):
    report = run("iso20-dc-bpt", tmp_path, setpoint_w=-5000.0, setpoint_valid_s=0.001)
    assert report["ev_target_power_w"]
    assert min(report["ev_target_power_w"]) >= 0


def test_sessions_run_over_a_veth_pair_because_sdp_never_reaches_lo():
    """Trap: SDP's IPv6 multicast is never delivered on ``lo``. The loopback joins two
    namespaces with a veth pair whose link-local addresses are usable at once."""
    import os
    import subprocess

    from v2g.secc.loopback.netns import veth_link

    # The pid keeps parallel test runs (several checkouts) from sharing namespace names.
    with veth_link(f"t{os.getpid()}") as (charger, vehicle):
        for end in (charger, vehicle):
            link = subprocess.run(
                ["ip", "-n", end.namespace, "-d", "link", "show", end.interface],
                capture_output=True,
                text=True,
                check=True,
            )
            assert "veth" in link.stdout and end.interface != "lo"
            addresses = subprocess.run(
                ["ip", "-n", end.namespace, "-6", "addr", "show", "dev", end.interface],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert "scope link" in addresses and "tentative" not in addresses
        namespaces = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout
        assert charger.namespace in namespaces
    after = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert charger.namespace not in after and vehicle.namespace not in after
