"""The aggregator: folds inputs into its state and runs the control cycle."""

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.link import MailboxLink, RecordingLink, SessionLink
from v2g.aggregator.snapshot import Snapshot
from v2g.aggregator.state import (
    AggregatorState,
    CancelEvent,
    Input,
    SetFleetCap,
    SetPrices,
    fold,
)

__all__ = [
    "Aggregator",
    "AggregatorState",
    "CancelEvent",
    "Input",
    "MailboxLink",
    "RecordingLink",
    "SessionLink",
    "SetFleetCap",
    "SetPrices",
    "Snapshot",
    "fold",
]
