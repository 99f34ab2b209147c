"""The fleet: every connected vehicle, folded from session events (a pure function)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from v2g.fleet.member import FleetMember
from v2g.fleet.policy import Charger, OwnerPolicy
from v2g.session import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
)


class FleetError(ValueError):
    """An event the fleet cannot fold (an unknown EVSE, a session that never started)."""


@dataclass(frozen=True)
class Site:
    """The chargers the aggregator controls, and the owners' terms per vehicle id."""

    chargers: Mapping[str, Charger]
    policies: Mapping[str, OwnerPolicy] = field(default_factory=dict)
    default_policy: OwnerPolicy = field(default_factory=OwnerPolicy)

    @classmethod
    def of(cls, chargers: list[Charger], **kwargs: object) -> Site:
        return cls({c.evse_id: c for c in chargers}, **kwargs)  # type: ignore[arg-type]

    def policy_for(self, ev_id: str | None, evse_id: str) -> OwnerPolicy:
        for key in (ev_id, evse_id):
            if key is not None and key in self.policies:
                return self.policies[key]
        return self.default_policy


@dataclass(frozen=True)
class Fleet:
    """Connected vehicles by EVSE id. ``apply`` returns a new fleet; this one never changes."""

    members: Mapping[str, FleetMember] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", MappingProxyType(dict(self.members)))

    def __iter__(self) -> Iterator[FleetMember]:
        return iter(self.members.values())

    def __len__(self) -> int:
        return len(self.members)

    def apply(self, event: SessionEvent, site: Site) -> Fleet:
        """The fleet after ``event``. Raises FleetError for events it cannot place."""
        if isinstance(event, SessionStarted):
            charger = site.chargers.get(event.evse_id)
            if charger is None:
                raise FleetError(
                    f"session {event.session_id} started at unknown EVSE {event.evse_id}"
                )
            member = FleetMember(
                charger=charger,
                session_id=event.session_id,
                plugged_in_at=event.at,
                policy=site.policy_for(event.ev_id, event.evse_id),
                ev_id=event.ev_id,
            )
            return self._with(member)
        known = self.members.get(event.evse_id)
        if known is None or known.session_id != event.session_id:
            raise FleetError(
                f"{type(event).__name__} for session {event.session_id} at {event.evse_id}, "
                "which has no open session"
            )
        member = known
        if isinstance(event, SessionEnded):
            return Fleet({k: v for k, v in self.members.items() if k != event.evse_id})
        if isinstance(event, NeedsReported):
            soc = event.needs.soc_percent
            return self._with(
                replace(
                    member,
                    needs=event.needs,
                    soc_percent=soc if soc is not None else member.soc_percent,
                )
            )
        if isinstance(event, LimitsReported):
            return self._with(replace(member, ev_limits=event.ev_limits))
        if isinstance(event, PowerMeasured):
            return self._with(member.with_measurement(event.at, event.power_w, event.soc_percent))
        raise FleetError(f"unknown event {event!r}")

    def _with(self, member: FleetMember) -> Fleet:
        return Fleet({**self.members, member.evse_id: member})
