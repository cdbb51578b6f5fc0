"""fair-share: a 1-recipient send started behind a large campaign on a sender with a
throughput cap does not wait for the campaign (`connectors/pacing.py`,
`engine/dispatcher.py`).

One server (SQLite) with `[simulator] throughput = fair_throughput` (messages a second per
sender; every Message below goes through the same simulator sender). A campaign of
`fair_campaign` recipients is POSTed first (as operations of at most 10,000 recipients,
the API's limit per POST: 20,000 are 2 POSTs); once it is PROCESSING with some Messages
sent, `fair_singles` 1-recipient POSTs follow, `fair_spacing_s` apart, from the same
account. Each is timed from its POST until its operation is COMPLETED, and the
campaign's Messages still QUEUED are read at both moments (what the single send did not
wait for). Run twice: the campaign alone, and with a second account's campaign of the
same size POSTed right after the first (the sender then shared between two accounts;
the second figure, the share of the throughput each account got while both ran).

Checks: every operation COMPLETED with `total = recipients = attempts` and every Message
READ (ordinary simulator numbers), the campaigns' and each single's alike.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.api import Api, send_body
from bench.params import Parameters
from bench.report import Result
from bench.scenarios import Context, check, checked, percentile
from bench.server import Credentials, ServerProcess, fresh_database

__all__ = ["run_fair_share"]

PER_POST = 10_000  # the most recipients one POST /v1/Messages takes
GONE = ("sent", "delivered", "read", "undelivered", "failed", "canceled")  # left the queue


def _gone(operation: dict[str, Any]) -> int:
    return sum(int(operation["stats"][status]) for status in GONE)


@dataclass
class Single:
    posted_s: float  # since the first campaign's POST
    latency_ms: float  # POST until COMPLETED
    campaign_queued_at_post: int
    campaign_queued_at_completed: int


@dataclass
class Outcome:
    accounts: int
    campaign: int
    singles: list[Single] = field(default_factory=list)
    completed_s: list[float] = field(default_factory=list)  # each campaign, from its POST
    # (seconds since the first POST, Messages out of the queue per campaign)
    progress: list[tuple[float, list[int]]] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile([s.latency_ms for s in self.singles], 0.5)

    @property
    def share(self) -> float:
        """When the first campaign completed, the other's progress beside it (1.0: the
        two accounts got the sender's throughput half and half)."""
        first = min(range(self.accounts), key=lambda i: self.completed_s[i])
        moment = self.completed_s[first]
        counts = next(c for t, c in self.progress if t >= moment)
        other = min(counts[i] for i in range(self.accounts) if i != first)
        return other / counts[first]


async def _campaign(api: Api, operations: list[str]) -> list[dict[str, Any]]:
    return [await api.operation(operation_id) for operation_id in operations]


def _queued(bodies: list[dict[str, Any]]) -> int:
    return sum(int(body["stats"]["queued"]) for body in bodies)


async def _post_campaign(api: Api, recipients: int) -> list[str]:
    return [
        await api.send(send_body(min(PER_POST, recipients - offset), offset=offset))
        for offset in range(0, recipients, PER_POST)
    ]


async def _track(
    apis: list[Api], campaigns: list[list[str]], outcome: Outcome, started: float
) -> None:
    """Every 0.1 s, how far each account's campaign is, until all are COMPLETED."""
    done: dict[int, float] = {}
    while len(done) < len(campaigns):
        bodies = [await _campaign(api, ops) for api, ops in zip(apis, campaigns, strict=True)]
        now = time.monotonic() - started
        outcome.progress.append((round(now, 2), [sum(map(_gone, b)) for b in bodies]))
        for index, operations in enumerate(bodies):
            if all(body["status"] == "COMPLETED" for body in operations) and index not in done:
                done[index] = now
        await asyncio.sleep(0.1)
    outcome.completed_s = [done[i] for i in range(len(campaigns))]


async def _single(
    api: Api, campaign: list[str], index: int, started: float, params: Parameters
) -> tuple[str, Single]:
    posted = time.monotonic()
    operation_id = await api.send(send_body(1, offset=params.fair_campaign + index))
    queued_at_post = _queued(await _campaign(api, campaign))
    while (await api.operation(operation_id))["status"] != "COMPLETED":
        check(
            time.monotonic() - posted < params.fair_timeout_s,
            f"single send {index} not COMPLETED after {params.fair_timeout_s} s",
        )
        await asyncio.sleep(0.01)
    latency = time.monotonic() - posted
    queued_at_done = _queued(await _campaign(api, campaign))
    return operation_id, Single(
        round(posted - started, 2), round(latency * 1000, 1), queued_at_post, queued_at_done
    )


async def _wait_running(api: Api, campaign: str, params: Parameters) -> None:
    """Until the campaign is PROCESSING with some of its Messages sent."""
    deadline = time.monotonic() + params.fair_timeout_s
    while True:
        body = await api.operation(campaign)
        if body["status"] == "PROCESSING" and _gone(body) > 0:
            return
        check(body["status"] != "COMPLETED", f"the campaign was over before it was seen: {body}")
        check(time.monotonic() < deadline, f"the campaign never started sending: {body}")
        await asyncio.sleep(0.02)


def _check(finals: list[dict[str, Any]], sizes: list[int]) -> None:
    for body, recipients in zip(finals, sizes, strict=True):
        stats = body["stats"]
        check(body["status"] == "COMPLETED", f"{body['id']} is {body['status']}")
        check(
            stats["total"] == stats["recipients"] == stats["attempts"] == recipients,
            f"{body['id']}: total {stats['total']}, recipients {stats['recipients']},"
            f" attempts {stats['attempts']} for {recipients}",
        )
        check(stats["read"] == recipients, f"{body['id']}: {stats['read']} READ of {recipients}")


async def _drive(server: ServerProcess, accounts: list[Credentials], params: Parameters) -> Outcome:
    outcome = Outcome(len(accounts), params.fair_campaign)
    apis = [Api(server.url, credentials.auth) for credentials in accounts]
    try:
        started = time.monotonic()
        campaigns = [await _post_campaign(api, params.fair_campaign) for api in apis]
        tracker = asyncio.create_task(_track(apis, campaigns, outcome, started))
        await _wait_running(apis[0], campaigns[0][0], params)
        singles = []
        for index in range(params.fair_singles):
            due = time.monotonic() + params.fair_spacing_s
            operation_id, single = await _single(apis[0], campaigns[0], index, started, params)
            singles.append(operation_id)
            outcome.singles.append(single)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.wait_for(tracker, params.fair_timeout_s)
        sizes = [
            min(PER_POST, params.fair_campaign - o)
            for o in range(0, params.fair_campaign, PER_POST)
        ]
        for api, campaign in zip(apis, campaigns, strict=True):
            _check(await api.read_receipts(await _campaign(api, campaign)), sizes)
        _check(await apis[0].read_receipts(await _campaign(apis[0], singles)), [1] * len(singles))
    finally:
        for api in apis:
            await api.client.aclose()
    return outcome


def _run(context: Context, accounts: int) -> Outcome:
    params = context.params
    directory = context.directory(f"fair-share-{accounts}")
    credentials = [Credentials.fresh() for _ in range(accounts)]
    simulator = f"throughput = {params.fair_throughput}"
    with fresh_database("sqlite", directory) as url:
        for other in credentials[1:]:  # a start with its credentials makes the account
            with ServerProcess(url, directory, credentials=other, simulator=simulator):
                pass
        with ServerProcess(url, directory, credentials=credentials[0], simulator=simulator) as s:
            return asyncio.run(_drive(s, credentials, params))


def _details(outcome: Outcome) -> dict[str, Any]:
    return {
        "campaign": outcome.campaign,
        "accounts": outcome.accounts,
        "singles": [vars(s) for s in outcome.singles],
        "campaign_completed_s": [round(s, 2) for s in outcome.completed_s],
        "progress": outcome.progress[:: max(1, len(outcome.progress) // 50)],
    }


def run_fair_share(context: Context, engine: str) -> list[Result]:
    params, targets = context.params, context.params.targets
    size, rate = f"{params.fair_campaign:,}", f"{params.fair_throughput:g}"
    metric = (
        f"1-recipient send behind a {size} campaign ({rate} msg/s sender), POST → COMPLETED, p50"
    )
    alone = Result(
        "fair-share", engine, metric + ", 1 account", "ms", f"≤ {targets.fair_single_p50_ms:g} ms"
    )
    shared = Result(
        "fair-share", engine, metric + ", 2 accounts' campaigns", "ms",
        f"≤ {targets.fair_single_p50_ms:g} ms",
    )  # fmt: skip
    share = Result(
        "fair-share", engine, f"2 accounts' {size} campaigns on one sender: the slower's share",
        "× the faster", f"≥ {targets.fair_account_share:g}",
    )  # fmt: skip
    with checked(context.run, alone):
        outcome = _run(context, 1)
        alone.measured = outcome.p50_ms
        alone.met = alone.measured <= targets.fair_single_p50_ms
        alone.details = _details(outcome)
        print(f"  1 account: {alone.details['singles']}", flush=True)
    with checked(context.run, shared, share):
        outcome = _run(context, 2)
        shared.measured = outcome.p50_ms
        shared.met = shared.measured <= targets.fair_single_p50_ms
        share.measured = round(outcome.share, 3)
        share.met = share.measured >= targets.fair_account_share
        shared.details = share.details = _details(outcome)
        print(f"  2 accounts: {shared.details['singles']}, share {share.measured}", flush=True)
    return [alone, shared, share]
