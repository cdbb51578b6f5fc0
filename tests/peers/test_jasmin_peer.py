"""The peer itself, checked with an independent raw-socket client (tests/peers/raw_smpp.py)
before the project's connector is tested against it: bind, submit, an id back, and the
receipts for that id (Jasmin's ACCEPTD, then the SMSC's terminal DELIVRD)."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.peers.raw_smpp import RawSmppClient
from tests.support.jasmin import JasminPeer, SmscSubmit
from tests.support.polling import wait_until

RECEIPTED_MESSAGE_ID = 0x001E
MESSAGE_STATE = 0x0427


@pytest.fixture
def client(jasmin: JasminPeer) -> Iterator[RawSmppClient]:
    smpp = RawSmppClient(jasmin.smpp_host, jasmin.smpp_port)
    try:
        yield smpp
    finally:
        smpp.close()


def receipts_for(client: RawSmppClient, ids: set[str], count: int) -> dict[str, list[str]]:
    """Read receipts until `count` arrived for `ids`; their stat: values, by id."""
    found: dict[str, list[str]] = {}
    deadline = time.monotonic() + 30
    while sum(len(stats) for stats in found.values()) < count:
        assert time.monotonic() < deadline, f"receipts so far: {found}"
        receipt = client.next_deliver_sm()
        assert receipt.esm_class & 0x3C == 0x04, receipt  # an SMSC delivery receipt
        text = receipt.short_message.decode("latin-1")
        match = re.match(r"id:(\S+) .*stat:(\w+)", text)
        assert match, text
        tlv_id = receipt.tlvs[RECEIPTED_MESSAGE_ID].rstrip(b"\0").decode()
        assert tlv_id == match[1], receipt
        if match[1] in ids:
            found.setdefault(match[1], []).append(match[2])
    return found


def smsc_has(jasmin: JasminPeer, destination: str) -> list[SmscSubmit]:
    return [s for s in jasmin.smsc_submits() if s.destination == destination]


def test_bind_submit_and_receipts(jasmin: JasminPeer, client: RawSmppClient) -> None:
    bound = client.bind_transceiver(jasmin.system_id, jasmin.password)
    assert bound.status == 0

    ids = set()
    for n in range(3):
        response = client.submit_sm("OPENCOMMS", f"1415555{n:04d}", b"hello %d" % n)
        assert response.status == 0
        message_id = response.body.rstrip(b"\0").decode()
        assert re.fullmatch(r"[0-9a-f-]{36}", message_id), message_id  # Jasmin's UUID
        ids.add(message_id)

    stats = receipts_for(client, ids, count=6)
    assert set(stats) == ids
    for received in stats.values():
        assert sorted(received) == ["ACCEPTD", "DELIVRD"], stats

    # each reached the SMSC exactly once, as sent
    for n in range(3):
        (submit,) = smsc_has(jasmin, f"1415555{n:04d}")
        assert submit.short_message == b"hello %d" % n
        assert submit.registered_delivery & 0x01


def test_wrong_password_is_refused(jasmin: JasminPeer) -> None:
    other = RawSmppClient(jasmin.smpp_host, jasmin.smpp_port)
    try:
        assert other.bind_transceiver(jasmin.system_id, "wrong").status != 0
    finally:
        other.sock.close()


def test_jasmin_http_api_reaches_the_smsc(jasmin: JasminPeer) -> None:
    query = urllib.parse.urlencode(
        {
            "username": jasmin.http_username,
            "password": jasmin.http_password,
            "to": "14155559999",
            "content": "via http",
        }
    )
    with urllib.request.urlopen(f"{jasmin.http_url}/send?{query}", timeout=30) as answer:
        body = answer.read().decode()
    assert body.startswith('Success "'), body

    (submit,) = wait_until(lambda: smsc_has(jasmin, "14155559999"), timeout=30)
    assert submit.short_message == b"via http"
