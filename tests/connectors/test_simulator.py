"""The simulator connector, case by case: each magic address, each knob, its submit log."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from opencomms.connectors.base import Receipt, Submission, SubmitOutcome, SubmitResult
from opencomms.connectors.simulator import Simulator
from opencomms.settings import SimulatorSettings

ACCEPTED, REJECTED, THROTTLED = (
    SubmitOutcome.ACCEPTED,
    SubmitOutcome.REJECTED,
    SubmitOutcome.THROTTLED,
)

# (channel, to) -> (first submit outcome, error code, receipts in order)
CASES: list[tuple[str, str, SubmitOutcome, int | None, list[str]]] = [
    ("RCS", "+14155550100", ACCEPTED, None, ["DELIVERED", "READ"]),
    ("WHATSAPP", "+14155550100", ACCEPTED, None, ["DELIVERED", "READ"]),
    ("SMS", "+14155550100", ACCEPTED, None, ["DELIVERED"]),
    ("RCS", "+14155550001", REJECTED, 61337, []),
    ("WHATSAPP", "+14155550001", ACCEPTED, None, ["DELIVERED", "READ"]),
    ("WHATSAPP", "+14155550002", REJECTED, 63003, []),
    ("RCS", "+14155550002", ACCEPTED, None, ["DELIVERED", "READ"]),
    ("RCS", "+14155550003", REJECTED, 61337, []),
    ("WHATSAPP", "+14155550003", REJECTED, 63003, []),
    ("SMS", "+14155550003", ACCEPTED, None, ["DELIVERED"]),
    ("SMS", "+14155550004", ACCEPTED, None, ["UNDELIVERED"]),
    ("RCS", "+14155550005", REJECTED, 61337, []),
    ("SMS", "+14155550005", REJECTED, 30008, []),
    ("SMS", "+14155550006", ACCEPTED, None, []),
    ("RCS", "+14155550006", ACCEPTED, None, []),
    ("SMS", "+14155550007", THROTTLED, None, []),
    ("RCS", "+14155550008", ACCEPTED, None, ["DELIVERED"]),
    ("EMAIL", "ada@example.com", ACCEPTED, None, ["DELIVERED"]),
    ("EMAIL", "fail@example.com", REJECTED, 30008, []),
    ("EMAIL", "bounce@example.com", ACCEPTED, None, ["UNDELIVERED"]),
]


def submission(channel: str, to: str, attempt: str = "SM" + "0" * 32) -> Submission:
    return Submission(
        attempt, "comms_message_x", "comms_operation_x", "AC1", channel, "+1206", to, {"text": "hi"}
    )


async def run(
    simulator: Simulator, submissions: list[Submission], settle: float = 0.05
) -> tuple[list[SubmitResult], list[Receipt]]:
    receipts: list[Receipt] = []
    await simulator.start(receipts.append, lambda message: None)
    results = await simulator.submit(submissions)
    await asyncio.sleep(settle)
    await simulator.close()
    return results, receipts


def quick(**changes: Any) -> SimulatorSettings:
    """Settings with instant receipts, and `changes`."""
    return msgspec.structs.replace(SimulatorSettings(receipt_latency_ms=[0, 0]), **changes)


@pytest.mark.parametrize(("channel", "to", "outcome", "code", "receipts"), CASES)
async def test_magic_addresses(
    channel: str, to: str, outcome: SubmitOutcome, code: int | None, receipts: list[str]
) -> None:
    (result,), got = await run(Simulator(quick()), [submission(channel, to)])

    assert result.outcome is outcome
    assert result.error_code == code
    assert [r.status for r in got] == receipts
    if "UNDELIVERED" in receipts:
        assert got[0].error_code == 30003


async def test_a_throttled_attempt_is_accepted_when_submitted_again() -> None:
    simulator = Simulator(quick())
    receipts: list[Receipt] = []
    await simulator.start(receipts.append, lambda message: None)
    first = await simulator.submit([submission("SMS", "+14155550007")])
    second = await simulator.submit([submission("SMS", "+14155550007")])
    await asyncio.sleep(0.05)
    await simulator.close()

    assert (first[0].outcome, second[0].outcome) == (THROTTLED, ACCEPTED)
    assert first[0].retry_after_ms > 0
    assert [r.status for r in receipts] == ["DELIVERED"]


async def test_submit_latency_delays_the_answer() -> None:
    simulator = Simulator(quick(submit_latency_ms=[100, 100]))
    started = time.monotonic()
    await run(simulator, [submission("SMS", "+14155550100")], settle=0)
    assert time.monotonic() - started >= 0.1


async def test_receipt_latency_delays_receipts() -> None:
    simulator = Simulator(SimulatorSettings(receipt_latency_ms=[200, 200]))
    _, early = await run(simulator, [submission("SMS", "+14155550100")], settle=0.05)
    assert early == []


async def test_throughput_caps_each_sender() -> None:
    simulator = Simulator(quick(throughput=20))
    batch = [submission("SMS", "+14155550100", f"SM{i:032x}") for i in range(11)]
    started = time.monotonic()
    await run(simulator, batch, settle=0)
    # 11 submits at 20/s from one sender: the last may go no sooner than 0.5 s in
    assert time.monotonic() - started >= 0.5


async def test_random_mode_is_seeded_and_mixes_outcomes() -> None:
    batch = [submission("SMS", f"+1415555{1000 + i}", f"SM{i:032x}") for i in range(200)]
    results_a, _ = await run(Simulator(quick(capable_probability=0.5, seed=7)), batch)
    results_b, _ = await run(Simulator(quick(capable_probability=0.5, seed=7)), batch)

    outcomes = [r.outcome for r in results_a]
    assert outcomes == [r.outcome for r in results_b]
    assert 50 < outcomes.count(REJECTED) < 150


async def test_the_submit_log_has_one_line_per_submit(tmp_path: Path) -> None:
    log = tmp_path / "submits.jsonl"
    simulator = Simulator(quick(submit_log=str(log)))
    await run(
        simulator,
        [
            submission("SMS", "+14155550100", "SM" + "1" * 32),
            submission("RCS", "+14155550001", "SM" + "2" * 32),
        ],
    )

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["attemptId"], line["channel"], line["to"], line["result"]) for line in lines] == [
        ("SM" + "1" * 32, "SMS", "+14155550100", "ACCEPTED"),
        ("SM" + "2" * 32, "RCS", "+14155550001", "REJECTED"),
    ]
    assert {"messageId", "operationId", "at"} <= set(lines[0])


async def test_a_restarted_simulator_knows_what_it_accepted_and_redelivers_receipts(
    tmp_path: Path,
) -> None:
    log = str(tmp_path / "submits.jsonl")
    await run(
        Simulator(quick(submit_log=log, receipt_latency_ms=[5000, 5000])),
        [submission("SMS", "+14155550100", "SM" + "1" * 32)],
        settle=0,
    )

    restarted = Simulator(quick(submit_log=log))
    receipts: list[Receipt] = []
    await restarted.start(receipts.append, lambda message: None)
    known = await restarted.was_submitted(["SM" + "1" * 32, "SM" + "9" * 32])
    await asyncio.sleep(0.05)
    await restarted.close()

    assert known == {"SM" + "1" * 32: True, "SM" + "9" * 32: False}
    assert [(r.attempt_id, r.status) for r in receipts] == [("SM" + "1" * 32, "DELIVERED")]


async def test_without_a_log_a_restarted_simulator_cannot_tell() -> None:
    simulator = Simulator(quick())
    await simulator.start(lambda receipt: None, lambda message: None)
    assert await simulator.was_submitted(["SM" + "1" * 32]) == {"SM" + "1" * 32: None}
    await simulator.close()
