"""Fan-out of a chunk: what each recipient becomes. One Message per recipient some
sender reaches, its candidates in address order then the pool's order; FAILED when it
is opted out everywhere or its templates fail; unaddressable when no sender reaches it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from opencomms.domain.candidates import Candidate
from opencomms.domain.errors import NO_CANDIDATE, TEMPLATE_FAILED, UNSTORABLE, UNSUBSCRIBED
from opencomms.domain.new_messages import FanoutChunk, NewMessage
from opencomms.domain.recipients import Recipient, RecipientAddress
from opencomms.engine.fanout_recipients import build_chunk
from opencomms.engine.rendering import Rendered
from opencomms.store.new_messages import FanoutWork
from tests.engine.states import NOW, sender

PHONE = "+14155550100"
RCS = sender("SN1", channel="RCS", connector="rbm", address="brand_agent")
SMS = sender("SN2")
EMAIL = sender("SN3", channel="EMAIL", connector="smtp", address="news@example.com")
POOL = (RCS, SMS, EMAIL)


def recipient(*addresses: tuple[str, str]) -> Recipient:
    """A recipient with these (address, channel), in the order they are tried."""
    return Recipient([RecipientAddress(a, c) for a, c in addresses])


def work(*recipients: Recipient, send_at: int | None = None, **spec: Any) -> FanoutWork:
    return FanoutWork(
        operation_id="OP1",
        account_sid="AC1",
        status="PROCESSING",
        spec={"content": {"text": "Hello"}, "senders": [s.id for s in POOL], **spec},
        cursor=0,
        recipients=list(recipients),
        send_at=send_at,
    )


def plain(count: int) -> list[Rendered]:
    """What the renderer gives for an operation without templates."""
    return [Rendered(texts={}) for _ in range(count)]


def chunk_of(
    fanned: FanoutWork,
    rendered: list[Rendered] | None = None,
    opted_out: dict[str, str | None] | None = None,
) -> FanoutChunk:
    """Every recipient of `fanned` in one chunk, through the senders of POOL."""
    total = len(fanned.recipients)
    texts = plain(total) if rendered is None else rendered
    return build_chunk(fanned, 0, total, POOL, texts, NOW, opted_out)


def only(chunk: FanoutChunk) -> NewMessage:
    [made] = chunk.messages
    return made


def test_a_phone_recipient_gets_one_queued_message_due_now() -> None:
    made = only(chunk_of(work(recipient((PHONE, "PHONE")))))

    assert (made.status, made.settled, made.due_at, made.scheduled_for) == (
        "QUEUED",
        False,
        NOW,
        None,
    )
    assert (made.operation_id, made.account_sid, made.recipient_index) == ("OP1", "AC1", 0)
    assert made.content == {"text": "Hello"}
    assert (made.error_code, made.error_message) == (None, None)


def test_candidates_follow_the_recipients_addresses_then_the_pools_order() -> None:
    person = recipient(("a@example.com", "EMAIL"), (PHONE, "PHONE"))

    made = only(chunk_of(work(person)))

    assert made.candidates == [
        Candidate("a@example.com", "EMAIL", "SN3"),
        Candidate(PHONE, "PHONE", "SN1"),
        Candidate(PHONE, "PHONE", "SN2"),
    ]


def test_a_recipient_no_sender_reaches_is_unaddressable_not_a_message() -> None:
    chunk = chunk_of(work(recipient((PHONE, "WHATSAPP")), recipient((PHONE, "PHONE"))))

    [lost] = chunk.unaddressable
    assert (lost.recipient_index, lost.error_code, lost.error_message) == (0, *NO_CANDIDATE)
    assert [m.recipient_index for m in chunk.messages] == [1]


def test_a_recipient_opted_out_of_one_channel_keeps_the_others() -> None:
    made = only(chunk_of(work(recipient((PHONE, "PHONE"))), opted_out={PHONE: "SMS"}))
    assert [c.sender_id for c in made.candidates] == ["SN1"]
    assert made.status == "QUEUED"


def test_a_recipient_opted_out_everywhere_is_a_failed_message() -> None:
    made = only(chunk_of(work(recipient((PHONE, "PHONE"))), opted_out={PHONE: None}))

    assert (made.status, made.settled, made.due_at) == ("FAILED", True, None)
    assert (made.error_code, made.error_message) == UNSUBSCRIBED
    assert made.candidates == []


def test_a_send_at_in_the_future_schedules_the_message() -> None:
    later = NOW + 3_600_000

    made = only(chunk_of(work(recipient((PHONE, "PHONE")), send_at=later)))

    assert (made.status, made.due_at, made.scheduled_for) == ("SCHEDULED", later, later)


def test_a_send_at_already_past_is_due_now() -> None:
    made = only(chunk_of(work(recipient((PHONE, "PHONE")), send_at=NOW - 1)))
    assert (made.status, made.due_at, made.scheduled_for) == ("QUEUED", NOW, None)


def test_a_local_send_time_is_each_recipients_own() -> None:
    paris, new_york = "+33612345678", "+12125550100"
    fanned = work(
        recipient((paris, "PHONE")),
        recipient((new_york, "PHONE")),
        sendAtLocal="2099-06-01T09:00:00",
    )

    first, second = chunk_of(fanned).messages

    assert second.due_at - first.due_at == 6 * 3_600_000  # 09:00 in Paris, then in New York
    assert first.status == second.status == "SCHEDULED"


def test_a_recipient_whose_template_fails_is_failed_and_says_why() -> None:
    rendered = [Rendered(error="undefined variable 'name'"), Rendered(texts={"text": "Hi Bo"})]
    fanned = work(
        recipient((PHONE, "PHONE")), recipient((PHONE, "PHONE")), content={"text": "Hi {{ name }}"}
    )

    failed, sent = chunk_of(fanned, rendered).messages

    assert (failed.status, failed.settled, failed.due_at, failed.content) == (
        "FAILED",
        True,
        None,
        {"text": ""},
    )
    assert failed.error_code == TEMPLATE_FAILED.code
    assert failed.error_message == f"{TEMPLATE_FAILED.message} undefined variable 'name'"
    assert (sent.status, sent.content) == ("QUEUED", {"text": "Hi Bo"})


def test_rendered_tags_and_module_texts_are_the_recipients_own() -> None:
    spec = {
        "content": {"text": "Hi", "modules": {"rcs": {"text": "Hi {{ n }}"}}},
        "tags": {"code": "{{ c }}", "kind": "promo"},
    }
    rendered = [Rendered(texts={"modules.rcs.text": "Hi Al", "tags.code": "7"})]

    made = only(chunk_of(work(recipient((PHONE, "PHONE")), **spec), rendered))

    assert made.content == {"text": "Hi", "modules": {"rcs": {"text": "Hi Al"}}}
    assert made.tags == {"code": "7", "kind": "promo"}


def test_a_rendered_tag_that_cannot_be_stored_fails_that_recipient_alone() -> None:
    rendered = [Rendered(texts={"tags.code": "a\x00b"}), Rendered(texts={"tags.code": "ok"})]
    fanned = work(
        recipient((PHONE, "PHONE")), recipient((PHONE, "PHONE")), tags={"code": "{{ c }}"}
    )

    failed, kept = chunk_of(fanned, rendered).messages

    assert (failed.status, failed.error_code, failed.tags) == ("FAILED", UNSTORABLE.code, {})
    assert "its tag code holds a NUL character" in (failed.error_message or "")
    assert (kept.status, kept.tags) == ("QUEUED", {"code": "ok"})


def test_the_sms_size_is_measured_when_an_sms_sender_may_send_it() -> None:
    made = only(chunk_of(work(recipient((PHONE, "PHONE")), content={"text": "ж" * 71})))
    assert (made.encoding, made.segments) == ("UCS-2", 2)


def test_no_sms_size_without_an_sms_candidate() -> None:
    made = only(chunk_of(work(recipient(("a@example.com", "EMAIL")))))
    assert (made.encoding, made.segments) == (None, None)


def test_the_sms_module_text_is_the_one_measured() -> None:
    content = {"text": "short", "modules": {"sms": {"text": "x" * 161}}}
    made = only(chunk_of(work(recipient((PHONE, "PHONE")), content=content)))
    assert made.segments == 2


def test_a_chunk_makes_the_recipients_of_its_range_only() -> None:
    fanned = work(*(recipient((f"+1415555{n:04d}", "PHONE")) for n in range(10)))

    chunk = build_chunk(fanned, 4, 7, POOL, plain(3), NOW, None)

    assert (chunk.start, chunk.end) == (4, 7)
    assert [m.recipient_index for m in chunk.messages] == [4, 5, 6]
    assert [m.recipient[0]["address"] for m in chunk.messages] == [
        "+14155550004",
        "+14155550005",
        "+14155550006",
    ]


def test_every_message_has_its_own_id() -> None:
    chunk = chunk_of(work(*(recipient((PHONE, "PHONE")) for _ in range(50))))
    assert len({m.id for m in chunk.messages}) == 50


channels = st.sampled_from(["PHONE", "EMAIL", "WHATSAPP"])


@given(st.lists(st.lists(channels, min_size=1, max_size=3), min_size=1, max_size=8))
def test_every_recipient_is_a_message_or_unaddressable_once(
    address_channels: list[list[str]],
) -> None:
    recipients = [
        recipient(*((f"r{i}a{j}", c) for j, c in enumerate(chs)))
        for i, chs in enumerate(address_channels)
    ]

    chunk = chunk_of(work(*recipients))

    indexes = [m.recipient_index for m in chunk.messages] + [
        u.recipient_index for u in chunk.unaddressable
    ]
    assert sorted(indexes) == list(range(len(recipients)))
    for made in chunk.messages:
        reachable = [c for c in address_channels[made.recipient_index] if c != "WHATSAPP"]
        assert len(made.candidates) == sum(2 if c == "PHONE" else 1 for c in reachable)
    for lost in chunk.unaddressable:
        assert set(address_channels[lost.recipient_index]) == {"WHATSAPP"}
