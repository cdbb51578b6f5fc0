"""Addresses belong to accounts: an address on a connector is one account's, or the
operator's (every account's); no other account can register it, move a sender onto it,
send as it, or get its replies and opt-outs. Two accounts, through the real server."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token, new_sender_id
from opencomms.settings import load_settings
from opencomms.store import senders
from opencomms.store.records import SenderRecord
from tests.support.databases import database_url
from tests.support.polling import all_messages, send, wait_completed, wait_until
from tests.support.server import ThreadServer

CONFIG = """\
[simulator]
receipt_latency_ms = [0, 5]
fallback_timeout = "400ms"
receipt_wait = "800ms"

[connectors.lab]        # a second carrier: the same number may be another account's there
type = "simulator"

[[senders]]             # the operator's, shared by every account
address = "{shared}"
channel = "SMS"
connector = "lab"
"""


class Lab:
    def __init__(self, server: ThreadServer, shared: str) -> None:
        self.server = server
        self.shared = shared

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url + "/v1", auth=self.server.new_account(), timeout=30
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp(f"ownership-{request.param}")
    shared = number()
    with database_url(request.param, str(directory)) as url:
        path = directory / "opencomms.toml"
        path.write_text(CONFIG.format(shared=shared))
        environ = {"OPENCOMMS_DATABASE_URL": url, "OPENCOMMS_ACCOUNT_SID": new_account_sid()}
        settings = load_settings(
            str(path),
            environ=environ | {"OPENCOMMS_AUTH_TOKEN": new_auth_token()},
            connector_types=CONNECTOR_TYPES,
        )
        settings.server.secret_key_file = str(Path(directory) / "opencomms.key")
        server = ThreadServer(settings).start()
        try:
            yield Lab(server, shared)
        finally:
            server.stop()


@pytest.fixture
def alice(lab: Lab) -> Iterator[httpx.Client]:
    with lab.client() as client:
        yield client


@pytest.fixture
def mallory(lab: Lab) -> Iterator[httpx.Client]:
    with lab.client() as client:
        yield client


def number(ending: str = "") -> str:
    """A number of its own for each test (the server is shared by the module)."""
    return f"+1206{random.randrange(10**6):06d}{ending or f'{random.randrange(10**4):04d}'}"


def register(api: httpx.Client, address: str, channel: str, **extra: Any) -> httpx.Response:
    return api.post("/Senders", json={"address": address, "channel": channel, **extra})


def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_taken(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["code"], body["status"]) == (20409, 409)
    assert "belongs to another account" in body["message"]


def addresses(api: httpx.Client) -> set[tuple[str, str, str]]:
    listed = api.get("/Senders", params={"pageSize": 1000}).json()["senders"]
    return {(s["address"], s["channel"], s["connector"]) for s in listed}


def opted_out(api: httpx.Client, address: str) -> bool:
    return api.get(f"/OptOuts/{address}").status_code == 200


def unique_kind(kind: str) -> tuple[str, str, str]:
    """(channel, an address of this kind, another spelling of it), new for each test."""
    tag = f"{random.randrange(10**8):08d}"
    if kind == "number":
        digits = "1206" + tag[:7]
        return "SMS", f"+{digits}", f"+{digits[0]} ({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    if kind == "whatsapp number":
        digits = "1206" + tag[:7]
        return "WHATSAPP", f"+{digits}", f"+{digits}"
    if kind == "short code":
        return "SMS", tag[:6], tag[:6]
    if kind == "agent id":
        return "RCS", f"brand_{tag}@rbm.goog", f"Brand_{tag}@RBM.goog"
    return "EMAIL", f"news-{tag}@example.com", f"News-{tag}@Example.COM"


KINDS = ["number", "whatsapp number", "short code", "agent id", "email"]


@pytest.mark.parametrize("kind", KINDS)
def test_another_account_cannot_register_an_address_in_any_spelling(
    alice: httpx.Client, mallory: httpx.Client, kind: str
) -> None:
    channel, address, spelt = unique_kind(kind)
    created(register(alice, address, channel))
    before = addresses(mallory)

    assert_taken(register(mallory, address, channel))
    if spelt != address and kind == "number":  # the API takes E.164 only: other spellings 400
        assert register(mallory, spelt, channel).status_code == 400
    elif spelt != address:
        assert_taken(register(mallory, spelt, channel))
    assert addresses(mallory) == before
    # on another carrier the address is free; the owner may use it on every channel
    created(register(mallory, address, channel, connector="lab"))
    if channel == "SMS" and address.startswith("+"):
        created(register(alice, address, "WHATSAPP"))


def test_a_number_and_the_short_code_of_its_digits_are_one_address(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    digits = str(random.randrange(10**5, 10**6))
    created(register(alice, "+" + digits, "SMS"))

    assert_taken(register(mallory, digits, "SMS"))  # an SMSC cannot tell them apart


def test_a_sender_cannot_be_moved_onto_another_accounts_address(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    address = number()
    created(register(alice, address, "SMS"))
    theirs = created(register(mallory, address, "SMS", connector="lab"))

    moved = mallory.post(f"/Senders/{theirs['id']}", json={"connector": "simulator"})
    assert_taken(moved)
    patched = mallory.patch(
        f"/Senders/{theirs['id']}", json={"connector": "simulator", "tags": {"a": "b"}}
    )
    assert_taken(patched)
    after = mallory.get(f"/Senders/{theirs['id']}").json()
    assert (after["connector"], after["tags"]) == ("lab", {})


def test_moving_or_deleting_a_sender_frees_its_address(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    moved, deleted = number(), number()
    mine = created(register(alice, moved, "SMS"))
    gone = created(register(alice, deleted, "SMS"))

    assert alice.post(f"/Senders/{mine['id']}", json={"connector": "lab"}).status_code == 200
    assert alice.delete(f"/Senders/{gone['id']}").status_code == 204

    created(register(mallory, moved, "SMS"))
    created(register(mallory, deleted, "SMS"))
    assert_taken(register(mallory, moved, "SMS", connector="lab"))


def test_another_account_cannot_send_as_an_address(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    address = number()
    mine = created(register(alice, address, "SMS"))
    assert_taken(register(mallory, address, "SMS"))
    to = [{"address": number(), "channel": "PHONE"}]

    as_address = mallory.post(
        "/Messages",
        json={"from": {"address": address, "channel": "SMS"}, "to": to, "content": {"text": "hi"}},
    )
    as_sender = mallory.post(
        "/Messages", json={"from": {"senderId": mine["id"]}, "to": to, "content": {"text": "hi"}}
    )

    assert as_address.status_code == 400
    assert {e["field"] for e in as_address.json()["errors"]} == {"from.address"}
    assert as_sender.status_code == 400


def test_replies_and_stops_to_an_address_reach_only_its_owner(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    address = number()
    created(register(alice, address, "SMS"))
    assert_taken(register(mallory, address, "SMS"))
    writer = number("0009")  # the simulator's recipient who answers STOP

    operation_id = send(
        alice,
        {
            "from": {"address": address, "channel": "SMS"},
            "to": [{"address": writer, "channel": "PHONE"}],
            "content": {"text": "hi"},
        },
    )
    wait_completed(alice, operation_id)

    wait_until(lambda: opted_out(alice, writer))
    assert not opted_out(mallory, writer)


def test_a_stop_to_an_address_every_account_shares_reaches_the_account_that_sent(
    lab: Lab, alice: httpx.Client, mallory: httpx.Client
) -> None:
    first, second = number("0009"), number("0009")
    shared = {"address": lab.shared, "channel": "SMS"}

    for api, writer in ((alice, first), (mallory, second)):
        body = {"from": shared, "to": [{"address": writer, "channel": "PHONE"}]}
        operation_id = send(api, body | {"content": {"text": "hi"}})
        wait_completed(api, operation_id)
        (message,) = all_messages(api, operationId=operation_id)
        assert message["from"]["address"] == lab.shared

    wait_until(lambda: opted_out(alice, first) and opted_out(mallory, second))
    assert not opted_out(alice, second) and not opted_out(mallory, first)


def test_a_stop_to_the_simulators_shared_agent_reaches_only_the_account_that_sent(
    alice: httpx.Client, mallory: httpx.Client
) -> None:
    writer = number("0009")

    operation_id = send(
        alice, {"to": [{"address": writer, "channel": "PHONE"}], "content": {"text": "hi"}}
    )
    wait_completed(alice, operation_id)

    wait_until(lambda: opted_out(alice, writer))
    assert not opted_out(mallory, writer)


def test_of_two_accounts_registering_an_address_at_once_one_gets_it(lab: Lab) -> None:
    addresses = [number() for _ in range(10)]
    with lab.client() as first, lab.client() as second, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda job: register(job[0], job[1], "SMS").status_code,
                [(api, address) for address in addresses for api in (first, second)],
            )
        )

    assert sorted(answers) == [201] * 10 + [409] * 10
    assert all(sorted(answers[i : i + 2]) == [201, 409] for i in range(0, 20, 2))


def test_a_sender_left_from_before_ownership_can_neither_send_nor_change(
    lab: Lab, alice: httpx.Client
) -> None:
    address = number()
    created(register(alice, address, "SMS"))
    sid, token = lab.server.new_account()
    # what a database from before migration 0006 may hold: another account at that address
    stale = SenderRecord(
        new_sender_id(), sid, address, "SMS", "simulator", "ACTIVATED", {}, 400, 800, 1, 1
    )
    lab.server.call(lab.server.runtime.db.write(lambda conn: senders.insert_sender(conn, stale)))
    to = [{"address": number(), "channel": "PHONE"}]

    with httpx.Client(base_url=lab.server.url + "/v1", auth=(sid, token), timeout=30) as mallory:
        named = mallory.post(
            "/Messages", json={"from": {"senderId": stale.id}, "to": to, "content": {"text": "x"}}
        )
        pool = created(
            mallory.post("/SenderPools", json={"name": "old", "senders": [stale.id]}), 202
        )
        operation_id = send(
            mallory, {"from": {"senderPoolId": pool["id"]}, "to": to, "content": {"text": "x"}}
        )
        stats = wait_completed(mallory, operation_id)["stats"]
        (message,) = all_messages(mallory, operationId=operation_id)
        changed = mallory.post(f"/Senders/{stale.id}", json={"tags": {"a": "b"}})
        deleted = mallory.delete(f"/Senders/{stale.id}")

    assert named.status_code == 400
    assert named.json()["errors"] == [
        {"field": "from.senderId", "message": "the sender's address belongs to another account"}
    ]
    assert (stats["attempts"], message["status"]) == (0, "FAILED")  # no sender could send
    assert_taken(changed)
    assert deleted.status_code == 204
    assert (address, "SMS", "simulator") in addresses(alice)  # the owner's is untouched
