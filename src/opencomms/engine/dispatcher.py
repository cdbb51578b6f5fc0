"""The dispatcher: claim due Messages, hand their attempts to connectors, record the answers.

Its story: `run` loops `claim` → `submit` → `record`. No transaction is held across a
connector call: the claim commits (attempts in flight, Messages leased), the connector is
called, and its answers are recorded in other transactions, as they come. An attempt
still in flight after a crash is never blindly resubmitted: its connector is asked
whether it got it. A SENT attempt the fallback moved on from is handed back to its
connector, when that connector can take attempts back (`Revoker`), in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from msgspec.structs import replace

from opencomms.background.backoff import until_stored
from opencomms.background.wakeup import Wakeup
from opencomms.connectors.base import (
    AnswerHandler,
    Connector,
    Submission,
    SubmitOutcome,
    SubmitResult,
)
from opencomms.domain.clock import now_ms
from opencomms.domain.message_state import DueMessage
from opencomms.domain.parts import Part
from opencomms.engine.answers import Answers
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.engine.planning import Claimed, plan_due
from opencomms.engine.provider_ids import keyed_answers, keyed_result
from opencomms.engine.receipts import apply_early_receipts
from opencomms.metrics.instruments import SUBMIT_SECONDS
from opencomms.store import dispatch_state, operations, opt_outs, parts, senders
from opencomms.store.database import Conn, Database
from opencomms.store.errors import StoreUnavailable
from opencomms.store.plans import in_index_order

__all__ = [
    "Dispatcher",
    "FairTurn",
    "Recovery",
    "apply_answer",
    "fair_turn",
    "ids_answered",
    "next_claim_size",
    "parts_answered",
    "recovery",
]

log = logging.getLogger(__name__)

BATCH = 500
# A claim's Messages are leased for LEASE_MS: a process that dies holding them has them
# taken over by another (or by its own restart) once it runs out; a live process renews
# what its connectors still hold every third of it (docs/decisions.md).
LEASE_MS = 30_000
IDLE_POLL_S = 0.2
IN_FLIGHT_BATCHES = 4
UNKNOWN_RETRY_MS = 5_000
FAIR_OPERATIONS = 8  # running operations given a share of one claim (a query each)
MIN_BATCH = 20
START_BATCH = 100
SUBMIT_TARGET_S = 0.25  # claims are sized so that submitting one takes about this long
ANSWER_LINGER_S = 0.05  # answers that come one by one are stored in batches this far apart


class Dispatcher:
    def __init__(
        self,
        db: Database,
        connectors: Mapping[str, Connector],
        *,
        batch: int = BATCH,
        lease_ms: int = LEASE_MS,
        max_backoff_s: float = 5.0,
        elsewhere: Callable[[], Sequence[str]] = list,
    ) -> None:
        """`elsewhere`: the connectors another process runs now (engine/singletons.py):
        Messages whose next attempt goes to one of them are left to that process."""
        self._db = db
        self._elsewhere = elsewhere
        self._max_backoff_s = max_backoff_s
        self._connectors = connectors
        self._batch = batch
        self._lease_ms = lease_ms
        self._wakeup = Wakeup(IDLE_POLL_S)
        self._slots = asyncio.Semaphore(IN_FLIGHT_BATCHES)
        self._tasks: set[asyncio.Task[None]] = set()
        self._revoking: set[asyncio.Task[None]] = set()
        self._turn = 0
        # the next claim's size, between MIN_BATCH and `batch`; it starts small, as how
        # quick the connectors are is not known yet, and doubles while they are quick
        self._size = min(batch, START_BATCH)

    def wake(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wakeup.ring()

    async def run(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                claimed = await self._db.write(self._claim)
            except Exception:
                self._slots.release()
                raise
            self._revoke(claimed.revoke)
            if not claimed:
                self._slots.release()
                await self._wakeup.wait()
                continue
            task = asyncio.create_task(self._process(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every batch already handed to connectors to be recorded, and for the
        revokes under way (cancelled with it, when the caller gives up waiting)."""
        if self._tasks or self._revoking:
            await asyncio.gather(*self._tasks, *self._revoking, return_exceptions=True)

    def _revoke(self, abandoned: Mapping[str, list[Submission]]) -> None:
        """Hand the attempts the fallback moved on from (their claim is committed) to
        the connectors that take attempts back, in the background: no submit waits."""
        for name, submissions in abandoned.items():
            revoke = getattr(self._connectors.get(name), "revoke", None)
            if callable(revoke):
                task = asyncio.create_task(_revoked(name, revoke, submissions))
                self._revoking.add(task)
                task.add_done_callback(self._revoking.discard)

    async def _claim(self, conn: Conn) -> Claimed:
        now = now_ms()
        async with in_index_order(conn):
            due = await self._fair_share(conn, now)
        if not due:
            return Claimed()
        sender_ids = {c.sender_id for message in due for c in message.candidates}
        known = await senders.get_sendable_senders(conn, sorted(sender_ids))
        batch = OutcomeBatch(now, known)
        opted_out = await _opted_out(conn, due)
        claimed = plan_due(batch, due, known, now + self._lease_ms, opted_out)
        await operations.start_scheduled(conn, claimed.scheduled_started, now)
        claimed.completed = await batch.save(conn)
        return claimed

    async def _fair_share(self, conn: Conn, now: int) -> list[DueMessage]:
        """A batch shared between the running operations (`fair_turn`), then filled in
        due order (fallback timeouts, receipt waits of any operation)."""
        running = await dispatch_state.running_operations(conn, FAIR_OPERATIONS * 4)
        turn = fair_turn(running, self._turn, self._size)
        self._turn = turn.start
        due: list[DueMessage] = []
        select = partial(dispatch_state.select_due, conn, now=now, elsewhere=self._elsewhere())
        for operation_id in turn.operations:
            due += await select(limit=turn.share, operation_id=operation_id)
        if len(due) < self._size:
            due += await select(limit=self._size - len(due), taken=[d.state.id for d in due])
        return due

    async def _process(self, claimed: Claimed) -> None:
        """Submit a claim, storing its answers as they come (engine/answers.py)."""
        renewing = asyncio.create_task(self._keep_leased(claimed))
        try:
            started = time.monotonic()
            answers = Answers()
            submitting = asyncio.ensure_future(self._submit_claim(claimed, answers.add))
            while not await answers.gather(submitting, ANSWER_LINGER_S):
                if early := answers.take():
                    await self._record_early(answers, early)
            submitted = sum(len(group) for group in claimed.submit.values())
            elapsed = time.monotonic() - started
            self._size = next_claim_size(self._size, self._batch, submitted, elapsed)
            for result in submitting.result():
                answers.add(result)
            unanswered = [
                s.attempt_id
                for group in (*claimed.recover.values(), *claimed.submit.values())
                for s in group
                if not answers.answered(s.attempt_id)
            ]
            if (last := answers.take()) or unanswered:
                # the answers are only in memory: wait for the database rather than lose them
                record = partial(self._record, results=last, unanswered=unanswered)
                await until_stored(
                    partial(self._db.write, record), "recording answers", self._max_backoff_s
                )
        except Exception:
            log.exception("dispatch batch failed; its Messages come due again after the lease")
        finally:
            renewing.cancel()
            self._slots.release()

    async def _keep_leased(self, claimed: Claimed) -> None:
        """While the claim is out at its connectors, push its lease ahead every third of
        it, so that no other process takes over what this one still holds. A claim
        through in less than that (nearly all) costs nothing here."""
        held_until, message_ids = claimed.lease_until, claimed.held_message_ids()
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            until = now_ms() + self._lease_ms
            try:
                await self._db.write(
                    partial(
                        dispatch_state.renew_leases,
                        message_ids=message_ids,
                        held_until=held_until,
                        until=until,
                    )
                )
            except StoreUnavailable as error:
                log.warning("renewing a claim's lease waits for the database: %s", error)
                continue
            except Exception:
                log.exception("renewing a claim's lease failed; trying again")
                continue
            held_until = until

    async def _record_early(self, answers: Answers, early: list[SubmitResult]) -> None:
        """Store answers that came while the claim is still out; if that fails, they go
        with the next ones (the claim goes on: its submits are already out)."""
        try:
            await self._db.write(partial(self._record, results=early, unanswered=()))
        except StoreUnavailable as error:
            log.warning("storing %d answers waits for the database: %s", len(early), error)
            answers.put_back(early)
        except Exception:
            log.exception("storing %d answers failed; they go with the next", len(early))
            answers.put_back(early)

    async def _submit_claim(self, claimed: Claimed, answered: AnswerHandler) -> list[SubmitResult]:
        results: list[SubmitResult] = []
        for name, submissions in claimed.recover.items():
            results += await self._recover(name, submissions, answered)
        for answers in await asyncio.gather(
            *(self._submit(name, group, answered) for name, group in claimed.submit.items())
        ):
            results += answers
        return results

    async def _submit(
        self, name: str, submissions: Sequence[Submission], answered: AnswerHandler
    ) -> list[SubmitResult]:
        connector = self._connectors.get(name)
        if connector is None:
            return [_rejected(s, "no connector named " + name) for s in submissions]
        if name in self._elsewhere():  # handed back, for the process that runs it
            return [SubmitResult(s.attempt_id, SubmitOutcome.THROTTLED) for s in submissions]
        try:
            with SUBMIT_SECONDS.labels(name).time():
                results = await connector.submit(submissions, keyed_answers(name, answered))
            return [keyed_result(name, result) for result in results]
        except Exception:
            log.exception("connector %s failed a submit; the attempts will be recovered", name)
            return []

    async def _recover(
        self, name: str, submissions: Sequence[Submission], answered: AnswerHandler
    ) -> list[SubmitResult]:
        """Attempts found in flight after a restart: resubmit only what surely never arrived."""
        connector = self._connectors.get(name)
        if connector is None:
            return [_rejected(s, "no connector named " + name) for s in submissions]
        if name in self._elsewhere():  # left in flight: the process that runs it asks it
            return []
        known = await connector.was_submitted([s.attempt_id for s in submissions])
        found = recovery(submissions, known)
        resubmitted = await self._submit(name, found.resubmit, answered) if found.resubmit else []
        return found.taken + resubmitted

    async def _record(
        self, conn: Conn, *, results: Sequence[SubmitResult], unanswered: Sequence[str]
    ) -> list[str]:
        """Record the connectors' answers; attempts left unanswered (the connector failed,
        or gave the submit up as in doubt) stay in flight and come due soon, to be
        recovered by asking the connector."""
        now = now_ms()
        ids = [r.attempt_id for r in results] + list(unanswered)
        pairs = await dispatch_state.attempts_by_id(conn, ids)
        known = await senders.get_senders(conn, sorted({p.attempt.sender_id for p in pairs}))
        batch = OutcomeBatch(now, known)
        batch.track(pairs)
        for result in results:
            if result.attempt_id in batch.attempts:
                apply_answer(batch, result)
        for attempt_id in unanswered:
            message = batch.messages[batch.attempts[attempt_id].message_id]
            batch.update_message(replace(message, due_at=now + UNKNOWN_RETRY_MS))
        completed = await batch.save(conn)
        return completed + await _record_provider_ids(conn, results)


async def _revoked(
    name: str,
    revoke: Callable[[Sequence[Submission]], Awaitable[None]],
    submissions: Sequence[Submission],
) -> None:
    """One connector's revoke, best effort: a failure is logged (a receipt that still
    comes is recorded as any other)."""
    try:
        await revoke(submissions)
    except Exception:
        log.exception("connector %s failed to revoke %d attempts", name, len(submissions))


@dataclass(frozen=True)
class FairTurn:
    """The running operations given an equal share of the next claim."""

    start: int  # where in the running operations this turn starts; the next goes on from it
    operations: list[str]
    share: int


@dataclass(frozen=True)
class Recovery:
    """What becomes of attempts found in flight after a restart."""

    resubmit: list[Submission]  # the connector is sure it never got these
    taken: list[SubmitResult]  # it got them, or cannot tell: SENT, never sent twice


def recovery(submissions: Sequence[Submission], known: Mapping[str, bool | None]) -> Recovery:
    """Split attempts found in flight by what their connector says it got (`known`, by
    attempt id: False never got it, True got it, None or absent cannot tell): only an
    attempt surely never sent is submitted again; the others are taken as ACCEPTED (their
    receipt, or the receipt wait, says the rest): the engine must not risk a duplicate."""
    return Recovery(
        resubmit=[s for s in submissions if known.get(s.attempt_id) is False],
        taken=[
            SubmitResult(s.attempt_id, SubmitOutcome.ACCEPTED)
            for s in submissions
            if known.get(s.attempt_id) is not False
        ],
    )


def fair_turn(running: Sequence[str], last_start: int, size: int) -> FairTurn:
    """Whose turn it is, so that a send started after a million-recipient campaign does
    not wait for it: up to FAIR_OPERATIONS running operations, taking turns from where
    the last claim's turn ended, each get an equal share of `size`. A lone running
    operation gets no share: the claim is filled in due order."""
    if len(running) <= 1:
        return FairTurn(last_start, [], 0)
    start = (last_start + FAIR_OPERATIONS) % len(running)
    operations = [*running[start:], *running[:start]][:FAIR_OPERATIONS]
    return FairTurn(start, operations, max(1, size // len(operations)))


def next_claim_size(size: int, largest: int, submitted: int, submit_s: float) -> int:
    """The next claim's size, after a claim of `size` submitted `submitted` attempts in
    `submit_s`: so that its submit takes about SUBMIT_TARGET_S. While a connector is slow
    (a throughput cap), what is claimed waits inside it, where a send started later
    cannot overtake it, and a claim slot frees only when a whole claim is through; once
    connectors are quick again, claims grow back (at most doubling), up to `largest`."""
    if not submitted:
        return size
    fitting = int(submitted * SUBMIT_TARGET_S / max(submit_s, 0.001))
    return max(MIN_BATCH, min(largest, size * 2, fitting))


async def _record_provider_ids(conn: Conn, results: Sequence[SubmitResult]) -> list[str]:
    """Keep the parts of long messages, then apply the receipts that came before these
    answers; the operations this COMPLETED."""
    await parts.insert_parts(conn, parts_answered(results))
    return await apply_early_receipts(conn, ids_answered(results))


def parts_answered(results: Sequence[SubmitResult]) -> list[Part]:
    """The parts of the long messages these answers accepted, numbered from 1, each SENT."""
    return [
        Part(provider_message_id=part_id, attempt_id=r.attempt_id, part=number, status="SENT")
        for r in results
        if r.outcome is SubmitOutcome.ACCEPTED
        for number, part_id in enumerate(r.part_ids, start=1)
    ]


def ids_answered(results: Sequence[SubmitResult]) -> list[str]:
    """The provider ids these answers made known (each part's, else the message's): a
    receipt that came before its answer waits for one of them."""
    accepted = [r for r in results if r.outcome is SubmitOutcome.ACCEPTED]
    return [i for r in accepted for i in (r.part_ids or (r.provider_message_id,)) if i]


async def _opted_out(conn: Conn, due: Sequence[DueMessage]) -> dict[tuple[str, str], str | None]:
    """The claimed recipients on their account's suppression list, with its channel."""
    by_account: dict[str, set[str]] = {}
    for message in due:
        by_account.setdefault(message.account_sid, set()).update(
            c.address for c in message.candidates
        )
    found: dict[tuple[str, str], str | None] = {}
    for account, addresses in by_account.items():
        listed = await opt_outs.suppressed_channels(conn, account, sorted(addresses))
        found.update(((account, address), channel) for address, channel in listed.items())
    return found


def _rejected(submission: Submission, reason: str) -> SubmitResult:
    return SubmitResult(submission.attempt_id, SubmitOutcome.REJECTED, None, 30008, reason)


def apply_answer(batch: OutcomeBatch, result: SubmitResult) -> None:
    """A connector's answer to a submit: ACCEPTED makes the attempt SENT, REJECTED makes
    it FAILED (with the provider's error, else 30008), THROTTLED takes it out of flight
    and makes its Message due again after `retry_after_ms`. An attempt a receipt already
    moved only learns the provider's id."""
    attempt = batch.attempts[result.attempt_id]
    if not attempt.in_flight:  # already moved: a receipt came before this answer
        if result.provider_message_id and attempt.provider_message_id is None:
            batch.update_attempt(replace(attempt, provider_message_id=result.provider_message_id))
        return
    if result.outcome is SubmitOutcome.ACCEPTED:
        batch.reach(result.attempt_id, "SENT", provider_message_id=result.provider_message_id)
    elif result.outcome is SubmitOutcome.REJECTED:
        error = (result.error_code or 30008, result.error_message or "Rejected by the provider.")
        batch.reach(result.attempt_id, "FAILED", error=error)
    else:
        batch.update_attempt(replace(attempt, in_flight=False, updated_at=batch.now))
        message = batch.messages[attempt.message_id]
        if message.current_attempt_id == attempt.id:
            batch.update_message(replace(message, due_at=batch.now + result.retry_after_ms))
