"""The SECC's read side of a V2GTP connection: whole messages out of a TCP byte stream.

iso15118 0.31.2 reads ``reader.read(7000)`` once per message and takes whatever one
read returns for one whole V2GTP message, so a header and body sent apart, a message
sent a byte at a time, or two messages in one segment end the session. ``FramedReader``
stands in for the session's ``StreamReader``: each ``read`` returns exactly one whole
message the SECC accepts in the session's present phase, however it was segmented
(see the decision record "The SECC reads V2GTP as a byte stream").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

# V2G_SECC_Sequence_Timeout, the longest the SECC waits for the EV's next request after
# its last response: 60 s in ISO 15118-2 [V2G2-443], ISO 15118-20 (Table 215) and DIN
# SPEC 70121 alike (iso15118's ``Timeouts.V2G_SECC_SEQUENCE_TIMEOUT``).
from v2g.secc.config import SEQUENCE_TIMEOUT_S as SEQUENCE_TIMEOUT_S  # noqa: PLC0414
from v2g.secc.v2gtp import HEADER_BYTES, FrameRefused, Phase, check_header

logger = logging.getLogger(__name__)


class V2gtpStreamError(ConnectionResetError):
    """The EV's byte stream cannot go on: its framing is lost, a message is over its
    bound, or no whole message came within the sequence timeout. A
    ``ConnectionResetError`` so that the package's read loop ends the session the way it
    ends one whose peer reset the connection (contactors open, power 0), without a
    traceback."""


class FramedReader:
    """One V2GTP message per ``read``, from ``source`` (the connection's bytes).

    ``phase_of`` says what the session expects now (asked per message: a -20 payload
    type is only right once SupportedAppProtocol agreed on -20). A frame of a payload
    type the phase does not know but with a plausible length is ignored as the
    standards say (-2 §7.8.3.2, -20 §7.8.3); the next frame is read. At the end of the
    stream, ``read`` returns ``b""`` and ``at_eof`` is true, as a ``StreamReader``'s.
    """

    def __init__(
        self,
        source: asyncio.StreamReader,
        phase_of: Callable[[], Phase],
        peer: object,
        sequence_timeout_s: float = SEQUENCE_TIMEOUT_S,
    ) -> None:
        if sequence_timeout_s <= 0:
            raise ValueError(f"sequence timeout must be positive, not {sequence_timeout_s} s")
        self._source = source
        self._phase_of = phase_of
        self._peer = peer
        self._sequence_timeout_s = sequence_timeout_s
        self._waiting = False

    @property
    def waiting_for_request(self) -> bool:
        """True from the start of a ``read`` until it returned a whole message: while it
        waits, and after it ended without one (timeout, framing lost, end of stream,
        or cancelled by the package's own timeout). The SECC then has no answer in
        flight, so a session ending now need not linger for one to go out."""
        return self._waiting

    def at_eof(self) -> bool:
        return self._source.at_eof()

    def feed_eof(self) -> None:
        """The package ends a session by feeding EOF to its reader."""
        self._source.feed_eof()

    async def read(self, n: int = -1) -> bytes:
        """The next whole V2GTP message (header and payload) the phase accepts; ``n`` is
        ignored (a message is as long as its header says, within its bound)."""
        self._waiting = True
        try:
            async with asyncio.timeout(self._sequence_timeout_s):
                message = await self._next_message()
        except TimeoutError:
            problem = (
                f"no whole V2GTP message from {self._peer} within {self._sequence_timeout_s:g} s "
                "(V2G_SECC_Sequence_Timeout)"
            )
            logger.warning("%s; session ended", problem)
            raise V2gtpStreamError(problem) from None
        self._waiting = not message
        return message

    async def _next_message(self) -> bytes:
        while True:
            header_bytes = await self._exactly(HEADER_BYTES, "header")
            if header_bytes is None:
                return b""
            try:
                header = check_header(header_bytes, self._phase_of())
            except FrameRefused as refused:
                if not refused.skippable or refused.header is None:
                    logger.warning(
                        "V2GTP frame from %s refused: %s; session ended", self._peer, refused
                    )
                    raise V2gtpStreamError(f"V2GTP frame refused: {refused}") from None
                logger.warning("V2GTP frame from %s ignored: %s", self._peer, refused)
                if await self._exactly(refused.header.payload_length, "ignored payload") is None:
                    return b""
                continue
            payload = await self._exactly(header.payload_length, "payload")
            if payload is None:
                return b""
            return header_bytes + payload

    async def _exactly(self, count: int, part: str) -> bytes | None:
        """``count`` bytes, or ``None`` when the EV closed the connection first (logged
        when it closed mid-message)."""
        try:
            return await self._source.readexactly(count)
        except asyncio.IncompleteReadError as closed:
            if closed.partial or part != "header":
                logger.warning(
                    "V2GTP connection from %s closed mid-message (%d of %d %s bytes)",
                    self._peer,
                    len(closed.partial),
                    count,
                    part,
                )
            return None
