"""The running engine: database, connectors and background workers, started and stopped
as one. `create_app` hangs it on the app; the CLI and tests start it through the app's
lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from opencomms.background.backoff import Backoff
from opencomms.background.ownership import Ownership
from opencomms.connectors.base import Connector, Inbound, Receipt
from opencomms.connectors.registry import build_connectors
from opencomms.domain.clock import now_ms
from opencomms.domain.durations import parse_duration_ms
from opencomms.engine.batching import BatchApplier
from opencomms.engine.dispatcher import Dispatcher
from opencomms.engine.fanout import FanoutWorker
from opencomms.engine.inbound import apply_inbound, storable_inbound
from opencomms.engine.provider_ids import keyed_receipts
from opencomms.engine.provisioning import provision_account, provision_configured
from opencomms.engine.pruning import Pruner, RetentionPolicy
from opencomms.engine.receipts import apply_receipts, sweep_early_receipts
from opencomms.engine.rendering import Renderer
from opencomms.engine.singletons import ConnectorOwners, session_connectors, singleton_connectors
from opencomms.events.posting import PostLimits
from opencomms.events.sink_delivery import DeliveryPolicy, EventDelivery
from opencomms.events.sink_expiry import expire_callback_sinks
from opencomms.events.ssrf import CallbackPolicy
from opencomms.metrics.timed_database import TimedDatabase
from opencomms.sealing import Sealer, WrongServerKey, server_sealer
from opencomms.settings import Settings
from opencomms.store import accounts, dispatch_state, jobs, ownership
from opencomms.store.database import Conn, Database, one_at_a_time
from opencomms.store.errors import StoreUnavailable
from opencomms.store.open import open_database
from opencomms.store.outbox_doorbell import OutboxDoorbell
from opencomms.store.outbox_notify import OutboxNotifier, listen

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
Loop = tuple[str, Callable[[], Awaitable[None]]]
EARLY_RECEIPT_SWEEP_S = 5.0


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        background: bool = True,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        """`background`: run the background workers (fan-out, dispatch, events, pruning...);
        without them (`serve --role api`) the process only stores what the API and the
        providers' webhooks hand it, and the workers of other processes find that work
        by polling (within their IDLE_POLL_S). `announce`: where the operator is told a
        new account's auth token, once (the CLI's terminal); without it the token is
        never shown."""
        self.settings = settings
        self._announce = announce
        self._background = background
        self.connectors: dict[str, Connector] = build_connectors(settings)
        self._db: Database | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dispatcher: Dispatcher | None = None
        self._fanout: FanoutWorker | None = None
        self._renderer = Renderer(settings.templates)
        self._receipts: BatchApplier[Receipt] | None = None
        self._inbound: BatchApplier[Inbound] | None = None
        self._sealer: Sealer | None = None
        self._page_key: bytes | None = None
        self._events: EventDelivery | None = None
        self._notifier: OutboxNotifier | None = None
        self.callback_policy = CallbackPolicy.from_cidrs(settings.server.allowed_callback_networks)
        self.retention = RetentionPolicy.from_settings(settings.retention)
        self._pruner: Pruner | None = None
        self._ownership: Ownership | None = None
        self._owners: ConnectorOwners | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the runtime is not started")
        return self._db

    def fanout_ready(self, recipients: int) -> None:
        """An operation of `recipients` was accepted: start its fan-out now rather than
        at the next poll."""
        if self._fanout is not None:
            self._fanout.wake(recipients)

    def _events_committed(self) -> None:
        if self._events is not None:
            self._events.ring()
        if self._notifier is not None:
            self._notifier.poke()

    def wake_sink(self, sink_id: str) -> None:
        """A sink's subscriptions changed: events it had none for may now be due."""
        if self._events is not None:
            self._events.wake(sink_id)

    @property
    def pruner(self) -> Pruner:
        if self._pruner is None:
            raise RuntimeError("the runtime is not started")
        return self._pruner

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            server = self.settings.server
            self._sealer = server_sealer(server.secret_key, server.secret_key_file)
        return self._sealer

    @property
    def page_key(self) -> bytes:
        """The key that signs page tokens (api/paging.py)."""
        if self._page_key is None:
            self._page_key = self.sealer.derive("opencomms page tokens")
        return self._page_key

    async def start(self) -> None:
        faults = self.settings.faults
        opened = await open_database(
            self.settings.server.database_url,
            sealer=self.sealer,
            connect_timeout_s=faults.connect_timeout_s,
            query_timeout_s=faults.query_timeout_s,
            sole_process=True,
        )
        # every write of the process goes through it: committed events are sent at once
        self._db = db = TimedDatabase(OutboxDoorbell(opened, self._events_committed))
        await self._check_server_key(db)
        if self._background and _sole_worker(db):
            await db.write(_release_claims)
        await self._provision_configured_account()
        backoff_s = faults.max_backoff_s
        receipts = self._receipts = BatchApplier(db, apply_receipts, max_backoff_s=backoff_s)
        inbound = self._inbound = BatchApplier(db, apply_inbound, max_backoff_s=backoff_s)
        owners = await self._start_connectors(db)
        loops: list[Loop] = [("receipts", receipts.run), ("inbound", inbound.run)]
        if self._background:
            loops += self._start_workers(db, backoff_s, owners)
        loops += self._notifying(opened, owners.ownership.owner)
        for name, run in loops:
            supervised = _supervise(name, run, backoff_s)
            self._tasks.append(asyncio.create_task(supervised, name=name))
        _tune_garbage_collector()

    def _start_workers(self, db: Database, backoff_s: float, owners: ConnectorOwners) -> list[Loop]:
        """The background workers, made; their loops, to run."""
        dispatcher = self._dispatcher = Dispatcher(
            db, self.connectors, max_backoff_s=backoff_s, elsewhere=owners.elsewhere
        )
        fanout = self._fanout = FanoutWorker(
            db, self._renderer, dispatcher.wake, max_backoff_s=backoff_s
        )
        events = self._events = EventDelivery(
            db, self.sealer, self.callback_policy, _delivery_policy(self.settings), owners.ownership
        )
        pruner = self._pruner = Pruner(db, self.retention)
        return [
            ("fanout", fanout.run_small),
            ("fanout of large operations", fanout.run_large),
            ("dispatcher", dispatcher.run),
            ("early receipts", partial(_sweep_early_receipts, db)),
            ("events", events.run),
            ("pruner", pruner.run),
            ("ownership", owners.ownership.run),
            ("connector owners", owners.run),
            (
                "callback sink expiry",
                partial(expire_callback_sinks, db, _callback_expiry_ms(self.settings)),
            ),
        ]

    def _notifying(self, db: Database, name: str) -> list[Loop]:
        """On PostgreSQL, the other processes hear of the events this one commits, and its
        delivery worker of theirs (store/outbox_notify.py)."""
        if db.dialect != "postgresql":
            return []
        notifier = self._notifier = OutboxNotifier(db, name)
        loops: list[Loop] = [("events notifier", notifier.run)]
        if self._events is not None:
            url, backoff_s = self.settings.server.database_url, self.settings.faults.max_backoff_s
            loops.append(
                ("events listener", partial(listen, url, name, self._events.ring, backoff_s))
            )
        return loops

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._dispatcher is not None:
            await _drain(self._dispatcher, self.settings.faults.drain_timeout_s)
        for applier in (self._receipts, self._inbound):
            if applier is not None:
                await _flush(applier)
        if self._events is not None:
            await self._events.close()
        await self._renderer.close()
        unstarted = self._owners.unstarted() if self._owners is not None else set()
        for name, connector in self.connectors.items():
            if name not in unstarted:
                await connector.close()
        if self._ownership is not None:
            await _release_leases(self._ownership)
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _start_connectors(self, db: Database) -> ConnectorOwners:
        """Start every connector (only those that take webhooks, without workers) but
        those with sessions that one process at a time runs (engine/singletons.py): those
        start once this process holds them (now, if it can). On SQLite the process is
        the only one: leases left by a dead one go."""
        if db.dialect == "sqlite":
            await db.write(ownership.release_all)
        owned = self._ownership = Ownership(db, sole=db.dialect == "sqlite")
        # a process without workers (`--role api`) runs no singleton: it only takes webhooks
        singletons = singleton_connectors(self.settings) if self._background else set()
        sessions = session_connectors(self.settings)
        for name, connector in self.connectors.items():
            if name not in sessions and (self._background or _receives_webhooks(connector)):
                await self._start_connector(name, connector)
        owners = self._owners = ConnectorOwners(
            owned, self.connectors, singletons, sessions, self._start_connector,
            lambda name: build_connectors(self.settings)[name],
        )  # fmt: skip
        for name in sorted(singletons):
            await owners.look(name)
        return owners

    async def _start_connector(self, name: str, connector: Connector) -> None:
        receipts, inbound = self._receipts, self._inbound
        assert receipts is not None and inbound is not None
        await connector.start(
            keyed_receipts(name, receipts.accept),
            lambda message: inbound.accept(storable_inbound(message)),
        )

    async def _check_server_key(self, db: Database) -> None:
        """Stop at the start when this server's key cannot open the secrets in its database
        (another process sealed them with another key), rather than run and fail on every
        callback it signs and every sink it takes over."""
        sealed = await db.read(accounts.one_sealed_secret)
        if sealed is not None and not self.sealer.opens(sealed):
            raise WrongServerKey(
                "this server's key does not open the secrets sealed in the database: every"
                " process on one database needs the same key ([server] secret_key,"
                " OPENCOMMS_SECRET_KEY or the same key file; docs/scaling.md)"
            )

    async def _provision_configured_account(self) -> None:
        """The account of OPENCOMMS_ACCOUNT_SID, then the configured senders and pools in
        every account. Processes starting at once provision one after the other (a sender
        is looked up, then inserted when missing)."""
        sid, token = self.settings.account_sid, self.settings.auth_token
        if sid and token:
            await self._provision_account(sid, token)
        await self.db.write(partial(_provision_configured, self.settings))

    async def _provision_account(self, sid: str, token: str) -> None:
        """Create the account unless it exists; its auth token is shown only now. A token
        that does not match an existing account's (it was rotated) is said, not used."""
        created = await self.db.write(
            lambda conn: provision_account(
                conn,
                sid=sid,
                auth_token=token,
                friendly_name="default",
                simulator=self.settings.simulator,
                sealer=self.sealer,
                now=now_ms(),
            )
        )
        if created:
            log.info("created account %s with a default pool of simulator senders", sid)
            if self._announce is not None:
                self._announce(f"  Created account {sid}; its auth token, shown this once: {token}")
            return
        found = await self.db.read(lambda conn: accounts.find_credential(conn, sid))
        if found is not None and found.secret_hash != accounts.credential_hash(token):
            log.warning(
                "OPENCOMMS_AUTH_TOKEN is not the auth token of account %s (it was rotated?):"
                " requests with it are refused",
                sid,
            )


def _receives_webhooks(connector: Connector) -> bool:
    """Its provider reports over HTTP (connectors/base.py's WebhookReceiver): an API-only
    process starts it to take those reports; it starts no other connector (an SMPP
    account's binds belong to the workers)."""
    return callable(getattr(connector, "webhook", None))


def _tune_garbage_collector() -> None:
    """Keep the collector off the request path: a 10,000-recipient body makes ~10^5
    objects, and each full collection walked the whole long-lived heap (the accept took
    67 ms with collections, 30 ms without). Freezing what exists after start-up removes it
    from every collection; a larger first generation makes young collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _callback_expiry_ms(settings: Settings) -> int:
    return parse_duration_ms(settings.sinks.callback_expiry) or 30 * 86_400_000


def _delivery_policy(settings: Settings) -> DeliveryPolicy:
    events, sinks = settings.events, settings.sinks
    return DeliveryPolicy(
        batch_size=events.batch_size,
        timeout_s=(parse_duration_ms(events.timeout) or 15_000) / 1000,
        max_retry_ms=parse_duration_ms(events.max_retry) or 72 * 3_600_000,
        concurrency=events.concurrency,
        lanes=events.in_flight,
        limits=PostLimits(
            total_s=(parse_duration_ms(sinks.delivery_timeout) or 15_000) / 1000,
            max_response_bytes=sinks.max_response_bytes,
        ),
        max_backoff_s=settings.faults.max_backoff_s,
    )


async def _drain(dispatcher: Dispatcher, timeout_s: float) -> None:
    """Let the claims out at connectors be recorded, for `timeout_s` at most (with the
    database gone they would wait for it forever): what is left in flight is recovered
    at the next start by asking the connectors, as after a crash."""
    try:
        await asyncio.wait_for(dispatcher.drain(), timeout_s)
    except TimeoutError:
        log.error("stopping with claims not recorded; they are recovered at the next start")


async def _flush(applier: BatchApplier[Receipt] | BatchApplier[Inbound]) -> None:
    """Store what is gathered before stopping; with the database gone, say what is lost
    (an SMSC redelivers what was not acknowledged; the simulator does not)."""
    try:
        await applier.flush()
    except StoreUnavailable as error:
        log.error("stopping with %d reports not stored: %s", applier.backlog, error)


def _sole_worker(db: Database) -> bool:
    """Whether this process is the only one working on the database: on SQLite it is
    (it holds the file, store/sqlite.py), so whatever it finds claimed at start was left
    by a process that is gone. On PostgreSQL other live processes may hold claims: they
    are never released, only taken over once their lease runs out (docs/decisions.md,
    "Claims and leases across processes")."""
    return db.dialect == "sqlite"


async def _release_claims(conn: Conn) -> None:
    """Whatever is claimed belongs to a process that is gone: it is due again now."""
    await jobs.release_all(conn)
    await dispatch_state.release_in_flight(conn, now_ms())


async def _release_leases(owned: Ownership) -> None:
    """At a clean stop, what this process ran is for another to take at once; with the
    database gone, the leases run out by themselves."""
    try:
        await owned.release_all()
    except StoreUnavailable as error:
        log.warning("stopping without releasing leases (they run out): %s", error)


# the advisory lock of provisioning at start (any fixed number; migrations use another)
PROVISIONING_LOCK_KEY = 0x2DE4_0B30_60CA_49FF


async def _provision_configured(settings: Settings, conn: Conn) -> None:
    await one_at_a_time(conn, PROVISIONING_LOCK_KEY)
    await provision_configured(conn, settings, now_ms())


async def _sweep_early_receipts(db: Database) -> None:
    while True:
        await asyncio.sleep(EARLY_RECEIPT_SWEEP_S)
        await db.write(sweep_early_receipts)


async def _supervise(name: str, run: Callable[[], Awaitable[None]], max_backoff_s: float) -> None:
    """Keep a background loop alive: while the database is unavailable, start it again
    after a capped backoff; after any other crash, log it loudly and start it again."""
    backoff = Backoff(max_backoff_s)
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except StoreUnavailable as error:
            if time.monotonic() - started > max_backoff_s:
                backoff.reset()  # it had been working: this is a new outage
            delay = backoff.next_delay()
            log.warning("%s waits for the database (%s); next try in %.1f s", name, error, delay)
            await asyncio.sleep(delay)
        except Exception:
            log.exception("background task %s crashed; restarting", name)
            await asyncio.sleep(RESTART_DELAY_S)
