"""Building blocks for driving an EvseController the way iso15118's states do."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from iso15118.shared.messages.enums import Protocol, ServiceV20

from v2g.secc.config import EvseConfig
from v2g.secc.controller import EvseController
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import SessionEvent
from v2g.testing import FakeClock, FakeMonotonic


def dc_bpt_evse(**overrides: Any) -> EvseConfig:
    values: dict[str, Any] = {
        "evse_id": "DE*V2G*E0001",
        "interface": "veth0",
        "current": "dc",
        "max_charge_power_w": 11000.0,
        "max_discharge_power_w": 11000.0,
        "max_current_a": 100.0,
        "fallback_power_w": 3000.0,
    }
    values.update(overrides)
    return EvseConfig(**values)


def ac_bpt_evse(**overrides: Any) -> EvseConfig:
    return dc_bpt_evse(current="ac", max_current_a=16.0, **overrides)


#: The iso15118 session id every Rig session carries (unless told otherwise).
SESSION_ID = "1A2B3C4D5E6F7081"


class Rig:
    """A controller with its mailbox, fake clocks and the events it published."""

    def __init__(self, evse: EvseConfig, clock: FakeClock, monotonic: FakeMonotonic) -> None:
        self.mailbox = SetpointMailbox(clock, monotonic)
        self.events: list[SessionEvent] = []
        bus = SessionEventBus()
        bus.subscribe(self.events.append)
        self.clock = clock
        self.monotonic = monotonic
        self.controller = EvseController(evse, self.mailbox, bus, clock, monotonic)

    async def enter(
        self,
        state_name: str,
        protocol: Protocol = Protocol.ISO_15118_20_DC,
        service: ServiceV20 | None = ServiceV20.DC_BPT,
        charging_type_is_ac: bool | None = None,
        session_id: str = SESSION_ID,
        evcc_id: str = "WMIV1234567890ABCDEX",
    ) -> None:
        """Tell the controller that iso15118 just answered in ``state_name``."""
        self.controller.set_selected_protocol(protocol)
        comm_session = SimpleNamespace(
            session_id=session_id,
            evcc_id=evcc_id,
            selected_energy_service=SimpleNamespace(service=service) if service else None,
            selected_charging_type_is_ac=charging_type_is_ac,
        )
        state = type(state_name, (), {})()
        state.comm_session = comm_session
        await self.controller.set_present_protocol_state(state)

    def report_dc_bpt_ev(
        self,
        max_charge_w: float = 50000,
        max_discharge_w: float = 20000,
        capacity_wh: float | None = 60000,
    ) -> None:
        """EV data as the -20 DC BPT ChargeParameterDiscovery leaves it."""
        context = self.controller.ev_data_context
        dc = context.rated_limits.dc_limits
        dc.max_charge_power, dc.min_charge_power = max_charge_w, 0.0
        dc.max_discharge_power, dc.min_discharge_power = max_discharge_w, 0.0
        dc.max_charge_current, dc.max_voltage, dc.min_voltage = 125.0, 450.0, 200.0
        context.total_battery_capacity = capacity_wh
        context.present_soc = 55
        context.departure_time = 3600

    def report_ac_bpt_ev(
        self, max_charge_w: float = 11000, max_discharge_w: float = 11000
    ) -> None:
        ac = self.controller.ev_data_context.rated_limits.ac_limits
        ac.max_charge_power, ac.min_charge_power = max_charge_w, 0.0
        ac.max_discharge_power, ac.min_discharge_power = max_discharge_w, 0.0

    async def start_dc_bpt_session(self) -> None:
        await self.enter("SupportedAppProtocol")
        await self.enter("SessionSetup")
        self.report_dc_bpt_ev()
        await self.controller.send_rated_limits()


def decimal(number: Any) -> float:
    return float(number.get_decimal_value())
