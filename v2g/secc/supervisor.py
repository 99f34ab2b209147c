"""The session's life from the hardware: the control pilot and the power stage's
faults, watched every few milliseconds while the EV talks (IEC 61851-1 Annex A for the
pilot; IEC 61851-23 for the DC output).

- Plug-in (A to B) with no session: the PWM goes to 5 % (high-level communication
  required) and ``on_plug_in`` runs: where SLAC (ISO 15118-3) starts, from the SLAC
  work; until then SDP waits for the EV as before.
- C or D: energy may flow (the controller commands the stage only then).
- B during charging (C to B): the EV pauses; the output stops and the contactors open
  once it is at rest; the session goes on (the EV returns to C to resume).
- A (unplug), E or F (pilot error) during a session, or a module or isolation fault:
  ``EvseController.end_now``: output off and contactors open first, then the package's
  ``close_session`` ends the session, reported with its cause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from v2g.hardware.seams import HLC_DUTY_CYCLE_PCT, NO_PWM_DUTY_CYCLE_PCT, PilotState
from v2g.secc.controller import EvseController, ending_cause

logger = logging.getLogger(__name__)

#: How often the pilot and the stage are looked at (s).
POLL_S = 0.01


class Supervisor:
    def __init__(
        self,
        controller: EvseController,
        on_plug_in: Callable[[], None] | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.controller = controller
        self.on_plug_in = on_plug_in
        self._poll_s = poll_s
        self._previous: PilotState | None = None
        self._resting: asyncio.Task[float] | None = None

    async def run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self._poll_s)

    def check(self) -> None:
        """One look at the pilot and the stage; acts on what changed."""
        controller = self.controller
        state = controller.pilot.state()
        previous, self._previous = self._previous, state
        if not controller.session_live:
            self._idle(state, previous)
            return
        cause = ending_cause(state, controller.stage.fault)
        if cause is not None:
            controller.end_now(cause)
        elif state == PilotState.B and previous is not None and previous.energy_allowed:
            self._pause()

    def _idle(self, state: PilotState, previous: PilotState | None) -> None:
        pilot = self.controller.pilot
        if state == PilotState.B and previous in (None, PilotState.A):
            pilot.set_pwm(HLC_DUTY_CYCLE_PCT)
            logger.info("EVSE %s: vehicle plugged in (pilot B)", self.controller.evse.evse_id)
            if self.on_plug_in is not None:
                self.on_plug_in()
        elif state == PilotState.A and previous not in (None, PilotState.A):
            pilot.set_pwm(NO_PWM_DUTY_CYCLE_PCT)

    def _pause(self) -> None:
        controller = self.controller
        logger.info(
            "EVSE %s: pilot C to B (the EV pauses): output stops, contactors open at rest",
            controller.evse.evse_id,
        )
        controller.stage.stop()
        if self._resting is None or self._resting.done():
            self._resting = asyncio.get_running_loop().create_task(
                controller.stage.bring_to_rest(limit_s=2.0)
            )
