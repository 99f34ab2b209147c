"""Two network namespaces joined by a veth pair, created and always removed again."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be created here (not root, or no iproute2)."""


@dataclass(frozen=True, slots=True)
class NetnsEnd:
    """One end of the link: a namespace and the interface inside it."""

    namespace: str
    interface: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*argv: str) -> None:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"ip {' '.join(argv)} failed: {result.stderr.strip()}")


def _sysctl(namespace: str, setting: str) -> None:
    _ip("netns", "exec", namespace, "sysctl", "-qw", setting)


@contextmanager
def veth_link(tag: str | None = None) -> Iterator[tuple[NetnsEnd, NetnsEnd]]:
    """Yield (charger end, vehicle end); remove both namespaces on exit.

    Duplicate address detection is switched off so the IPv6 link-local addresses SDP
    needs are usable at once instead of after ~2 s.
    """
    if os.geteuid() != 0:
        raise NetnsUnavailable("creating network namespaces needs root")
    tag = tag or str(os.getpid())
    charger = NetnsEnd(f"v2g-secc-{tag}", f"vs{tag}"[:15])
    vehicle = NetnsEnd(f"v2g-ev-{tag}", f"ve{tag}"[:15])
    created: list[str] = []
    try:
        for end in (charger, vehicle):
            _ip("netns", "add", end.namespace)
            created.append(end.namespace)
        _ip("link", "add", charger.interface, "type", "veth", "peer", "name", vehicle.interface)
        for end in (charger, vehicle):
            _ip("link", "set", end.interface, "netns", end.namespace)
            for setting in (
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                f"net.ipv6.conf.{end.interface}.accept_dad=0",
            ):
                _sysctl(end.namespace, setting)
            _ip("-n", end.namespace, "link", "set", "lo", "up")
            _ip("-n", end.namespace, "link", "set", end.interface, "up")
        yield charger, vehicle
    finally:
        for namespace in created:
            # Deleting a namespace also deletes the veth end inside it (and its peer).
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
