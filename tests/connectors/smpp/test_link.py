"""The binds' life: bind modes, keepalive, unbind, generic_nack, reconnect with backoff,
and the crash rule: a connection lost never loses nor duplicates a submission."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from opencomms.connectors.base import SubmitOutcome
from opencomms.connectors.smpp import SmppConnector
from tests.connectors.smpp.conftest import Handlers, MakeConnector, sms
from tests.support.smsc import Smsc

ENQUIRE_LINK, ENQUIRE_LINK_RESP, GENERIC_NACK = 0x15, 0x80000015, 0x80000000


def attempt(index: int) -> str:
    return f"a{index}"


def submissions(count: int) -> list:  # type: ignore[type-arg]
    """Each to its own number, so the SMSC's record tells attempts apart."""
    return [sms(attempt(i), to=f"+1415555{i:04d}") for i in range(count)]


def destinations(smsc: Smsc) -> list[str]:
    return [s.destination_addr for s in smsc.submits]


async def test_parallel_transceiver_binds(connector_factory: MakeConnector, smsc: Smsc) -> None:
    await connector_factory(binds=3)
    assert len(smsc.binds) == 3
    assert all(esme.can_receive for esme in smsc.binds)
    assert {esme.system_id for esme in smsc.binds} == {"esme"}


async def test_transmitter_mode_adds_receivers_for_receipts(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(bind_mode="transmitter", binds=2)
    await smsc.wait_for(lambda: len(smsc.sessions) == 4)
    assert sorted(esme.can_receive for esme in smsc.binds) == [False, False, True, True]
    results = await connector.submit(submissions(6))
    assert len(results) == 6
    receivers = {esme.session_id for esme in smsc.binds if esme.can_receive}
    assert not receivers & {s.session_id for s in smsc.submits}


async def test_receiver_mode_refuses_to_submit(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(bind_mode="receiver")
    (result,) = await connector.submit([sms("a1")])
    assert result.outcome is SubmitOutcome.REJECTED
    assert smsc.submits == []


async def test_enquire_link_sent_every_interval_and_answered(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    await connector_factory(enquire_link_interval="20ms")
    await smsc.wait_for(lambda: smsc.enquire_links >= 3)
    assert await smsc.request(ENQUIRE_LINK) == (ENQUIRE_LINK_RESP, 0)
    assert len(smsc.binds) == 1  # smpp34 answered them all: the bind never dropped


async def test_unknown_request_gets_generic_nack(connector: SmppConnector, smsc: Smsc) -> None:
    assert await smsc.request(0x00000103) == (GENERIC_NACK, 0x03)  # ESME_RINVCMDID
    (result,) = await connector.submit([sms("a1")])
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_unbind_from_the_smsc_is_answered_and_the_bind_comes_back(
    connector: SmppConnector, smsc: Smsc
) -> None:
    await smsc.binds[0].unbind()
    await smsc.wait_for(lambda: len(smsc.binds) == 2 and len(smsc.sessions) == 1)
    (result,) = await connector.submit([sms("a1")])
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_reconnects_with_exponential_backoff(connector: SmppConnector, smsc: Smsc) -> None:
    smsc.refusing = True
    smsc.drop()
    await smsc.wait_for(lambda: len(smsc.connection_times) >= 7)
    smsc.refusing = False
    await smsc.wait_for(lambda: len(smsc.binds) == 2)
    refused = smsc.connection_times[1:7]  # the first is the original bind
    gaps = [later - earlier for earlier, later in itertools.pairwise(refused)]
    # 20ms doubling, capped at 160ms; lower bounds only (a loaded machine is slower)
    for gap, expected in zip(gaps, [0.02, 0.04, 0.08, 0.16, 0.16], strict=True):
        assert gap >= expected * 0.9
    (result,) = await connector.submit([sms("a1")])
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_submit_waits_for_a_bind_to_come_back(connector: SmppConnector, smsc: Smsc) -> None:
    smsc.refusing = True
    smsc.drop()
    await smsc.wait_for(lambda: not connector._sessions[0].bound)
    submitting = asyncio.create_task(connector.submit(submissions(3)))
    await smsc.wait_for(lambda: len(smsc.connection_times) >= 3)
    smsc.refusing = False
    results = await submitting
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    assert sorted(destinations(smsc)) == ["14155550000", "14155550001", "14155550002"]


async def test_no_bind_within_the_response_timeout_is_throttled_unsent(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(response_timeout="200ms")
    smsc.refusing = True
    smsc.drop()
    await smsc.wait_for(lambda: not connector._sessions[0].bound)
    results = await connector.submit(submissions(2))
    assert {r.outcome for r in results} == {SubmitOutcome.THROTTLED}
    assert await connector.was_submitted(["a0", "a1"]) == {"a0": False, "a1": False}
    assert smsc.submits == []


async def test_answer_lost_with_the_connection_is_never_resent(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    """Window 1: the first submit's answer is lost with its connection; the four
    behind it were never written, and go through on the bind that comes back."""
    connector = await connector_factory(window=1)
    smsc.drop_on_response = 1
    results = await connector.submit(submissions(5))
    assert len(smsc.binds) == 2
    lost = {attempt(i) for i in range(5)} - {r.attempt_id for r in results}
    assert len(lost) == 1
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    assert sorted(destinations(smsc)) == [f"1415555{i:04d}" for i in range(5)]
    answers = await connector.was_submitted([attempt(i) for i in range(5)])
    assert answers == {a: (None if a in lost else True) for a in answers}


async def test_connection_lost_before_any_answer_leaves_all_in_doubt(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(window=5)
    smsc.holding = True
    submitting = asyncio.create_task(connector.submit(submissions(3)))
    await smsc.wait_for(lambda: len(smsc.held) == 3)
    smsc.drop()
    assert await submitting == []
    assert await connector.was_submitted(["a0", "a1", "a2"]) == dict.fromkeys(["a0", "a1", "a2"])
    smsc.release()  # the SMSC answers into the dead session
    await smsc.wait_for(lambda: len(smsc.sessions) == 1 and len(smsc.binds) == 2)
    (result,) = await connector.submit([sms("later", to="+14155559999")])
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert sorted(destinations(smsc)) == [
        "14155550000",
        "14155550001",
        "14155550002",
        "14155559999",
    ]


async def test_response_timeout_leaves_it_in_doubt_without_resending(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(response_timeout="150ms")
    smsc.holding = True
    assert await connector.submit([sms("slow")]) == []
    assert await connector.was_submitted(["slow"]) == {"slow": None}
    await asyncio.sleep(0.2)
    assert len(smsc.submits) == 1


async def test_long_text_whose_second_part_is_in_doubt_is_left_out(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(window=1)
    smsc.holding = True
    results_task = asyncio.create_task(connector.submit([sms("long", "q" * 300)]))
    await smsc.wait_for(lambda: len(smsc.held) == 1)
    smsc.answer(smsc.held[0])  # part 1 is accepted
    await smsc.wait_for(lambda: len(smsc.submits) == 2 and len(smsc.held) == 1)
    smsc.drop_on_response = 1  # part 2's answer is lost with the connection
    smsc.answer(smsc.held[0])
    assert await results_task == []
    assert len(smsc.submits) == 2
    assert await connector.was_submitted(["long"]) == {"long": None}


async def test_after_a_restart_nothing_is_known(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    first = await connector_factory()
    await first.submit([sms("a1")])
    await first.close()
    restarted = await connector_factory()
    assert await restarted.was_submitted(["a1"]) == {"a1": None}


async def test_an_answer_after_the_response_timeout_is_reported_with_its_id(
    connector_factory: MakeConnector, smsc: Smsc, handlers: Handlers
) -> None:
    connector = await connector_factory(response_timeout="200ms")
    smsc.holding = True
    submitting = asyncio.create_task(connector.submit([sms("SM-late")]))
    held = await smsc.wait_for(lambda: smsc.held and smsc.held[0])

    assert await submitting == []  # in doubt: left out, never resent
    assert await connector.was_submitted(["SM-late"]) == {"SM-late": None}
    smsc.answer(held, "ID-LATE")

    await smsc.wait_for(lambda: handlers.receipts)
    assert [(r.status, r.attempt_id, r.provider_message_id) for r in handlers.receipts] == [
        ("SENT", "SM-late", "ID-LATE")
    ]
    assert await connector.was_submitted(["SM-late"]) == {"SM-late": True}
    assert len(smsc.submits) == 1


async def test_a_refusal_after_the_response_timeout_lets_the_engine_send_again(
    connector_factory: MakeConnector, smsc: Smsc, handlers: Handlers
) -> None:
    connector = await connector_factory(response_timeout="200ms")
    smsc.holding = True
    smsc.answers["14155550100"] = [0x58]
    submitting = asyncio.create_task(connector.submit([sms("SM-refused")]))
    held = await smsc.wait_for(lambda: smsc.held and smsc.held[0])
    assert await submitting == []

    smsc.answer(held)

    await smsc.wait_for(lambda: held.status == 0x58)
    await asyncio.sleep(0.05)
    assert await connector.was_submitted(["SM-refused"]) == {"SM-refused": False}
    assert handlers.receipts == []


async def test_a_bind_answered_after_close_began_is_not_served(
    connector: SmppConnector, smsc: Smsc
) -> None:
    """close() may cancel the session just as the bind is answered (on Python 3.11,
    asyncio.wait_for then returns the answer and drops the cancel): the session must
    stop there, or close() waits for it forever."""
    session = connector._sessions[0]
    connect = session._connect

    async def bound_as_close_begins() -> Any:
        link = await connect()
        session._closing = True
        return link

    session._connect = bound_as_close_begins  # type: ignore[method-assign]
    smsc.drop()
    await asyncio.wait_for(connector._tasks[0], 5)
    assert not session.bound
