"""Candidates and recipients are typed structs that keep the JSON their columns have
always held: a Message's candidates as `[address, channel, sender id]` arrays, an
operation's recipients as the request's normalized objects."""

from __future__ import annotations

import msgspec

from opencomms.domain.candidates import Candidate
from opencomms.domain.opt_outs import opted_out_of
from opencomms.domain.recipients import Recipient, RecipientAddress


def test_candidates_are_stored_as_the_arrays_they_always_were() -> None:
    candidates = [
        Candidate(address="+14155550100", channel="PHONE", sender_id="SN1"),
        Candidate(address="a@example.com", channel="EMAIL", sender_id="SN2"),
    ]
    stored = b'[["+14155550100","PHONE","SN1"],["a@example.com","EMAIL","SN2"]]'

    assert msgspec.json.encode(candidates) == stored
    assert msgspec.json.decode(stored, type=list[Candidate]) == candidates


def test_a_recipient_reads_and_writes_the_request_s_normalized_object() -> None:
    with_variables = b'{"addresses":[["+14155550100","PHONE"]],"variables":{"name":"Ada"}}'
    without = b'{"addresses":[["ada@example.com","EMAIL"],["+14155550100","PHONE"]]}'

    recipient = msgspec.json.decode(with_variables, type=Recipient)
    bare = msgspec.json.decode(without, type=Recipient)

    assert recipient.addresses == [RecipientAddress("+14155550100", "PHONE")]
    assert recipient.variables == {"name": "Ada"}
    assert bare.variables is None
    assert [a.address for a in bare.addresses] == ["ada@example.com", "+14155550100"]
    assert msgspec.json.encode(recipient) == with_variables
    assert msgspec.json.encode(bare) == without  # no "variables": null appears


def test_an_opt_out_of_every_channel_or_of_this_one_bars_the_send() -> None:
    listed: dict[str, str | None] = {"+14155550100": None, "+14155550101": "WHATSAPP"}

    assert opted_out_of(listed, "+14155550100", "SMS")
    assert opted_out_of(listed, "+14155550101", "WHATSAPP")
    assert not opted_out_of(listed, "+14155550101", "SMS")
    assert not opted_out_of(listed, "+14155550102", "SMS")
