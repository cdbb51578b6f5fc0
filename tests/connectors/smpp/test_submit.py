"""Submitting: answers, data coding, long messages, window, throughput, throttling."""

from __future__ import annotations

import asyncio

import msgspec
import smpp34

from opencomms.connectors.base import SubmitOutcome, SubmitResult
from opencomms.connectors.smpp import SmppConnector
from tests.connectors.smpp.conftest import MakeConnector, sms
from tests.support.smsc import Smsc


async def test_accepted_with_the_smsc_message_id(connector: SmppConnector, smsc: Smsc) -> None:
    results = await connector.submit([sms("a1"), sms("a2")])
    by_attempt = {r.attempt_id: r for r in results}
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    ids = {s.message_id for s in smsc.submits}
    assert {r.provider_message_id for r in results} == ids
    assert by_attempt["a1"].part_ids == ()
    assert all(s.registered_delivery == 1 for s in smsc.submits)
    assert smsc.submits[0].destination_addr == "14155550100"
    assert smsc.submits[0].source_addr_ton == 1
    assert await connector.was_submitted(["a1", "a2", "never"]) == {
        "a1": True,
        "a2": True,
        "never": None,
    }


async def test_each_answer_is_reported_as_it_comes(connector: SmppConnector, smsc: Smsc) -> None:
    smsc.holding = True
    heard: list[SubmitResult] = []
    submitting = asyncio.create_task(connector.submit([sms("a1"), sms("a2")], heard.append))
    first, second = await smsc.wait_for(lambda: len(smsc.held) == 2 and smsc.held)

    smsc.answer(first, "FIRST")
    await smsc.wait_for(lambda: heard)
    assert [r.provider_message_id for r in heard] == ["FIRST"]
    assert not submitting.done()

    smsc.answer(second, "SECOND")
    results = await submitting
    assert sorted(heard, key=lambda r: r.attempt_id) == sorted(results, key=lambda r: r.attempt_id)


async def test_gsm7_text_goes_unpacked_in_the_default_alphabet(
    connector: SmppConnector, smsc: Smsc
) -> None:
    await connector.submit([sms("a1", "Price: 5€ [ok] @home")])
    (sent,) = smsc.submits
    assert sent.data_coding == 0
    assert sent.esm_class == 0
    # '€' is ESC 0x65, '[' ESC 0x3C, ']' ESC 0x3E, '@' is 0x00
    assert sent.short_message == (b"Price: 5\x1b\x65 \x1b\x3cok\x1b\x3e \x00home")


async def test_text_outside_gsm7_goes_as_ucs2(connector: SmppConnector, smsc: Smsc) -> None:
    await connector.submit([sms("a1", "Привет 👋")])
    (sent,) = smsc.submits
    assert sent.data_coding == 8
    assert sent.short_message == "Привет 👋".encode("utf-16-be")


async def test_default_data_coding_is_the_operators(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(default_data_coding=1)
    await connector.submit([sms("a1", "plain")])
    assert smsc.submits[0].data_coding == 1


async def test_long_gsm7_text_is_split_with_a_concatenation_udh(
    connector: SmppConnector, smsc: Smsc
) -> None:
    # 152 septets then '€' (2 septets) would straddle the 153 boundary: it moves whole
    text = "a" * 152 + "€" + "b" * 200
    (result,) = await connector.submit([sms("long", text)])
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert len(smsc.submits) == 3
    assert result.part_ids == tuple(s.message_id for s in smsc.submits)
    assert result.provider_message_id == smsc.submits[0].message_id
    reference = smsc.submits[0].udh[3]
    for seq, sent in enumerate(smsc.submits, start=1):
        assert sent.esm_class & 0x40
        assert sent.udh == bytes((5, 0, 3, reference, 3, seq))
        assert sent.registered_delivery == 1
        assert sent.data_coding == 0
    bodies = [s.short_message[6:] for s in smsc.submits]
    assert bodies[0] == b"a" * 152
    assert bodies[1][:2] == b"\x1b\x65"
    assert len(bodies[1]) == 153
    assert b"".join(bodies) == b"a" * 152 + b"\x1b\x65" + b"b" * 200


async def test_long_ucs2_text_never_cuts_a_surrogate_pair(
    connector: SmppConnector, smsc: Smsc
) -> None:
    text = "я" * 66 + "😀" + "я" * 10  # the emoji would straddle unit 67
    (result,) = await connector.submit([sms("long", text)])
    assert len(result.part_ids) == 2
    first, second = (s.short_message[6:] for s in smsc.submits)
    assert first.decode("utf-16-be") == "я" * 66
    assert second.decode("utf-16-be") == "😀" + "я" * 10
    assert {s.data_coding for s in smsc.submits} == {8}


async def test_each_long_text_has_its_own_reference(connector: SmppConnector, smsc: Smsc) -> None:
    await connector.submit([sms("l1", "x" * 200), sms("l2", "y" * 200)])
    references = {s.destination_addr + chr(s.udh[3]) for s in smsc.submits}
    assert len(references) == 2


async def test_window_bounds_outstanding_submits_per_bind(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(window=3, binds=2)
    smsc.holding = True
    submitting = asyncio.create_task(connector.submit([sms(f"a{i}") for i in range(20)]))
    await smsc.wait_for(lambda: len(smsc.held) == 6)
    await asyncio.sleep(0.05)  # room for a wrongly sent seventh to show up
    assert len(smsc.submits) == 6
    assert sorted(len(c.outstanding) for c in smsc.connections) == [3, 3]
    smsc.release()
    results = await submitting
    assert len(results) == 20
    assert smsc.max_outstanding == 3
    assert len({s.session_id for s in smsc.submits}) == 2


async def test_throughput_caps_submits_across_binds(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(throughput=50, binds=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await connector.submit([sms(f"a{i}") for i in range(11)])
    assert len(results) == 11
    # the cap is a lower bound on the time taken: 11 submits at 50/s take >= 10 gaps
    assert loop.time() - started >= 10 / 50 * 0.95


async def test_throttled_and_queue_full_come_back_throttled_then_go_through(
    connector: SmppConnector, smsc: Smsc
) -> None:
    smsc.answers = {
        "14155550001": [smpp34.ESME_RTHROTTLED],
        "14155550002": [smpp34.ESME_RMSGQFUL],
    }
    first = await connector.submit([sms("t1", to="+14155550001"), sms("t2", to="+14155550002")])
    assert {r.outcome for r in first} == {SubmitOutcome.THROTTLED}
    assert all(r.retry_after_ms == 50 for r in first)
    assert await connector.was_submitted(["t1", "t2"]) == {"t1": False, "t2": False}
    again = await connector.submit([sms("t1", to="+14155550001"), sms("t2", to="+14155550002")])
    assert {r.outcome for r in again} == {SubmitOutcome.ACCEPTED}
    assert await connector.was_submitted(["t1", "t2"]) == {"t1": True, "t2": True}


async def test_a_throttled_later_part_is_sent_again_not_the_whole_text(
    connector: SmppConnector, smsc: Smsc
) -> None:
    smsc.answers = {"14155550001": [0, smpp34.ESME_RTHROTTLED, smpp34.ESME_RMSGQFUL]}
    (result,) = await connector.submit([sms("long", "z" * 300, to="+14155550001")])
    assert result.outcome is SubmitOutcome.ACCEPTED
    statuses = [s.status for s in smsc.submits]
    assert statuses == [0, smpp34.ESME_RTHROTTLED, smpp34.ESME_RMSGQFUL, 0]
    assert [s.udh[5] for s in smsc.submits] == [1, 2, 2, 2]
    assert len(result.part_ids) == 2


async def test_a_throttled_bind_pauses_while_another_sends(
    connector_factory: MakeConnector, smsc: Smsc
) -> None:
    connector = await connector_factory(binds=2)
    connector.throttle_pause = 30  # the throttled bind stays paused for the whole test
    smsc.answers = {"14155550001": [smpp34.ESME_RTHROTTLED]}
    (throttled,) = await connector.submit([sms("t1", to="+14155550001")])
    assert throttled.outcome is SubmitOutcome.THROTTLED
    paused_session = smsc.submits[0].session_id
    results = await connector.submit([sms(f"a{i}") for i in range(5)])
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    assert all(s.session_id != paused_session for s in smsc.submits[1:])


async def test_permanent_errors_are_rejected_with_twilio_codes(
    connector: SmppConnector, smsc: Smsc
) -> None:
    smsc.answers = {
        "14155550001": [smpp34.ESME_RINVDSTADR],
        "14155550002": [smpp34.ESME_RINVSRCADR],
        "14155550003": [smpp34.ESME_RSYSERR],
    }
    results = await connector.submit([sms(f"r{i}", to=f"+1415555000{i}") for i in (1, 2, 3)])
    by_attempt = {r.attempt_id: r for r in results}
    assert {r.outcome for r in results} == {SubmitOutcome.REJECTED}
    assert by_attempt["r1"].error_code == 21211
    assert "ESME_RINVDSTADR" in (by_attempt["r1"].error_message or "")
    assert by_attempt["r2"].error_code == 21212
    assert by_attempt["r3"].error_code == 30008
    assert "ESME_RSYSERR (0x00000008)" in (by_attempt["r3"].error_message or "")
    assert await connector.was_submitted(["r1"]) == {"r1": False}


async def test_non_sms_or_textless_content_is_rejected_unsent(
    connector: SmppConnector, smsc: Smsc
) -> None:
    bad = msgspec.structs.replace(sms("b1"), content={"media": "x"})
    (result,) = await connector.submit([bad])
    assert result.outcome is SubmitOutcome.REJECTED
    assert smsc.submits == []
