"""Demand response in domain terms: events, the book of accepted events, and the
dispatch targets they become (pure)."""

from v2g.demand_response.book import EventBook, Outcome
from v2g.demand_response.event import KINDS, DemandResponseEvent, InvalidEvent
from v2g.demand_response.target import DispatchTarget, dispatch_target

__all__ = [
    "KINDS",
    "DemandResponseEvent",
    "DispatchTarget",
    "EventBook",
    "InvalidEvent",
    "Outcome",
    "dispatch_target",
]
