"""connectors: each provider connector's throughput against its test peer (issue 12).

For `rbm` and `whatsapp` in turn, on each engine:

(a) the peer alone, the reference: a fresh peer, and `connectors_recipients` valid sends
    POSTed straight to it by a plain aiohttp client in its own process
    (`bench/peerload.py`), `connectors_concurrency` connections at once; timed from the
    first request to the last answer. The peer posts no webhook meanwhile (nobody to
    post to): this is how fast the peer takes sends, an upper bound for anyone sending
    to it.
(b) opencomms: a fresh peer, and `opencomms serve` (fresh database) with one connector
    pointing at it (`base_url`), `[server] public_url` its own URL, the peer's webhook
    attached to `/webhooks/{connector}` (after the provider's handshake), a default pool
    with only that sender, throughput caps lifted (the connector's `throughput = 0`; the
    WhatsApp peer's 80/s per number raised to a million), `connections`/`concurrency`
    = `connectors_concurrency` as in (a). One POST of `connectors_recipients`; timed
    from the POST until the peer had accepted every send (the submit rate the peer saw,
    also from its first accept to its last), and until the operation was COMPLETED with
    every Message DELIVERED by the peer's webhooks.

Checks, both halves: every recipient reached the peer exactly once, with its own text,
and no send was refused. (b) also: the operation COMPLETED with `total = recipients =
attempts = delivered`, every Message (listed page by page) DELIVERED on the connector's
channel to its own recipient, and every webhook the peer posted answered 200 (none
left pending, none given up). Opt-in (`--scenarios connectors`, `make bench-connectors`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.api import Api, phone_number, send_body
from bench.params import Parameters
from bench.peerload import TOKEN_VARIABLE, PeerLoad, text
from bench.report import Result
from bench.scenarios import Context, check, checked
from bench.scenarios.connector_peers import PEERS, Peer
from bench.server import ServerProcess, cpu_seconds, fresh_database

__all__ = ["run_connectors"]


@dataclass
class Outcome:
    """What one connector's run measured (seconds from the POST unless said)."""

    messages: int
    peer_alone_s: float = 0.0
    accepted_s: float = 0.0  # the 202
    first_submit_s: float = 0.0  # the peer accepted the first send
    submitted_s: float = 0.0  # ... and the last
    delivered_s: float = 0.0  # COMPLETED, every Message DELIVERED
    details: dict[str, Any] = field(default_factory=dict)
    progress: list[tuple[float, int, int]] = field(default_factory=list)  # s, at peer, done

    def rate(self, seconds: float) -> float:
        return self.messages / seconds if seconds > 0 else 0.0


def _check_reached(peer: Peer, messages: int) -> list[float]:
    """Every recipient reached the peer exactly once, with its own text, and no send was
    refused; the accept times (epoch seconds)."""
    reached = peer.reached()
    expected = {phone_number(index): text(index) for index in range(messages)}
    seen = {r.phone: r.text for r in reached}
    check(len(reached) == messages, f"the peer accepted {len(reached)} sends for {messages}")
    check(len(seen) == len(reached), f"{len(reached) - len(seen)} recipients reached twice")
    check(seen == expected, "the peer got other recipients or texts than were sent")
    check(peer.refused() == 0, f"the peer refused {peer.refused()} sends")
    return sorted(r.at for r in reached)


# -- (a) the peer alone -------------------------------------------------------------------


def _peer_alone(context: Context, name: str) -> tuple[float, dict[str, int]]:
    """Seconds for the plain client's sends, and its answers by status."""
    params, side = context.params, PEERS[name]
    with side.started(context.directory(f"{name}-peer-alone"), webhooks=False) as peer:
        arguments, token = side.load(peer.handle)
        command = [sys.executable, "-m", "bench.peerload", name, *arguments]
        command += ["--count", str(params.connectors_recipients)]
        command += ["--connections", str(params.connectors_concurrency)]
        completed = subprocess.run(
            command, capture_output=True, check=False, timeout=params.connectors_timeout_s,
            cwd=Path(__file__).resolve().parents[2], env={**os.environ, TOKEN_VARIABLE: token},
        )  # fmt: skip
        check(completed.returncode == 0, f"the load client failed: {completed.stderr[-2000:]!r}")
        load = msgspec.json.decode(completed.stdout, type=PeerLoad)
        wanted = {str(side.accepted_status): params.connectors_recipients}
        check(load.statuses == wanted, f"the peer answered {load.statuses}, not {wanted}")
        _check_reached(peer, params.connectors_recipients)
    return load.seconds, load.statuses


# -- (b) opencomms through the connector ------------------------------------------------


def _operator_config(name: str, peer: Peer, concurrency: int) -> str:
    side = peer.side
    return side.config(peer.handle, concurrency) + (
        f'\n[[senders]]\naddress = "{side.sender}"\nchannel = "{side.channel}"\n'
        f'connector = "{side.connector}"\n\n[[sender_pools]]\nname = "default"\n'
        f'senders = ["{side.channel}:{side.sender}"]\n'
    )


async def _wait_completed(
    api: Api, operation_id: str, peer: Peer, outcome: Outcome, params: Parameters
) -> dict[str, Any]:
    """Poll every 0.1 s until COMPLETED; the final operation."""
    started = time.monotonic() - outcome.accepted_s
    while True:
        body = await api.operation(operation_id)
        now = time.monotonic() - started
        stats = body["stats"]
        outcome.progress.append((round(now, 2), peer.count(), stats["delivered"]))
        if body["status"] == "COMPLETED":
            outcome.delivered_s = now
            return body
        check(body["status"] == "PROCESSING", f"the operation is {body['status']}: {stats}")
        check(now < params.connectors_timeout_s, f"not COMPLETED after {now:.0f} s: {stats}")
        await asyncio.sleep(0.1)


async def _messages(api: Api, operation_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"operationId": operation_id, "pageSize": 1000}
    while True:
        page = await api.get_json("/Messages", **query)
        found += page["messages"]
        if not page["pagination"]["next"]:
            return found
        query["pageToken"] = page["pagination"]["next"]


async def _check_delivered(api: Api, final: dict[str, Any], channel: str, messages: int) -> None:
    stats = final["stats"]
    counts = (stats["total"], stats["recipients"], stats["attempts"], stats["delivered"])
    check(
        counts == (messages,) * 4,
        f"total, recipients, attempts, delivered = {counts} for {messages}: {stats}",
    )
    listed = await _messages(api, final["id"])
    wrong = [m for m in listed if m["status"] != "DELIVERED" or m["from"]["channel"] != channel]
    check(not wrong, f"{len(wrong)} Messages not DELIVERED on {channel}, e.g. {wrong[:1]}")
    addresses = sorted(m["to"][0]["address"] for m in listed)
    check(
        addresses == sorted(phone_number(i) for i in range(messages)),
        f"{len(listed)} Messages listed, not one per recipient",
    )


async def _drive(server: ServerProcess, peer: Peer, outcome: Outcome, params: Parameters) -> None:
    body = send_body(params.connectors_recipients)
    cpu = {"opencomms": cpu_seconds(pid=server.pid), "bench+peer": cpu_seconds(pid=os.getpid())}
    async with Api(server.url, server.credentials.auth) as api:
        wall, started = time.time(), time.monotonic()
        operation_id = await api.send(body)
        outcome.accepted_s = time.monotonic() - started
        final = await _wait_completed(api, operation_id, peer, outcome, params)
        shares = {
            "opencomms": cpu_seconds(pid=server.pid),
            "bench+peer": cpu_seconds(pid=os.getpid()),
        }
        outcome.details["cpu_share_of_a_core"] = {
            key: round((shares[key] - cpu[key]) / outcome.delivered_s, 2) for key in cpu
        }
        await _check_delivered(api, final, peer.side.channel, params.connectors_recipients)
        await _settled(peer, params)
    accepts = _check_reached(peer, params.connectors_recipients)
    outcome.first_submit_s = accepts[0] - wall
    outcome.submitted_s = accepts[-1] - wall


async def _settled(peer: Peer, params: Parameters) -> None:
    """Every webhook the peer posted answered 200 (a trailing `sent` status may still be
    on its way when the operation COMPLETED)."""
    deadline = time.monotonic() + params.connectors_timeout_s
    while True:
        webhooks = peer.webhooks()
        if not webhooks["pending"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    check(webhooks["pending"] == 0, f"webhooks still pending: {webhooks}")
    check(webhooks["failed"] == 0, f"webhooks given up: {webhooks}")


def _through_opencomms(context: Context, name: str, engine: str, outcome: Outcome) -> None:
    params, side = context.params, PEERS[name]
    directory = context.directory(f"{name}-opencomms-{engine}")
    with side.started(directory, webhooks=True) as peer, fresh_database(engine, directory) as url:
        config = _operator_config(name, peer, params.connectors_concurrency)
        server = ServerProcess(
            url, directory, config=config, env=side.env(peer.handle), public_url=True
        )
        with server:
            side.attach(peer.handle, f"{server.url}/webhooks/{side.connector}")
            asyncio.run(_drive(server, peer, outcome, params))
        outcome.details |= side.caps(peer.handle) | {"webhooks": peer.webhooks()}


# -- the scenario -------------------------------------------------------------------------


def _figures(outcome: Outcome, statuses: dict[str, int], concurrency: int) -> dict[str, Any]:
    window = outcome.submitted_s - outcome.first_submit_s
    return outcome.details | {
        "messages": outcome.messages,
        "concurrency": concurrency,
        "peer_alone_s": round(outcome.peer_alone_s, 3),
        "peer_alone_rate": round(outcome.rate(outcome.peer_alone_s)),
        "peer_alone_answers": statuses,
        "accepted_s": round(outcome.accepted_s, 3),
        "first_submit_s": round(outcome.first_submit_s, 3),
        "submitted_s": round(outcome.submitted_s, 3),
        "submit_rate_first_to_last": round(outcome.rate(window)),
        "submit_rate_from_post": round(outcome.rate(outcome.submitted_s)),
        "delivered_s": round(outcome.delivered_s, 3),
        "delivered_rate": round(outcome.rate(outcome.delivered_s)),
        "progress": outcome.progress[:: max(1, len(outcome.progress) // 50)],
    }


def _results(context: Context, name: str, engine: str) -> tuple[Result, Result, Result]:
    params = context.params
    size, c = f"{params.connectors_recipients:,}", params.connectors_concurrency
    alone = Result(
        "connectors", engine, f"{name} peer alone: {size} sends, {c} connections, aiohttp",
        "msg/s", "(the reference)",
    )  # fmt: skip
    submitted = Result(
        "connectors", engine, f"opencomms → {name} peer: 1 POST of {size}, submits the peer saw",
        "msg/s", "(reported)",
    )  # fmt: skip
    delivered = Result(
        "connectors", engine, f"opencomms → {name} peer: 1 POST of {size}, until all DELIVERED",
        "msg/s", "(reported)",
    )  # fmt: skip
    return alone, submitted, delivered


def _run_one(context: Context, name: str, engine: str) -> list[Result]:
    params = context.params
    alone, submitted, delivered = _results(context, name, engine)
    outcome = Outcome(params.connectors_recipients)
    with checked(context.run, alone, submitted, delivered):
        outcome.peer_alone_s, statuses = _peer_alone(context, name)
        alone.measured, alone.met = outcome.rate(outcome.peer_alone_s), True
        _through_opencomms(context, name, engine, outcome)
        window = outcome.submitted_s - outcome.first_submit_s
        submitted.measured = outcome.rate(window)
        delivered.measured = outcome.rate(outcome.delivered_s)
        details = _figures(outcome, statuses, params.connectors_concurrency)
        for result in (alone, submitted, delivered):
            result.details = details
        for result in (submitted, delivered):
            result.met = True
            result.ratio = f"{result.measured / alone.measured:.2f}× the peer alone"
        shown = {k: v for k, v in details.items() if k != "progress"}
        print(f"  {name} on {engine}: {shown}", flush=True)
    return [alone, submitted, delivered]


def run_connectors(context: Context, engine: str) -> list[Result]:
    """Three figures per connector (rbm, then whatsapp): the peer alone (the reference),
    and opencomms through the connector to the same peer: the submits the peer saw (first
    to last accept) and POST → every Message DELIVERED, each beside the reference."""
    only = context.params.connectors_peers
    names = [name for name in PEERS if not only or name in only]
    return [r for name in names for r in _run_one(context, name, engine)]
