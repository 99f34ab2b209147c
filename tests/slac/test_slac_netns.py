"""SLAC with real raw Ethernet frames between network namespaces: the product's EVSE
side (v2g.slac.link) on each charger's eth0, a simulated modem on each charger's
bridge port and the independent EV of tests/slac/ev_side.py (ISO 15118-3 Annex A.9)."""

from __future__ import annotations

import asyncio
import os
from contextlib import ExitStack

import pytest

from tests.slac.ev_side import IndependentEv
from tests.slac.modem import SimulatedModem, host_mac_of
from tests.slac.plc_medium import plc_medium, raw_socket
from v2g.slac.link import SlacFailed, SlacLink
from v2g.slac.machine import Phase

pytestmark = pytest.mark.netns


def tag() -> str:
    return f"{os.getpid() % 100000}"


@pytest.mark.parametrize("closer", [0, 1], ids=["first-charger-closer", "second-charger-closer"])
async def test_ev_matches_the_charger_with_the_better_attenuation(closer):
    attenuations = [40, 40]
    attenuations[closer] = 12
    with plc_medium(tag(), chargers=2) as medium, ExitStack() as stack:
        links, modems = [], []
        for charger, attenuation in zip(medium.chargers, attenuations, strict=True):
            sock = raw_socket(charger.namespace, charger.interface)
            sock.setblocking(False)
            link = SlacLink(sock, name=charger.namespace)
            stack.callback(link.close)
            modem = SimulatedModem(
                medium.plc_namespace, charger.port, host_mac_of(sock), attenuation
            )
            modems.append(stack.enter_context(modem))
            links.append(link)
            link.start()  # both pilots see state B (the EV is plugged into one of them)
        await asyncio.sleep(0.1)  # both modems have the new keys
        ev = IndependentEv(raw_socket(medium.ev.namespace, medium.ev.interface))
        stack.callback(ev.sock.close)
        outcome = await asyncio.to_thread(ev.run)

        assert outcome.failure is None
        assert sorted(outcome.attenuation_db.values()) == [12.0, 40.0]
        match = await asyncio.wait_for(links[closer].matched(), 1.0)
        assert outcome.evse_mac == links[closer].machine.evse_mac
        assert match.ev_mac == ev.mac and match.run_id == outcome.run_id
        # The EV got the NMK the chosen charger's own modem was given with CM_SET_KEY.
        assert outcome.nmk == match.nmk == modems[closer].nmk
        assert outcome.nid == match.nid
        other = links[1 - closer]
        assert other.match is None and other.machine.phase is Phase.WAIT_MATCH_REQ
        assert modems[closer].profiles_sent == 10

        # Unplugged (pilot state A): the charger leaves the EV's network with a new key.
        await links[closer].stop()
        await asyncio.sleep(0.1)
        assert modems[closer].set_key_requests == 2
        assert modems[closer].nmk != match.nmk


async def test_a_modem_that_never_answers_leaves_the_ev_unanswered_and_slac_failed():
    with plc_medium(tag(), chargers=1) as medium, ExitStack() as stack:
        (charger,) = medium.chargers
        sock = raw_socket(charger.namespace, charger.interface)
        sock.setblocking(False)
        link = SlacLink(sock, name=charger.namespace)
        stack.callback(link.close)
        modem = stack.enter_context(
            SimulatedModem(medium.plc_namespace, charger.port, host_mac_of(sock), 12, False)
        )
        link.start()
        ev = IndependentEv(raw_socket(medium.ev.namespace, medium.ev.interface))
        stack.callback(ev.sock.close)
        outcome = await asyncio.to_thread(ev.run)
        with pytest.raises(SlacFailed, match=r"did not confirm CM_SET_KEY\.REQ"):
            await asyncio.wait_for(link.matched(), 1.0)
        assert outcome.failure == "no CM_SLAC_PARM.CNF"
        assert modem.set_key_requests == 3  # C_EV_match_retry repetitions
        assert link.machine.phase is Phase.FAILED


async def test_two_evs_plugged_into_two_chargers_each_match_their_own():
    """Each charger's modem hears its own EV at 10 dB and the neighbour's at 45 dB
    (crosstalk); both EVs sound at the same time and each charger runs both runs."""
    with plc_medium(tag(), chargers=2, evs=2) as medium, ExitStack() as stack:
        evs = []
        for station in medium.evs:
            ev = IndependentEv(raw_socket(station.namespace, station.interface))
            stack.callback(ev.sock.close)
            evs.append(ev)
        links = []
        for index, charger in enumerate(medium.chargers):
            sock = raw_socket(charger.namespace, charger.interface)
            sock.setblocking(False)
            link = SlacLink(sock, name=charger.namespace)
            stack.callback(link.close)
            heard = {ev.mac: 10 if i == index else 45 for i, ev in enumerate(evs)}
            stack.enter_context(
                SimulatedModem(medium.plc_namespace, charger.port, host_mac_of(sock), heard)
            )
            links.append(link)
            link.start()
        await asyncio.sleep(0.1)
        outcomes = await asyncio.gather(*(asyncio.to_thread(ev.run) for ev in evs))

        for index, (ev, outcome) in enumerate(zip(evs, outcomes, strict=True)):
            assert outcome.failure is None
            assert sorted(outcome.attenuation_db.values()) == [10.0, 45.0]
            assert outcome.evse_mac == links[index].machine.evse_mac
            match = await asyncio.wait_for(links[index].matched(), 1.0)
            assert match.ev_mac == ev.mac and outcome.nmk == match.nmk
        assert outcomes[0].nmk != outcomes[1].nmk
