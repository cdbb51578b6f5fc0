"""What the database can store, and provider text made storable."""

from __future__ import annotations

import msgspec
import pytest

from opencomms.connectors.base import Receipt, SubmitOutcome, SubmitResult
from opencomms.domain.storable import (
    MAX_ID_CHARS,
    REPLACEMENT,
    is_storable,
    storable_id,
    storable_struct,
    storable_text,
    unstorable_paths,
)


@pytest.mark.parametrize(
    "text",
    ["", "plain", "é 中 😀", "\ufffe\uffff", "\x01\x1f\x7f", "\U0010ffff", "tab\tand\nnewline"],
)
def test_every_code_point_but_nul_and_lone_surrogates_is_storable(text: str) -> None:
    assert is_storable(text)
    assert storable_text(text) == text


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("a\x00b", f"a{REPLACEMENT}b"),
        ("\ud800", REPLACEMENT),
        ("x\udcff\x00", f"x{REPLACEMENT}{REPLACEMENT}"),
    ],
)
def test_nul_and_lone_surrogates_are_replaced(text: str, stored: str) -> None:
    assert not is_storable(text)
    assert storable_text(text) == stored
    assert is_storable(stored)
    stored.encode("utf-8")  # a surrogate would not encode


def test_the_paths_of_unstorable_strings_name_every_one_in_keys_and_values() -> None:
    body = msgspec.json.decode(
        b'{"to": [{"address": "+1", "variables": {"a": "ok", "b": "x\\u0000"}},'
        b' {"variables": {"k\\u0000": "v"}}], "tags": {"t": "\\u0000"}, "n": 3}'
    )

    assert sorted(unstorable_paths(body)) == [
        "tags.t",
        "to[0].variables.b",
        f"to[1].variables.k{REPLACEMENT}",
    ]
    assert list(unstorable_paths({"fine": ["a", {"b": "c"}], "n": None})) == []
    assert list(unstorable_paths("\x00")) == ["body"]


def test_a_reports_text_fields_and_tuples_of_text_are_made_storable() -> None:
    receipt = Receipt("UNDELIVERED", None, "id\x00", 30003, "err:\x00\ud800")
    result = SubmitResult("a1", SubmitOutcome.ACCEPTED, "p\x001", part_ids=("p\x001", "p2"))

    assert storable_struct(receipt) == Receipt(
        "UNDELIVERED", None, f"id{REPLACEMENT}", 30003, f"err:{REPLACEMENT}{REPLACEMENT}"
    )
    assert storable_struct(result).part_ids == (f"p{REPLACEMENT}1", "p2")
    assert storable_struct(result).provider_message_id == f"p{REPLACEMENT}1"
    clean = Receipt("DELIVERED", "a1")
    assert storable_struct(clean) is clean


def test_a_provider_id_is_kept_unless_too_long_then_shortened_the_same_way_each_time() -> None:
    assert storable_id("M000123") == "M000123"
    assert storable_id("a\x00b") == f"a{REPLACEMENT}b"
    long_one, other = "x" * 300 + "1", "x" * 300 + "2"

    assert len(storable_id(long_one)) == MAX_ID_CHARS
    assert storable_id(long_one) == storable_id("x" * 300 + "1")
    assert storable_id(long_one) != storable_id(other)
    assert storable_id(long_one).startswith("x" * 100)
