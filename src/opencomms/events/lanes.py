"""Several batches of one sink in flight at once, with the order of each Message's events
kept: a round's events are split into lanes by their Message (an operation's own events by
their operation), each lane sent in order, one batch after another.

A round reads the events after the sink's cursor (up to `lanes × batch_size ×
ROUND_BATCHES`: a few batches per lane, so that the round's fixed costs, a read and the
last record, are shared by more events), leaves out
those a lane already delivered (`LaneProgress`), and splits the rest: the whole backlog in
one batch when it fits in one (commit order, as a single batch always kept it), otherwise
each event goes to lane `crc32(key) % lanes`, as many of those gathered into each lane of
the round as keeps the round's batches full, and each is cut into batches. Every
event of one Message is in the same lane, and rounds of a sink follow one another, so a
Message's events reach the receiver in the order they were written.

What was delivered is recorded after every batch (docs/events.md, "Delivery
guarantees"): the sink's cursor moves to just before the first event of the round not yet
delivered, and `LaneProgress` keeps, per lane, the last event it delivered beyond that
cursor. An event at or before its lane's mark was delivered: every event of a lane before
the mark was sent before it, in the same round or an earlier one. So a new owner (after a
crash or a takeover) starts from the cursor, leaves out what the marks cover, and sends
the rest: at least once, nothing skipped.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from opencomms.store.jsoncol import dump, load
from opencomms.store.sinks import PendingEvent

__all__ = ["ROUND_BATCHES", "LaneProgress", "Position", "Round", "lane_of"]

Position = tuple[int, int]  # (txid, seq): a place in the outbox's commit order
ROUND_BATCHES = 4  # batches per lane in a full round


def _position(event: PendingEvent) -> Position:
    return (event.txid, event.seq)


def lane_of(event: PendingEvent, lanes: int) -> int:
    """The lane of an event: by its Message, or by its operation for an operation's own
    events. crc32, not hash(): the same in every process and after a restart."""
    key = event.message_id or event.operation_id
    return zlib.crc32(key.encode()) % lanes


class LaneProgress:
    """Per lane, the last event it delivered beyond the sink's cursor (None: nothing)."""

    def __init__(self, lanes: int, marks: list[Position | None] | None = None) -> None:
        self.lanes = lanes
        self.marks: list[Position | None] = marks or [None] * lanes

    @classmethod
    def decode(cls, text: str | None, lanes: int) -> LaneProgress:
        """The stored progress; none when it was stored with another number of lanes (its
        events are then sent again: at least once)."""
        stored = load(text)
        if not stored or stored["lanes"] != lanes:
            return cls(lanes)
        marks = [None if mark is None else (int(mark[0]), int(mark[1])) for mark in stored["marks"]]
        return cls(lanes, marks)

    def encode(self, cursor: Position) -> str | None:
        """What to store beside `cursor`: the marks beyond it (None when there is none)."""
        marks = [mark if mark is not None and mark > cursor else None for mark in self.marks]
        if all(mark is None for mark in marks):
            return None
        return dump({"lanes": self.lanes, "marks": marks})

    def covers(self, event: PendingEvent) -> bool:
        mark = self.marks[lane_of(event, self.lanes)]
        return mark is not None and _position(event) <= mark

    def passed(self, events: Sequence[PendingEvent]) -> None:
        """These events were delivered (or given up on), in order."""
        for event in events:
            self.marks[lane_of(event, self.lanes)] = _position(event)


class Round:
    """One window of a sink's events after its cursor, split into lanes of batches."""

    def __init__(
        self, window: Sequence[PendingEvent], progress: LaneProgress, batch_size: int
    ) -> None:
        self.window = list(window)
        self.progress = progress
        pending = [event for event in self.window if not progress.covers(event)]
        self.lanes: list[list[list[PendingEvent]]] = _split(pending, progress.lanes, batch_size)
        self._open = 0  # the first event of the window perhaps not delivered yet

    def cursor(self) -> Position | None:
        """Just before the first event of the window not delivered yet (the last event
        when all are); None when that is the cursor the round started from."""
        window, covers = self.window, self.progress.covers
        while self._open < len(window) and covers(window[self._open]):
            self._open += 1  # the marks only move forward: what is covered stays so
        return _position(window[self._open - 1]) if self._open else None

    def done(self) -> bool:
        self.cursor()
        return self._open == len(self.window)


def _split(
    pending: list[PendingEvent], lanes: int, batch_size: int
) -> list[list[list[PendingEvent]]]:
    """Lanes (each a list of batches, sent in order) of the pending events: no more lanes
    than full batches need, so that a backlog of 300 goes in 3 POSTs, not 8. A lane of
    the round gathers whole lanes (`lane_of % used`): each batch holds, of every lane it
    gathers, the next events in order, so the lanes' marks mean what they say."""
    used = min(lanes, -(-len(pending) // batch_size))
    if used <= 1:
        return [[pending]] if pending else []
    by_lane: list[list[PendingEvent]] = [[] for _ in range(used)]
    for event in pending:
        by_lane[lane_of(event, lanes) % used].append(event)
    return [
        [lane[start : start + batch_size] for start in range(0, len(lane), batch_size)]
        for lane in by_lane
        if lane
    ]
