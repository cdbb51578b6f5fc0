"""Every table, as SQLAlchemy Core metadata: the map that the migrations must match.

Conventions, chosen so the same SQL runs on SQLite and PostgreSQL: timestamps are
BIGINT milliseconds since the epoch, JSON documents are TEXT, flags are INTEGER 0/1,
ids are TEXT (ULID-based ids sort by creation time, which pagination relies on).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = ["FAILED_WITH_CODE", "metadata"]

# the Messages an operation's Errors count: settled as failures, with their error
FAILED_WITH_CODE = "error_code IS NOT NULL AND status IN ('FAILED', 'UNDELIVERED')"

metadata = sa.MetaData()

# Ids compare byte by byte (COLLATE "C" on PostgreSQL) whatever the database's collation:
# keyset paging relies on their order, and C comparisons are also the cheapest.
Id = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
Time = sa.BigInteger
Json = sa.Text
Flag = sa.Integer

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("sid", Id, primary_key=True),
    sa.Column("auth_token_hash", sa.Text, nullable=False),
    # the auth token sealed with the server's key: X-Twilio-Signature needs the token itself
    sa.Column("auth_token_sealed", sa.Text, nullable=False),
    # the Standard Webhooks secret of the per-request `callbacks` shortcut, sealed
    sa.Column("webhook_secret_sealed", sa.Text, nullable=False),
    sa.Column("friendly_name", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("sid", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False, index=True),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("friendly_name", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

senders = sa.Table(
    "senders",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("connector", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("tags", Json, nullable=False),
    sa.Column("fallback_timeout_ms", sa.BigInteger, nullable=False),
    sa.Column("receipt_wait_ms", sa.BigInteger, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # the address as owned in sender_addresses: every spelling of it gives one key
    # (domain/sender_addresses.py)
    sa.Column("address_key", sa.Text, nullable=False),
    # the name recipients may see beside the address (an email's From name), or NULL
    sa.Column("display_name", sa.Text, nullable=True),
    sa.UniqueConstraint("account_sid", "channel", "address", name="uq_senders_address"),
    sa.Index("ix_senders_account", "account_sid", "id"),
)

# Who owns each address on each connector: one account, or the operator (NULL: a
# configured or simulator sender, which every account has). Written with the senders.
sender_addresses = sa.Table(
    "sender_addresses",
    metadata,
    sa.Column("connector", sa.Text, primary_key=True),
    sa.Column("address_key", sa.Text, primary_key=True),
    sa.Column("account_sid", Id, nullable=True),
)

sender_pools = sa.Table(
    "sender_pools",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tags", Json, nullable=False),
    sa.Column("is_default", Flag, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_sender_pools_account", "account_sid", "id"),
)

# Twilio's SenderPool Operations: each pool create or add of senders, with its outcome
sender_pool_operations = sa.Table(
    "sender_pool_operations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("pool_id", Id, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("created", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_sender_pool_operations_account", "account_sid", "id"),
)

sender_pool_members = sa.Table(
    "sender_pool_members",
    metadata,
    sa.Column("pool_id", Id, primary_key=True),
    sa.Column("sender_id", Id, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_sender_pool_members_sender", "sender_id"),
)

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    # content, tags, callbacks and the ordered senders resolved at accept time
    sa.Column("spec", Json, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("unaddressable", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("scheduled", sa.Integer, nullable=False),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("sent", sa.Integer, nullable=False),
    sa.Column("delivered", sa.Integer, nullable=False),
    sa.Column("read", sa.Integer, nullable=False),
    sa.Column("undelivered", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("canceled", sa.Integer, nullable=False),
    # Messages for which no further attempt is planned; COMPLETED when it reaches total
    sa.Column("settled", sa.Integer, nullable=False),
    # recipients already fanned out into Messages (or counted unaddressable)
    sa.Column("fanout_cursor", sa.Integer, nullable=False),
    sa.Column("send_at", Time, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_operations_account", "account_sid", "id"),
    # the few operations still sending, among all those ever made
    sa.Index(
        "ix_operations_running",
        "id",
        sqlite_where=sa.text("status IN ('SCHEDULED', 'PROCESSING')"),
        postgresql_where=sa.text("status IN ('SCHEDULED', 'PROCESSING')"),
    ),
    # the same, per account: the dispatcher's turns between accounts
    sa.Index(
        "ix_operations_running_account",
        "account_sid",
        "id",
        sqlite_where=sa.text("status IN ('SCHEDULED', 'PROCESSING')"),
        postgresql_where=sa.text("status IN ('SCHEDULED', 'PROCESSING')"),
    ),
    # the pruner's queue: finished operations, oldest change first
    sa.Index(
        "ix_operations_finished",
        "updated_at",
        sqlite_where=sa.text("status IN ('COMPLETED', 'CANCELED')"),
        postgresql_where=sa.text("status IN ('COMPLETED', 'CANCELED')"),
    ),
)

operation_recipients = sa.Table(
    "operation_recipients",
    metadata,
    sa.Column("operation_id", Id, primary_key=True),
    # the validated `to` list, kept until the fan-out has turned it into Messages
    sa.Column("recipients", Json, nullable=False),
)

unaddressable = sa.Table(
    "unaddressable",
    metadata,
    sa.Column("operation_id", Id, primary_key=True),
    sa.Column("recipient_index", sa.Integer, primary_key=True),
    sa.Column("recipient", Json, nullable=False),
    sa.Column("error_code", sa.Integer, nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    sa.Index("ix_unaddressable_errors", "operation_id", "error_code", "recipient_index"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("operation_id", Id, nullable=False),
    sa.Column("recipient_index", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("recipient", Json, nullable=False),
    # [[address, recipient channel, sender id], ...] in the order they are tried
    sa.Column("candidates", Json, nullable=False),
    sa.Column("candidate_count", sa.Integer, nullable=False),
    sa.Column("content", Json, nullable=False),
    sa.Column("tags", Json, nullable=False),
    sa.Column("channel", sa.Text, nullable=True),
    sa.Column("sender", Json, nullable=True),
    sa.Column("attempt_count", sa.Integer, nullable=False),
    sa.Column("next_candidate", sa.Integer, nullable=False),
    sa.Column("current_attempt_id", Id, nullable=True),
    sa.Column("settled", Flag, nullable=False),
    # when the dispatcher must next look at it: send, fallback timeout, receipt wait
    sa.Column("due_at", Time, nullable=True),
    sa.Column("scheduled_for", Time, nullable=True),
    sa.Column("encoding", sa.Text, nullable=True),
    sa.Column("segments", sa.Integer, nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_messages_operation", "operation_id", "id"),
    sa.Index("ix_messages_account", "account_sid", "id"),
    # an operation's errors by code (GET .../Operations/{id}/Errors): its failed Messages
    sa.Index(
        "ix_messages_operation_errors",
        "operation_id",
        "error_code",
        "id",
        sqlite_where=sa.text(FAILED_WITH_CODE),
        postgresql_where=sa.text(FAILED_WITH_CODE),
    ),
    sa.Index(
        "ix_messages_due",
        "due_at",
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    ),
    # the dispatcher's fair share: each running operation's due Messages, in due order
    sa.Index(
        "ix_messages_operation_due",
        "operation_id",
        "due_at",
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    ),
)

message_tags = sa.Table(
    "message_tags",
    metadata,
    sa.Column("message_id", Id, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Index("ix_message_tags_pair", "key", "value", "message_id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("message_id", Id, nullable=False, index=True),
    sa.Column("operation_id", Id, nullable=False),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("sender_id", Id, nullable=False),
    sa.Column("connector", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("from_address", sa.Text, nullable=False),
    sa.Column("to_address", sa.Text, nullable=False),
    sa.Column("to_channel", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    # 1 from the claim until the connector's answer is recorded: an attempt found in
    # flight after a restart may or may not have reached the connector
    sa.Column("in_flight", Flag, nullable=False),
    sa.Column("submitted_at", Time, nullable=True),
    sa.Column("provider_message_id", sa.Text, nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("attempted_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # an inbound message to an operator's address goes to who sent last to its writer
    sa.Index("ix_attempts_to_address", "to_address"),
    # receipts find their attempt by the provider's id (the simulator's name ours: no id)
    sa.Index(
        "ix_attempts_provider_message_id",
        "provider_message_id",
        sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
    ),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("run_at", Time, nullable=False),
    sa.Column("locked_until", Time, nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    # whose work it is and how much (a fan-out: its operation's recipients), so that the
    # fan-out claim takes turns between accounts and batches the small ones
    sa.Column("account_sid", sa.Text, nullable=False, server_default=sa.text("''")),
    sa.Column("size", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
    sa.Index("ix_jobs_run_at", "run_at"),
    # the fair claim (store/jobs.py): each account's oldest jobs, and the large ones
    sa.Index("ix_jobs_fair", "kind", "account_sid", "run_at", "id"),
    sa.Index("ix_jobs_size", "kind", "size"),
)

# The transactional outbox: one row per event, written in the transaction of the change
# that caused it. `txid` (PostgreSQL: the writing transaction's id) lets a reader walk
# the events in commit order: it only reads rows of transactions older than every
# running one, so no row can appear later behind its cursor. On SQLite, with one writer,
# `seq` is already in commit order and `txid` stays 0.
events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "txid",
        sa.BigInteger,
        nullable=False,
        server_default=sa.text("0"),
    ),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("operation_id", Id, nullable=False),
    sa.Column("message_id", Id, nullable=True),
    sa.Column("attempt_id", Id, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_events_account", "account_sid", "txid", "seq"),
    sa.Index("ix_events_created", "created_at"),
    # the events of an operation being pruned
    sa.Index("ix_events_operation", "operation_id"),
    # a seq is never given twice, even once every event was pruned: sinks' cursors and
    # the delivery worker's watch (store/outbox_watch.py) count on it
    sqlite_autoincrement=True,
)

sinks = sa.Table(
    "sinks",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    # "webhook": made through /v1/Sinks; "callback": made by a send's `callbacks.url`
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # the Standard Webhooks secret sealed with the server's key ("" for a callback sink,
    # which signs with its account's)
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    # the last event delivered (or given up on), in commit order
    sa.Column("cursor_txid", sa.BigInteger, nullable=False),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False),
    # per lane, the last event delivered beyond the cursor (JSON; events/lanes.py)
    sa.Column("lane_progress", sa.Text, nullable=True),
    # False: each event is POSTed alone, as one CloudEvent object (Twilio's batch_events)
    sa.Column("batch_events", sa.Boolean, nullable=False, server_default=sa.true()),
    # retries of the batch after the cursor
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("failing_since", Time, nullable=True),
    sa.Column("next_attempt_at", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # a callback sink: when a send last named it (it expires unused); NULL for the others
    sa.Column("last_used_at", Time, nullable=True),
    sa.Index("ix_sinks_account", "account_sid", "id"),
    # sinks waiting to retry a failed batch: the only ones due by time alone
    sa.Index("ix_sinks_retry", "tries", "next_attempt_at"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("sink_id", Id, nullable=False, index=True),
    sa.Column("types", Json, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", Time, nullable=True),
    sa.Index("ix_subscriptions_account", "account_sid", "id"),
)

operation_callbacks = sa.Table(
    "operation_callbacks",
    metadata,
    sa.Column("operation_id", Id, primary_key=True),
    sa.Column("sink_id", Id, nullable=False, index=True),
)

sink_deliveries = sa.Table(
    "sink_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("sink_id", Id, nullable=False),
    sa.Column("attempted_at", Time, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("first_event_id", sa.Text, nullable=False),
    sa.Column("last_event_id", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Time, nullable=True),
    sa.Index("ix_sink_deliveries_sink", "sink_id", "id"),
    sa.Index("ix_sink_deliveries_attempted", "attempted_at"),
)

# A replay resends a sink's events of a time range, with its own cursor, beside the
# sink's live stream; the row goes once the range is sent.
sink_replays = sa.Table(
    "sink_replays",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("sink_id", Id, nullable=False, index=True),
    sa.Column("since_ms", Time, nullable=False),
    sa.Column("until_ms", Time, nullable=False),
    sa.Column("cursor_txid", sa.BigInteger, nullable=False),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

# `Idempotency-Key` of a send: PENDING while the request holding it is being accepted,
# DONE with the answer it got, recorded in the transaction that stored the operation.
# Forgotten `retention.idempotency_keys` (24 h) after `created_at` (store/idempotency.py).
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_sid", Id, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    # SHA-256 of the request's raw body, hex
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", Json, nullable=True),
    sa.Column("response_headers", Json, nullable=True),
    # when it was claimed; also the claim's stamp
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_idempotency_keys_created", "account_sid", "created_at"),
    sa.Index("ix_idempotency_keys_expiry", "created_at"),
)

# The suppression list: a recipient here gets no attempt (on `channel`, or on any channel
# when it is NULL). Entries come from the API or from inbound STOP keywords.
opt_outs = sa.Table(
    "opt_outs",
    metadata,
    sa.Column("account_sid", Id, primary_key=True),
    sa.Column("address", sa.Text, primary_key=True),
    sa.Column("id", Id, nullable=False),
    sa.Column("channel", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=False),  # API or KEYWORD
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_opt_outs_id", "account_sid", "id", unique=True),
)

# What recipients wrote to our senders; announced as message.inbound-received events.
inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", Id, primary_key=True),
    # NULL: written to an operator's address from which no account had sent to the writer
    sa.Column("account_sid", Id, nullable=True),
    sa.Column("connector", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("from_address", sa.Text, nullable=False),
    sa.Column("to_address", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("keyword", sa.Text, nullable=True),  # STOP or START when it was one
    sa.Column("provider_message_id", sa.Text, nullable=True),
    sa.Column("received_at", Time, nullable=False),
    sa.Index("ix_inbound_messages_received", "received_at"),
    # a provider that reports a message again (a webhook retried) is heard once
    sa.Index(
        "ix_inbound_messages_provider_id",
        "connector",
        "provider_message_id",
        sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
    ),
)

# The parts of an attempt sent in several (a long SMS over SMPP), each with its own
# provider id and receipt: the attempt is DELIVERED once every part is.
attempt_parts = sa.Table(
    "attempt_parts",
    metadata,
    sa.Column("provider_message_id", sa.Text, primary_key=True),
    sa.Column("attempt_id", Id, nullable=False, index=True),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
)

# Receipts whose provider id no attempt carries yet: a receipt may overtake the submit's
# answer. They are applied when the answer is recorded.
early_receipts = sa.Table(
    "early_receipts",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("provider_message_id", sa.Text, nullable=False, index=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("received_at", Time, nullable=False),
)

# An operation deleted by the retention policy (store/retention.py), remembered so that a
# GET of it, or of one of its Messages (ids within [first, last]), says what became of
# it. `cleared` once every row that hung off it is gone too.
pruned_operations = sa.Table(
    "pruned_operations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("first_message_id", Id, nullable=True),
    sa.Column("last_message_id", Id, nullable=True),
    sa.Column("finished_at", Time, nullable=False),
    sa.Column("pruned_at", Time, nullable=False),
    sa.Column("cleared", Flag, nullable=False),
    sa.Index("ix_pruned_operations_messages", "account_sid", "first_message_id"),
    sa.Index("ix_pruned_operations_age", "cleared", "pruned_at"),
)

# Content templates (`/v1/Content`, as Twilio's Content API): turned into a send's channel
# modules when the send is accepted, so deleting one never touches an accepted send.
content_templates = sa.Table(
    "content_templates",
    metadata,
    sa.Column("sid", Id, primary_key=True),  # HX + 32 hex (a ULID): sorts by creation
    sa.Column("account_sid", Id, nullable=False),
    sa.Column("friendly_name", sa.Text, nullable=True),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("variables", Json, nullable=False),  # {"1": "default", ...}
    sa.Column("types", Json, nullable=False),  # {"twilio/text": {...}, ...}
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_content_templates_account", "account_sid", "sid", unique=True),
)

# Ownership leases (store/ownership.py): which process runs each singleton (a sink's
# delivery `sink:<id>`, a connector with limited sessions `connector:<name>`) until when.
ownership_leases = sa.Table(
    "ownership_leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),  # a process: host, pid and a random part
    sa.Column("expires_at", Time, nullable=False),  # by the database's clock
    sa.Column("taken_at", Time, nullable=False),
)
