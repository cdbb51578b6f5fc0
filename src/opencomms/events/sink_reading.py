"""What one round of a sink needs, read in one transaction: the sink, its next events
(the live stream's window, or a replay's next batch), what their `data` is rendered from,
and the keys that sign them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opencomms.domain.clock import now_ms
from opencomms.domain.event_types import MESSAGE_INBOUND_RECEIVED
from opencomms.events.lanes import ROUND_BATCHES, LaneProgress, Round
from opencomms.events.payloads import render
from opencomms.sealing import Sealer
from opencomms.store import accounts, inbound_messages, sinks
from opencomms.store.database import Conn
from opencomms.store.sinks import PendingEvent, Replay, SinkRecord

__all__ = ["SinkRound", "read_round"]


@dataclass
class SinkRound:
    sink: SinkRecord
    round: Round
    envelopes: dict[int, dict[str, Any]]  # by seq, every pending event's
    auth_token: str
    webhook_secret: str
    replay: Replay | None = None


async def read_round(
    conn: Conn, sealer: Sealer, sink_id: str, lanes: int, batch_size: int
) -> SinkRound | None:
    """The sink's next round; None when it has nothing to send now. A replay whose range
    is all sent comes back with no events."""
    sink = await sinks.sink_by_id(conn, sink_id)
    # a sink waiting to retry is not due, even when a round found it due while it was
    # busy with the delivery that failed
    if sink is None or sink.status != "ACTIVE" or sink.next_attempt_at > now_ms():
        return None
    if not sink.batch_events:  # each event is POSTed alone
        batch_size = 1
    patterns = await sinks.subscription_types(conn, sink.id)
    progress = LaneProgress.decode(await sinks.lane_progress(conn, sink.id), lanes)
    window = await sinks.pending_events(conn, sink, patterns, lanes * batch_size * ROUND_BATCHES)
    replay = None
    if not window:  # the live stream is idle: resend a replayed range, if one waits
        replay = await sinks.next_replay(conn, sink.id)
        if replay is None:
            return None
        # a replay is sent one batch at a time, with its own cursor
        progress = LaneProgress(1)
        window = await sinks.pending_events(conn, sink, patterns, batch_size, replay)
    found = Round(window, progress, batch_size)
    pending = [event for lane in found.lanes for batch in lane for event in batch]
    secrets = await accounts.signing_secrets(conn, sink.account_sid)
    if secrets is None:
        return None
    envelopes = await _rendered(conn, sink.account_sid, pending)
    account_secret = sealer.unseal(secrets.webhook_secret_sealed)
    webhook_secret = (
        account_secret if sink.kind == "callback" else sealer.unseal(sink.secret_sealed)
    )
    token = sealer.unseal(secrets.auth_token_sealed)
    return SinkRound(sink, found, envelopes, token, webhook_secret, replay)


async def _rendered(
    conn: Conn, account_sid: str, events: Sequence[PendingEvent]
) -> dict[int, dict[str, Any]]:
    """The CloudEvents envelope of each event, by seq."""
    if not events:
        return {}
    attempts = sorted({e.attempt_id for e in events if e.attempt_id})  # 4 events an attempt
    contexts = await sinks.attempt_contexts(conn, attempts)
    received = await inbound_messages.get_inbound(
        conn,
        [e.message_id for e in events if e.type == MESSAGE_INBOUND_RECEIVED and e.message_id],
    )
    rendered = render(events, contexts, received, account_sid)
    return {event.seq: envelope for event, envelope in zip(events, rendered, strict=True)}
