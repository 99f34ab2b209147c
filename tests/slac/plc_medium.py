"""A powerline stand-in between network namespaces: every station (the EV and each
charger's host) has its own namespace with ``eth0``, joined by a Linux bridge in a
``plc`` namespace, so broadcasts reach every charger as on a shared PLC medium. Each
charger's bridge port is where its simulated modem sits (tests/slac/modem.py).

Sockets are opened inside a namespace with setns(2) on the calling thread only (Python
3.11 has no os.setns, hence ctypes); the socket keeps its namespace afterwards.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
ETHERTYPE_HOMEPLUG = 0x88E1
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the block with this thread in ``namespace`` (for creating sockets)."""
    with (
        open("/proc/thread-self/ns/net", "rb") as home,
        open(f"/var/run/netns/{namespace}", "rb") as target,
    ):
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def raw_socket(
    namespace: str, interface: str, protocol: int = ETHERTYPE_HOMEPLUG
) -> socket.socket:
    with inside(namespace):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(protocol))
        sock.bind((interface, protocol))
    return sock


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True)


@dataclass(frozen=True)
class Station:
    namespace: str
    interface: str  # inside the station's namespace
    port: str  # its bridge port, inside the plc namespace


@dataclass(frozen=True)
class Medium:
    plc_namespace: str
    evs: tuple[Station, ...]
    chargers: tuple[Station, ...]

    @property
    def ev(self) -> Station:
        return self.evs[0]


@contextmanager
def plc_medium(tag: str, chargers: int, evs: int = 1) -> Iterator[Medium]:
    """Namespaces for ``evs`` EVs and ``chargers`` charger hosts on one bridge; all
    removed on exit."""
    plc = f"v2g-plc-{tag}"
    vehicles = [Station(f"v2g-slac-v{i}-{tag}", "eth0", f"pv{i}") for i in range(1, evs + 1)]
    stations = vehicles + [
        Station(f"v2g-slac-c{i}-{tag}", "eth0", f"pc{i}") for i in range(1, chargers + 1)
    ]
    created: list[str] = []
    try:
        for namespace in [plc] + [s.namespace for s in stations]:
            _ip("netns", "add", namespace)
            created.append(namespace)
            # IPv6 link-local addresses usable at once, for SDP after SLAC (as veth_link).
            for setting in ("all", "default"):
                _ip(
                    "netns",
                    "exec",
                    namespace,
                    "sysctl",
                    "-qw",
                    f"net.ipv6.conf.{setting}.accept_dad=0",
                )
            _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", plc, "link", "add", "br0", "type", "bridge")
        _ip("-n", plc, "link", "set", "br0", "up")
        for station in stations:
            _ip(
                "-n", plc, "link", "add", station.port, "type", "veth",
                "peer", "name", station.interface, "netns", station.namespace,
            )  # fmt: skip
            _ip("-n", plc, "link", "set", station.port, "master", "br0")
            _ip("-n", plc, "link", "set", station.port, "up")
            _ip("-n", station.namespace, "link", "set", station.interface, "up")
        yield Medium(plc, tuple(vehicles), tuple(stations[evs:]))
    finally:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
