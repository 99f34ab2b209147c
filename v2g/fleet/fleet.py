"""The fleet: every connected vehicle, folded from session events (a pure function)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from v2g.fleet.member import Asked, FleetMember, never_asked
from v2g.fleet.policy import Charger, DefaultNeeds, OwnerPolicy
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
    """The chargers the aggregator controls, the owners' terms per vehicle id, and the
    needs assumed for a vehicle that does not state its own."""

    chargers: Mapping[str, Charger[int]]
    policies: Mapping[str, OwnerPolicy] = field(default_factory=dict)
    default_policy: OwnerPolicy = field(default_factory=OwnerPolicy)
    default_needs: DefaultNeeds = field(default_factory=DefaultNeeds)

    @classmethod
    def of(
        cls,
        chargers: Sequence[Charger[int]],
        policies: Mapping[str, OwnerPolicy] | None = None,
        default_policy: OwnerPolicy | None = None,
        default_needs: DefaultNeeds | None = None,
    ) -> Site:
        """A site from a list of chargers (EVSE ids must be unique)."""
        by_id = {c.evse_id: c for c in chargers}
        if len(by_id) != len(chargers):
            raise ValueError("two chargers share an evse_id")
        return cls(
            by_id,
            dict(policies or {}),
            default_policy or OwnerPolicy(),
            default_needs or DefaultNeeds(),
        )

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
        """The fleet after ``event``. Raises FleetError for an event it cannot place."""
        members = dict(self.members)
        _fold(members, event, site)
        return Fleet(members)

    def apply_all(
        self, events: Iterable[SessionEvent], site: Site, asked: Asked = never_asked
    ) -> tuple[Fleet, list[FleetError]]:
        """The fleet after every event that could be placed, and the errors of those
        that could not (a bad event never stops the others). One copy for the batch,
        so folding a cycle's events costs O(fleet + events), not O(fleet x events).
        ``asked``: when DR events were in effect (what a vehicle gave to them counts)."""
        members = dict(self.members)
        errors = []
        for event in events:
            try:
                _fold(members, event, site, asked)
            except FleetError as error:
                errors.append(error)
        return Fleet(members), errors


def _fold(
    members: dict[str, FleetMember], event: SessionEvent, site: Site, asked: Asked = never_asked
) -> None:
    """Apply ``event`` to ``members`` in place (the working copy of a new Fleet)."""
    if isinstance(event, SessionStarted):
        charger = site.chargers.get(event.evse_id)
        if charger is None:
            raise FleetError(f"session {event.session_id} started at unknown EVSE {event.evse_id}")
        known = members.get(event.evse_id)
        if known is not None and known.session_id == event.session_id:
            return  # a replay (a shard rebuilt, a station resending): keep what it learned
        members[event.evse_id] = FleetMember(
            charger=charger,
            session_id=event.session_id,
            plugged_in_at=event.at,
            policy=site.policy_for(event.ev_id, event.evse_id),
            ev_id=event.ev_id,
            default_needs=site.default_needs,
        )
        return
    member = members.get(event.evse_id)
    if member is None or member.session_id != event.session_id:
        raise FleetError(
            f"{type(event).__name__} for session {event.session_id} at {event.evse_id}, "
            "which has no open session"
        )
    if isinstance(event, SessionEnded):
        del members[event.evse_id]
    elif isinstance(event, NeedsReported):
        members[event.evse_id] = member.with_needs(event.needs)
    elif isinstance(event, LimitsReported):
        members[event.evse_id] = member.with_ev_limits(event.ev_limits)
    elif isinstance(event, PowerMeasured):
        members[event.evse_id] = member.with_measurement(
            event.at, event.power_w, event.soc_percent, asked
        )
    else:
        raise FleetError(f"unknown event {event!r}")
