"""smpp-vs-jasmin-http: the same Messages to the same SMSC, two ways through Jasmin 0.11.0.

(a) Jasmin's own HTTP API: `jasmin_messages` GET /send from `jasmin_http_connections`
    aiohttp connections; timed until Jasmin accepted them all, and until the SMSC had
    answered every submit_sm (the figure).
(b) opencomms: `opencomms serve` with an `smpp` connector bound to Jasmin's SMPP server
    (2 transceiver binds, window 50), a default pool with one SMS sender on it, and one
    POST /v1/Messages of `jasmin_messages` recipients; timed until Jasmin had answered
    every submit_sm (all SENT), until the SMSC had them all (the figure set against (a)),
    and until the operation was COMPLETED with every Message DELIVERED (every SMSC
    receipt, relayed by Jasmin, matched to its attempt).
(c) opencomms bound straight to the same SMSC, no Jasmin in the path (what an operator
    gains by putting opencomms in Jasmin's place): the same POST, with the connector set
    for throughput (`smpp_direct_binds` binds, window `smpp_direct_window`); timed until
    every submit_sm was answered (all SENT, every Message at the SMSC; the figure set
    against (a)) and until COMPLETED with every receipt matched.

Each half gets a fresh chain (tests/support/jasmin.py: the example SMSC, patched to send
a DELIVRD receipt per submit that asks for one, and to log every submit), configured the
same way: without Jasmin's extra ACCEPTD receipt on submit_sm_resp (the terminal one is
enough, and Jasmin, one CPU-bound process, would spend a share of its time on it). Checks: every
recipient reached the SMSC exactly once with its own text (no duplicate, none missing);
(a) every request answered `Success`; (b), (c) the operation COMPLETED with `delivered =
total = recipients`, and every attempt has its own provider id. The CPU share of the
SMSC, jasmind and opencomms over each half is recorded, to show which one is the limit.
Opt-in (`--scenarios
smpp-vs-jasmin-http`): it needs the peers that `.ci/peers.sh` installs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.jasmin import JasminPeer, jasmin_chain, missing_peers

from bench.api import Api, phone_number, send_body
from bench.params import Parameters
from bench.report import Result
from bench.scenarios import Context, check, checked
from bench.server import ServerProcess, cpu_seconds, fresh_database

__all__ = ["run_smpp_vs_jasmin_http"]

SENDER = "+14155550100"


def _text(index: int) -> str:
    """The text `send_body` renders for recipient `index` (its `n` variable)."""
    return f"Hello {index}, this is the opencomms benchmark."


@dataclass
class Half:
    messages: int
    via_jasmin: bool = True
    accepted_s: float = 0.0  # (a) every /send answered; (b), (c) the 202
    sent_s: float = 0.0  # (b), (c) every submit_sm answered, by Jasmin or the SMSC (SENT)
    at_smsc_s: float = 0.0  # the SMSC answered every submit_sm
    delivered_s: float = 0.0  # (b), (c) COMPLETED, every Message DELIVERED
    progress: list[tuple[float, int]] = field(default_factory=list)  # (s, at the SMSC)
    # share of one core each process used over the half (to the end of its timing)
    cpu: dict[str, float] = field(default_factory=dict)

    def rate(self, seconds: float) -> float:
        return self.messages / seconds if seconds else 0.0


def _wait_smsc(peer: JasminPeer, half: Half, started: float, timeout: float) -> None:
    while (count := peer.smsc_count()) < half.messages:
        now = time.monotonic()
        half.progress.append((round(now - started, 2), count))
        check(now - started < timeout, f"{count} of {half.messages} at the SMSC after {timeout} s")
        time.sleep(0.1)
    half.at_smsc_s = time.monotonic() - started


class CpuMeter:
    """The CPU time of the chain's processes (and opencomms') over one half."""

    def __init__(self, peer: JasminPeer, server_pid: int | None = None) -> None:
        self._markers = {
            "smsc": str(peer.root / "smsc.pl"),  # every child: one per bind
            "jasmind": str(peer.root / "jasmind-here.py"),
        }
        self._pid = server_pid
        self._started = time.monotonic()
        self._start = self._sample()

    def _sample(self) -> dict[str, float]:
        found = {name: cpu_seconds(cmdline=marker) for name, marker in self._markers.items()}
        if self._pid is not None:
            found["opencomms"] = cpu_seconds(pid=self._pid)
        return found

    def shares(self) -> dict[str, float]:
        """Each process's CPU since the start, as a share of one core (1.0 = 100 %)."""
        wall = time.monotonic() - self._started
        end = self._sample()
        return {name: round((end[name] - self._start[name]) / wall, 2) for name in end}


def _check_smsc(peer: JasminPeer, messages: int) -> None:
    """Every recipient reached the SMSC exactly once, with its own text."""
    submits = peer.smsc_submits()
    check(len(submits) == messages, f"the SMSC answered {len(submits)} submit_sm for {messages}")
    expected = {phone_number(i).removeprefix("+"): _text(i).encode() for i in range(messages)}
    seen = {s.destination: s.short_message for s in submits}
    check(len(seen) == len(submits), f"{len(submits) - len(seen)} duplicate submits")
    check(seen == expected, "the SMSC got other recipients or texts than were sent")


# -- (a) Jasmin's HTTP API ----------------------------------------------------------------


async def _http_load(peer: JasminPeer, params: Parameters) -> list[str]:
    """Every /send, `jasmin_http_connections` at a time; the answers that were not a
    `Success`."""
    import aiohttp  # noqa: PLC0415  (the bench extra; bench.run imports this module)

    connections = params.jasmin_http_connections
    failures: list[str] = []
    queue = iter(range(params.jasmin_messages))
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for index in queue:
                query = {
                    "username": peer.http_username,
                    "password": peer.http_password,
                    "from": SENDER.removeprefix("+"),
                    "to": phone_number(index).removeprefix("+"),
                    "content": _text(index),
                }
                async with session.get(peer.http_url + "/send", params=query) as answer:
                    body = await answer.text()
                    if answer.status != 200 or not body.startswith("Success"):
                        failures.append(f"{answer.status} {body[:200]}")

        await asyncio.gather(*(worker() for _ in range(connections)))
    return failures


def _http_half(context: Context) -> Half:
    params = context.params
    half = Half(params.jasmin_messages)
    with jasmin_chain(context.directory("jasmin-http"), accepted_receipts=False) as peer:
        cpu = CpuMeter(peer)
        started = time.monotonic()
        failures = asyncio.run(_http_load(peer, params))
        half.accepted_s = time.monotonic() - started
        check(not failures, f"{len(failures)} /send not accepted, e.g. {failures[:3]}")
        _wait_smsc(peer, half, started, params.jasmin_timeout_s)
        half.cpu = cpu.shares()
        _check_smsc(peer, params.jasmin_messages)
    return half


# -- (b) opencomms over SMPP ----------------------------------------------------------


def _operator_config(
    name: str, host: str, port: int, system_id: str, binds: int, window: int
) -> str:
    return f"""\
[connectors.{name}]
type = "smpp"
host = "{host}"
port = {port}
system_id = "{system_id}"
password_env = "SMPP_PASSWORD"
binds = {binds}
window = {window}

[[senders]]
address = "{SENDER}"
channel = "SMS"
connector = "{name}"

[[sender_pools]]
name = "default"
senders = ["{SENDER}"]
"""


async def _drive(server: ServerProcess, peer: JasminPeer, half: Half, params: Parameters) -> None:
    body = send_body(params.jasmin_messages)
    messages = params.jasmin_messages
    async with Api(server.url, server.credentials.auth) as api:
        cpu = CpuMeter(peer, server.pid)
        started = time.monotonic()
        operation_id = await api.send(body)
        half.accepted_s = time.monotonic() - started
        while True:
            final = await api.operation(operation_id)
            now, count, stats = time.monotonic() - started, peer.smsc_count(), final["stats"]
            half.progress.append((round(now, 2), count))
            if not half.sent_s and stats["sent"] + stats["delivered"] >= messages:
                half.sent_s = now
            if not half.at_smsc_s and count >= messages:
                half.at_smsc_s = now
            if final["status"] == "COMPLETED":
                half.delivered_s = now
                half.cpu = cpu.shares()
                break
            check(now < params.jasmin_timeout_s, f"not COMPLETED after {now:.0f} s: {stats}")
            await asyncio.sleep(0.1)
    stats = final["stats"]
    check(
        stats["total"] == stats["recipients"] == messages,
        f"total {stats['total']}, recipients {stats['recipients']}",
    )
    check(stats["delivered"] == messages, f"{stats['delivered']} DELIVERED of {messages}: {stats}")
    check(stats["attempts"] == messages, f"{stats['attempts']} attempts for {messages}")


def _check_attempts(database: Path, messages: int) -> None:
    """Every attempt DELIVERED, each with its own provider id (Jasmin's)."""
    with sqlite3.connect(database) as conn:
        total, delivered, ids = conn.execute(
            "SELECT count(*), sum(status = 'DELIVERED'), count(DISTINCT provider_message_id)"
            " FROM attempts"
        ).fetchone()
    check(
        total == delivered == ids == messages,
        f"{total} attempts, {delivered} DELIVERED, {ids} distinct provider ids for {messages}",
    )


def _smpp_half(context: Context, *, direct: bool) -> Half:
    """(b) through Jasmin's SMPP server, or (c) bound straight to the chain's SMSC (Jasmin
    then runs idle beside it, as in (a) and (b))."""
    params = context.params
    half = Half(params.jasmin_messages, via_jasmin=not direct)
    directory = context.directory("smsc-direct" if direct else "jasmin-smpp")
    with jasmin_chain(directory / "jasmin", accepted_receipts=False) as peer:
        if direct:  # the example SMSC takes any system_id and password
            config = _operator_config(
                "smsc", "127.0.0.1", peer.smsc_port, "opencomms",
                params.smpp_direct_binds, params.smpp_direct_window,
            )  # fmt: skip
        else:
            config = _operator_config(
                "jasmin", peer.smpp_host, peer.smpp_port, peer.system_id, 2, 50
            )
        with (
            fresh_database("sqlite", directory) as url,
            ServerProcess(
                url, directory, config=config, env={"SMPP_PASSWORD": peer.password}
            ) as server,
        ):
            asyncio.run(_drive(server, peer, half, params))
            _check_smsc(peer, params.jasmin_messages)
            _check_attempts(directory / "bench.db", params.jasmin_messages)
    return half


# -- the scenario -------------------------------------------------------------------------


def _figures(half: Half) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "messages": half.messages,
        "accepted_s": round(half.accepted_s, 3),
        "accepted_rate": round(half.rate(half.accepted_s)),
        "at_smsc_s": round(half.at_smsc_s, 2),
        "at_smsc_rate": round(half.rate(half.at_smsc_s)),
    }
    if half.sent_s:
        key = "at_jasmin" if half.via_jasmin else "sent"
        figures |= {f"{key}_s": round(half.sent_s, 2), f"{key}_rate": round(half.rate(half.sent_s))}
    if half.delivered_s:
        figures |= {
            "delivered_s": round(half.delivered_s, 2),
            "delivered_rate": round(half.rate(half.delivered_s)),
        }
    figures["cpu_share_of_a_core"] = half.cpu
    return figures | {"progress": half.progress[:: max(1, len(half.progress) // 50)]}


def _against(result: Result, reference: Result, target: float | None = None) -> None:
    """`result` beside the HTTP API's figure; judged against `target` when given."""
    if not (reference.measured and result.measured):
        return
    ratio = result.measured / reference.measured
    result.ratio = f"{ratio:.2f}× the HTTP API"
    result.met = True if target is None else ratio >= target


def run_smpp_vs_jasmin_http(context: Context, engine: str) -> list[Result]:
    """Five figures: (a) the HTTP API until every Message is at the SMSC (the reference);
    (b) opencomms through Jasmin's SMPP server until every Message is at the SMSC (the
    like-for-like pair) and until every one is DELIVERED; (c) opencomms bound straight to
    the SMSC until every submit_sm is answered and until every one is DELIVERED. The
    target (10× the HTTP API) is set on (b) and (c) at the SMSC."""
    params, target = context.params, context.params.targets.smpp_vs_jasmin_http
    size = f"{params.jasmin_messages:,}"
    scenario = "smpp-vs-jasmin-http"
    aim = f"≥ {target:.0f}× the HTTP API"
    http = Result(
        scenario, engine, f"Jasmin HTTP API: {size} GET /send, until all at the SMSC",
        "msg/s", "(the reference)",
    )  # fmt: skip
    smpp = Result(
        scenario, engine, f"opencomms → Jasmin SMPP: 1 POST of {size}, until all at the SMSC",
        "msg/s", aim,
    )  # fmt: skip
    delivered = Result(
        scenario, engine, f"opencomms → Jasmin SMPP: 1 POST of {size}, until all DELIVERED",
        "msg/s", "(every receipt matched)",
    )  # fmt: skip
    direct = Result(
        scenario, engine, f"opencomms → SMSC directly: 1 POST of {size}, until all SENT",
        "msg/s", aim,
    )  # fmt: skip
    direct_delivered = Result(
        scenario, engine, f"opencomms → SMSC directly: 1 POST of {size}, until all DELIVERED",
        "msg/s", "(every receipt matched)",
    )  # fmt: skip
    results = [http, smpp, delivered, direct, direct_delivered]
    reason = missing_peers()
    if reason:
        for result in results:
            result.error = f"the SMPP peers are missing: {reason}"
            context.run.add(result)
        return results
    with checked(context.run, http):
        reference = _http_half(context)
        http.measured = reference.rate(reference.at_smsc_s)
        http.met = True
        http.details = _figures(reference)
        print(f"  Jasmin HTTP API: {http.details}", flush=True)
    with checked(context.run, smpp, delivered):
        ours = _smpp_half(context, direct=False)
        smpp.measured = ours.rate(ours.at_smsc_s)
        delivered.measured = ours.rate(ours.delivered_s)
        smpp.details = delivered.details = _figures(ours)
        print(f"  opencomms → Jasmin SMPP: {smpp.details}", flush=True)
        _against(smpp, http, target)
        _against(delivered, http)
    with checked(context.run, direct, direct_delivered):
        straight = _smpp_half(context, direct=True)
        direct.measured = straight.rate(straight.sent_s)
        direct_delivered.measured = straight.rate(straight.delivered_s)
        direct.details = direct_delivered.details = _figures(straight)
        print(f"  opencomms → SMSC directly: {direct.details}", flush=True)
        _against(direct, http, target)
        _against(direct_delivered, http)
    return results
