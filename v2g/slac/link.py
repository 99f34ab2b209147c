"""The SLAC edge: a raw Ethernet (AF_PACKET) socket on one EVSE interface driving the
pure ``EvseSlac`` machine with the monotonic clock and fresh random keys.

The control pilot drives it (``slac_by_pilot``): ``start()`` when a vehicle is plugged
in (B, C or D), ``stop()`` at A, E or F; whoever needs the link waits on ``matched()``
for the EV's MAC and the NMK/NID of its logical network (see README.md in this folder).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Protocol

from v2g.hardware.seams import ControlPilot
from v2g.slac.frames import (
    ETHERTYPE_HOMEPLUG,
    NMK_BYTES,
    NONCE_BYTES,
    FrameError,
    decode_frame,
    encode_frame,
    mac_text,
)
from v2g.slac.machine import (
    LOCAL_MODEM_MAC,
    Action,
    EvseSlac,
    Failed,
    Matched,
    Note,
    Phase,
    Send,
    SessionKeys,
    SlacMatch,
    SlacTimers,
)
from v2g.tasks import stop_task

logger = logging.getLogger(__name__)

#: Largest Ethernet frame read (1500-byte payload plus header and a VLAN tag).
_RECEIVE_BYTES = 1522


class SlacFailed(RuntimeError):
    """SLAC gave up; ``reason`` names the timer or answer that ended it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def open_raw_socket(interface: str) -> socket.socket:
    """A non-blocking AF_PACKET socket for HomePlug MMEs (Ethertype 0x88E1) on
    ``interface``; needs root or CAP_NET_RAW."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE_HOMEPLUG))
    try:
        sock.bind((interface, ETHERTYPE_HOMEPLUG))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def interface_mac(sock: socket.socket) -> bytes:
    """The hardware address of the interface an AF_PACKET socket is bound to."""
    address: bytes = sock.getsockname()[4]
    return address[:6]


def fresh_keys() -> SessionKeys:
    return SessionKeys(nmk=os.urandom(NMK_BYTES), nonce=os.urandom(NONCE_BYTES))


class SlacLink:
    """SLAC on one EVSE interface: ``start()``, ``matched()``, ``stop()``."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        modem_mac: bytes = LOCAL_MODEM_MAC,
        timers: SlacTimers | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        keys: Callable[[], SessionKeys] = fresh_keys,
        name: str = "",
    ) -> None:
        self.machine = EvseSlac(interface_mac(sock), modem_mac, timers)
        self.name = name or mac_text(self.machine.evse_mac)
        self._sock = sock
        self._monotonic = monotonic
        self._keys = keys
        self._task: asyncio.Task[None] | None = None
        self._outcome: asyncio.Future[SlacMatch] | None = None

    @property
    def match(self) -> SlacMatch | None:
        """The matched EV (MAC, NMK, NID), or None."""
        return self.machine.match

    def start(self) -> None:
        """Control pilot state B: begin matching (a no-op while a start is running)."""
        if self._task is not None and not self._task.done():
            return
        loop = asyncio.get_running_loop()
        self._outcome = loop.create_future()
        # Retrieve a failure nobody awaited, so the loop does not log it as lost.
        self._outcome.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._task = asyncio.create_task(self._run(), name=f"slac {self.name}")

    async def matched(self) -> SlacMatch:
        """The match of the current start; SlacFailed when matching gave up."""
        if self._outcome is None:
            raise RuntimeError("SlacLink.matched() before start()")
        return await asyncio.shield(self._outcome)

    async def stop(self) -> None:
        """Control pilot left B/C/D: leave the EV's network and stop listening."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        await self._apply(self.machine.stop(self._monotonic(), self._keys()))
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_exception(SlacFailed("stopped before a match"))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._sock.close()

    async def _run(self) -> None:
        try:
            await self._serve()
        except OSError as error:
            # The interface went away or refused a frame: whoever waits learns why.
            if self._outcome is not None and not self._outcome.done():
                self._outcome.set_exception(SlacFailed(f"{self.name}: {error}"))
            raise

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        await self._apply(self.machine.start(self._monotonic(), self._keys()))
        while self.machine.phase not in (Phase.FAILED, Phase.IDLE):
            deadline = self.machine.deadline_s
            timeout = None if deadline is None else max(0.0, deadline - self._monotonic())
            try:
                data = await asyncio.wait_for(loop.sock_recv(self._sock, _RECEIVE_BYTES), timeout)
            except TimeoutError:
                await self._apply(self.machine.tick(self._monotonic()))
                continue
            try:
                frame = decode_frame(data)
            except FrameError as error:
                logger.debug("SLAC %s: frame ignored: %s", self.name, error)
                continue
            now_s = self._monotonic()
            await self._apply(self.machine.receive(frame, now_s))
            await self._apply(self.machine.tick(now_s))

    async def _apply(self, actions: list[Action]) -> None:
        loop = asyncio.get_running_loop()
        for action in actions:
            if isinstance(action, Send):
                await loop.sock_sendall(self._sock, encode_frame(action.frame))
            elif isinstance(action, Matched):
                match = action.match
                logger.info(
                    "SLAC %s: matched EV %s (NID %s, %.1f dB)",
                    self.name,
                    match.ev_mac_text,
                    match.nid.hex(),
                    match.attenuation_db,
                )
                if self._outcome is not None and not self._outcome.done():
                    self._outcome.set_result(match)
            elif isinstance(action, Failed):
                logger.warning("SLAC %s: failed: %s", self.name, action.reason)
                if self._outcome is not None and not self._outcome.done():
                    self._outcome.set_exception(SlacFailed(action.reason))
            elif isinstance(action, Note):
                logger.info("SLAC %s: %s", self.name, action.text)


class Matching(Protocol):
    """What ``slac_by_pilot`` drives: ``SlacLink`` (a fake in tests)."""

    def start(self) -> None: ...

    async def matched(self) -> SlacMatch: ...

    async def stop(self) -> None: ...

    def close(self) -> None: ...


async def slac_by_pilot(
    link: Matching,
    pilot: ControlPilot,
    retry_after_s: float = 1.0,
    poll_s: float = 0.02,
    on_match: Callable[[SlacMatch], None] | None = None,
) -> None:
    """SLAC on the EVSE side as the pilot says (ISO 15118-3, 7.3.1): matching starts
    when a vehicle is plugged in (B, C or D: a pilot that reads C at start-up is a
    vehicle that was already there), starts again ``retry_after_s`` after a failed
    attempt while it stays plugged in (the EV retries with a new CM_SLAC_PARM), and
    stops at unplug or a pilot error (A, E, F): the EVSE leaves the EV's logical
    network, so the next vehicle gets a fresh match and fresh keys. SDP needs no gate:
    an EV reaches it only over the network SLAC lets it join."""
    try:
        while True:
            await _until(lambda: pilot.state().plugged, poll_s)
            await _one_plug_in(link, pilot, retry_after_s, poll_s, on_match)
    finally:
        link.close()


async def _one_plug_in(
    link: Matching,
    pilot: ControlPilot,
    retry_after_s: float,
    poll_s: float,
    on_match: Callable[[SlacMatch], None] | None,
) -> None:
    """Match, retrying after failures, until the vehicle is unplugged; then stop."""
    unplugged = asyncio.ensure_future(_until(lambda: not pilot.state().plugged, poll_s))
    try:
        while not unplugged.done():
            link.start()
            outcome = asyncio.ensure_future(link.matched())
            await asyncio.wait({outcome, unplugged}, return_when=asyncio.FIRST_COMPLETED)
            if not outcome.done():
                outcome.cancel()
                break
            if outcome.exception() is None:
                if on_match is not None:
                    on_match(outcome.result())
                await unplugged  # matched: the link keeps answering until unplug
                break
            if not isinstance(outcome.exception(), SlacFailed):
                outcome.result()  # a fault of the link itself: raise it
            await link.stop()
            await asyncio.wait({unplugged}, timeout=retry_after_s)
    finally:
        unplugged.cancel()
        await link.stop()


async def _until(condition: Callable[[], bool], poll_s: float) -> None:
    while not condition():
        await asyncio.sleep(poll_s)
