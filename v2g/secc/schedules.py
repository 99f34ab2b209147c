"""Power schedules in each protocol's terms (-20 ScheduleTuple, -2 and DIN SAScheduleTuple).

Domain schedules are signed (+ = charging). ISO 15118-20 splits them into a charging
schedule (powers >= 0) and a discharging schedule (powers <= 0); ISO 15118-2 and DIN
SPEC 70121 know only a maximum charging power, so discharge slots become 0 W there.
"""

from __future__ import annotations

from iso15118.shared.messages.din_spec.datatypes import (
    PMaxScheduleEntry as DinPMaxSchedule,
)
from iso15118.shared.messages.din_spec.datatypes import (
    PMaxScheduleEntryDetails as DinPMaxScheduleEntry,
)
from iso15118.shared.messages.din_spec.datatypes import (
    RelativeTimeInterval as DinRelativeTimeInterval,
)
from iso15118.shared.messages.din_spec.datatypes import (
    SAScheduleTupleEntry as DinSAScheduleTuple,
)
from iso15118.shared.messages.enums import UnitSymbol
from iso15118.shared.messages.iso15118_2.datatypes import (
    PMaxSchedule,
    PMaxScheduleEntry,
    PVPMax,
    RelativeTimeInterval,
    SAScheduleTuple,
)
from iso15118.shared.messages.iso15118_20.common_messages import (
    ChargingSchedule,
    DischargingSchedule,
    PowerScheduleEntry,
    PowerScheduleEntryList,
    PriceLevelSchedule,
    PriceLevelScheduleEntry,
    PriceLevelScheduleEntryList,
    ScheduleTuple,
)
from iso15118.shared.messages.iso15118_20.common_messages import (
    PowerSchedule as WirePowerSchedule,
)

from v2g.secc.translation import to_rational
from v2g.session import PowerSchedule, PowerSlot

#: [V2G2-304]: without a departure time, a -2 schedule must cover at least 24 h.
DAY_S = 86_400
#: DIN SPEC 70121 PMax is an unsigned short in W.
DIN_PMAX_W = 32_767


def _day_sized(slots: tuple[PowerSlot, ...]) -> list[PowerSlot]:
    """Slots no longer than a day: -2/DIN RelativeTimeInterval durations stop at 86400 s."""
    out: list[PowerSlot] = []
    for slot in slots:
        remaining = slot.duration_s
        while remaining > 0:
            piece = min(remaining, DAY_S)
            out.append(PowerSlot(piece, slot.power))
            remaining -= piece
    return out


def _unix_s(schedule: PowerSchedule) -> int:
    return int(schedule.start.timestamp())


def _flat_price_levels(schedule: PowerSchedule) -> PriceLevelSchedule:
    """One price level over the whole schedule: the SECC does not price energy itself,
    but -20 requires a price schedule beside every power schedule."""
    return PriceLevelSchedule(
        time_anchor=_unix_s(schedule),
        schedule_id=1,
        num_price_levels=1,
        schedule_entries=PriceLevelScheduleEntryList(
            entries=[PriceLevelScheduleEntry(duration=schedule.duration_s, price_level=0)]
        ),
    )


def _wire_power_schedule(schedule: PowerSchedule, sign: int) -> WirePowerSchedule:
    entries = [
        PowerScheduleEntry(
            duration=slot.duration_s,
            power=to_rational(max(0.0, sign * slot.power_w) * sign),
        )
        for slot in schedule.slots
    ]
    return WirePowerSchedule(
        time_anchor=_unix_s(schedule),
        schedule_entry_list=PowerScheduleEntryList(entries=entries),
    )


def iso20_schedule_tuple(schedule: PowerSchedule, bidirectional: bool) -> ScheduleTuple:
    """A -20 ScheduleTuple: charge slots in the charging schedule (>= 0 W) and, for BPT,
    discharge slots in the discharging schedule (negative W, as -20 signs them)."""
    prices = _flat_price_levels(schedule)
    discharging = None
    if bidirectional:
        discharging = DischargingSchedule(
            power_schedule=_wire_power_schedule(schedule, -1), price_level_schedule=prices
        )
    return ScheduleTuple(
        schedule_tuple_id=1,
        charging_schedule=ChargingSchedule(
            power_schedule=_wire_power_schedule(schedule, +1), price_level_schedule=prices
        ),
        discharging_schedule=discharging,
    )


def iso2_sa_schedule_tuple(schedule: PowerSchedule, max_entries: int | None) -> SAScheduleTuple:
    """A -2 SAScheduleTuple: PMax per slot (charge only), last entry with its duration."""
    slots = _day_sized(schedule.slots)[: max_entries or None]
    entries: list[PMaxScheduleEntry] = []
    start_s = 0
    for index, slot in enumerate(slots):
        exponent, value = PVPMax.get_exponent_value_repr(max(0.0, slot.power_w))
        is_last = index == len(slots) - 1
        entries.append(
            PMaxScheduleEntry(
                p_max=PVPMax(multiplier=exponent, value=value, unit=UnitSymbol.WATT),
                time_interval=RelativeTimeInterval(
                    start=start_s, duration=slot.duration_s if is_last else None
                ),
            )
        )
        start_s += slot.duration_s
    return SAScheduleTuple(
        sa_schedule_tuple_id=1, p_max_schedule=PMaxSchedule(schedule_entries=entries)
    )


def din_sa_schedule_tuple(schedule: PowerSchedule, max_entries: int | None) -> DinSAScheduleTuple:
    """A DIN SPEC 70121 SAScheduleTuple (PMax in W, capped at the type's 32767)."""
    slots = _day_sized(schedule.slots)[: max_entries or None]
    entries: list[DinPMaxScheduleEntry] = []
    start_s = 0
    for index, slot in enumerate(slots):
        is_last = index == len(slots) - 1
        entries.append(
            DinPMaxScheduleEntry(
                p_max=int(min(DIN_PMAX_W, max(0.0, slot.power_w))),
                time_interval=DinRelativeTimeInterval(
                    start=start_s, duration=slot.duration_s if is_last else None
                ),
            )
        )
        start_s += slot.duration_s
    return DinSAScheduleTuple(
        sa_schedule_tuple_id=1,
        p_max_schedule=DinPMaxSchedule(p_max_schedule_id=0, entry_details=entries),
    )
