"""A claim's answers, gathered as they come (engine/answers.py)."""

from __future__ import annotations

import asyncio

from opencomms.connectors.base import SubmitOutcome, SubmitResult
from opencomms.engine.answers import Answers


def accepted(attempt_id: str) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.ACCEPTED, provider_message_id="M-" + attempt_id)


async def test_an_answer_streamed_then_returned_is_taken_once() -> None:
    answers = Answers()
    answers.add(accepted("a1"))
    first = answers.take()
    answers.add(accepted("a1"))
    answers.add(accepted("a2"))

    assert [r.attempt_id for r in first] == ["a1"]
    assert [r.attempt_id for r in answers.take()] == ["a2"]
    assert answers.answered("a1") and answers.answered("a2") and not answers.answered("a3")


async def test_answers_put_back_go_first_with_the_next_take() -> None:
    answers = Answers()
    answers.add(accepted("a1"))
    unstored = answers.take()
    answers.add(accepted("a2"))
    answers.put_back(unstored)

    assert [r.attempt_id for r in answers.take()] == ["a1", "a2"]


async def test_gather_waits_for_an_answer_and_its_burst_then_for_the_end() -> None:
    answers = Answers()
    ended = asyncio.Event()
    submitting = asyncio.ensure_future(ended.wait())

    async def burst() -> None:
        answers.add(accepted("a1"))
        await asyncio.sleep(0)
        answers.add(accepted("a2"))  # while gather lingers: joins the first

    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(burst()))
    assert await answers.gather(submitting, linger_s=0.2) is False
    assert [r.attempt_id for r in answers.take()] == ["a1", "a2"]

    asyncio.get_running_loop().call_soon(ended.set)
    assert await answers.gather(submitting, linger_s=10) is True
    assert answers.take() == []
