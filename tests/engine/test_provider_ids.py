"""Provider ids are matched within their connector: every id an answer or a receipt
carries is stored as `<connector>:<id>`, made storable, so that two SMSCs numbering
their messages alike never move each other's attempts."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from opencomms.connectors.base import Receipt, SubmitOutcome, SubmitResult
from opencomms.domain.storable import MAX_ID_CHARS, REPLACEMENT
from opencomms.engine.provider_ids import (
    keyed_answers,
    keyed_receipts,
    keyed_result,
    provider_key,
)

ACCEPTED, REJECTED = SubmitOutcome.ACCEPTED, SubmitOutcome.REJECTED


def test_an_answer_s_id_and_its_parts_ids_are_keyed_by_its_connector() -> None:
    result = SubmitResult("SM1", ACCEPTED, "7", part_ids=("7", "8"))

    keyed = keyed_result("smsc_a", result)

    assert keyed.provider_message_id == "smsc_a:7"
    assert keyed.part_ids == ("smsc_a:7", "smsc_a:8")
    assert (keyed.attempt_id, keyed.outcome) == ("SM1", ACCEPTED)


def test_an_answer_without_a_providers_id_is_left_as_it_is() -> None:
    refused = SubmitResult("SM1", REJECTED, None, 30008, "Refused")
    assert keyed_result("smsc_a", refused) == refused


def test_an_answer_s_text_is_made_storable() -> None:
    refused = SubmitResult("SM1", REJECTED, "7", 30008, "bad\x00text")

    keyed = keyed_result("smsc_a", refused)

    assert keyed.error_message == f"bad{REPLACEMENT}text"
    assert keyed.provider_message_id == "smsc_a:7"


def test_a_providers_id_longer_than_any_is_cut_but_still_matches_itself() -> None:
    long_id = "x" * 1_000

    assert provider_key("lab", long_id) == provider_key("lab", long_id)
    assert len(provider_key("lab", long_id)) == len("lab:") + MAX_ID_CHARS
    assert provider_key("lab", long_id) != provider_key("lab", long_id + "y")


connectors = st.text(st.characters(blacklist_characters=":"), min_size=1, max_size=10)
ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@given(connectors, ids, connectors, ids)
def test_keys_are_equal_only_for_the_same_id_from_the_same_connector(
    connector: str, provider_id: str, other: str, other_id: str
) -> None:
    same = (connector, provider_id) == (other, other_id)
    assert (provider_key(connector, provider_id) == provider_key(other, other_id)) == same


def test_answers_heard_one_by_one_are_keyed_too() -> None:
    heard: list[SubmitResult] = []

    keyed_answers("smsc_b", heard.append)(SubmitResult("SM1", ACCEPTED, "7"))

    assert [r.provider_message_id for r in heard] == ["smsc_b:7"]


async def test_a_receipt_is_keyed_and_named_after_the_connector_it_came_from() -> None:
    heard: list[Receipt] = []

    def accept(receipt: Receipt) -> asyncio.Future[None]:
        heard.append(receipt)
        return asyncio.get_running_loop().create_future()

    receive = keyed_receipts("smsc_b", accept)
    receive(Receipt("DELIVERED", provider_message_id="7"))
    receive(Receipt("FAILED", "SM1", error_message="no\x00pe"))

    assert heard == [
        Receipt("DELIVERED", provider_message_id="smsc_b:7", connector="smsc_b"),
        Receipt("FAILED", "SM1", error_message=f"no{REPLACEMENT}pe", connector="smsc_b"),
    ]
