"""Our OCPI 2.2.1 Tariff and CDR objects, checked by type definitions that are not
ours: the ``ocpi-types`` package (generated from the OCPI specification), in an
environment of its own (``scripts/ocpi-venv``) and a subprocess.

Without that environment (no network to make it) the test skips, unless
``V2G_REQUIRE_OCPI=1`` (CI) makes that an error.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.independent import environment_python
from v2g.billing import (
    DriverToken,
    Operator,
    PriceBand,
    Tariff,
    ocpi_cdr,
    ocpi_tariff,
    session_bill,
)
from v2g.curves import StepCurve
from v2g.usage import MeterSample, SessionSpan

CHECK = Path(__file__).with_name("ocpi_check.py")
T0 = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="session")
def ocpi_python() -> str:
    return environment_python("ocpi-venv", "V2G_REQUIRE_OCPI")


def verdicts(python: str, objects: list[tuple[str, object]]) -> list[str]:
    done = subprocess.run(
        [python, str(CHECK)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout))


TARIFFS = {
    "flat": Tariff("flat", "EUR", D("0.30")),
    "time of use, idle fee, V2G": Tariff(
        "tou-v2g",
        "EUR",
        D("0.35"),
        bands=(
            PriceBand(D("0.18"), time(22), time(6)),
            PriceBand(D("0.45"), time(17), time(21), frozenset({0, 1, 2, 3, 4})),
        ),
        v2g_remuneration_per_kwh=D("0.25"),
        idle_fee_per_min=D("0.10"),
        idle_grace_min=30,
        vat_percent=D("21"),
        zone="Europe/Amsterdam",
    ),
    "day-ahead": Tariff("dynamic", "EUR", D("0"), day_ahead_markup_per_kwh=D("0.05")),
}


def records(tariff: Tariff) -> list[tuple[str, object]]:
    span = SessionSpan("session-42", "NL*V2G*E0001", T0, T0 + timedelta(hours=5))
    samples = [
        MeterSample("session-42", T0, 11_000),
        MeterSample("session-42", T0 + timedelta(hours=2), -7_000),
        MeterSample("session-42", T0 + timedelta(hours=3), 0.0),
    ]
    prices = StepCurve.of([(T0 + timedelta(hours=h), 0.05 * h) for h in range(6)])
    bill = session_bill(tariff, span, samples, span.ended_at, prices)
    operator = Operator(
        country_code="NL", party_id="V2G", address="Stationsplein 1", city="Utrecht"
    )
    token = DriverToken("04A1B2C3D4E5F6", "RFID", "NL-V2G-C12345678-X")
    return [
        ("Tariff", ocpi_tariff(tariff, operator, T0)),
        ("Cdr", ocpi_cdr(bill, tariff, operator, token, T0 + timedelta(hours=5))),
    ]


@pytest.mark.parametrize("name", TARIFFS, ids=list(TARIFFS))
def test_tariffs_and_cdrs_are_ocpi_2_2_1_to_an_independent_implementation(ocpi_python, name):
    assert verdicts(ocpi_python, records(TARIFFS[name])) == ["ok", "ok"]


def test_the_independent_check_refuses_a_broken_cdr(ocpi_python):
    _, (_, cdr) = records(TARIFFS["flat"])
    broken = dict(cdr)  # type: ignore[arg-type]
    broken.pop("total_cost")
    broken["colour"] = "red"
    wrong_kind = dict(cdr) | {"auth_method": "BY_MAGIC"}  # type: ignore[operator]
    found = verdicts(ocpi_python, [("Cdr", broken), ("Cdr", wrong_kind)])
    assert found[0].startswith("Cdr refused") and found[1].startswith("Cdr refused")
