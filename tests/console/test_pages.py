"""Every console page, server-side, against a real server (both engines): what it shows
of the account's own data, and what its forms change."""

from __future__ import annotations

import re
import time

import httpx
from pytest_httpserver import HTTPServer

from tests.console.support import csrf_of, signed_in, wait_completed
from tests.support.server import ThreadServer, account_client

FALLBACK = "+15550100003"  # the simulator: RCS and WhatsApp fail, SMS delivers
BOUNCE = "bounce@example.com"  # the simulator: email UNDELIVERED (30003)


def send_form(client: httpx.Client, to: str, **extra: str) -> httpx.Response:
    token = csrf_of(client.get("/send").text)
    return client.post("/send", data={"csrf": token, "to": to, "text": "Hello", **extra})


def sent_operation(client: httpx.Client, api: httpx.Client, to: str) -> str:
    response = send_form(client, to)
    assert response.status_code == 302, response.text
    operation_id = response.headers["location"].removeprefix("/operations/")
    wait_completed(api, operation_id)
    return operation_id


def cells(html: str, header: str) -> list[str]:
    """The cells of the table row whose header cell is `header`."""
    head = rf"<th scope=\"row\">(?:<a [^>]*>)?{re.escape(header)}(?:</a>)?</th>"
    row = re.search(rf"{head}(.*?)</tr>", html, re.S)
    assert row, f"no row {header}"
    return re.findall(r"<td>(.*?)</td>", row.group(1), re.S)


def test_the_send_form_sends_and_the_operation_page_shows_its_figures(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        operation_id = sent_operation(client, api, FALLBACK)
        page = client.get(f"/operations/{operation_id}").text
        listing = client.get("/").text

    assert "COMPLETED" in page and "100 %" in page
    assert cells(page, "recipients")[0] == "1" and cells(page, "delivered")[0] == "1"
    assert cells(page, "handed to a channel")[0] == "1" and cells(page, "read")[0] == "0"
    assert cells(page, "SMS")[:3] == ["0", "1", "100.0 %"]  # reached as a fallback
    assert "On the first channel: 0.0 %; on a fallback: 100.0 %" in page
    assert "<svg" in page and "counts: " in page
    assert operation_id in listing and 'value="100"' in listing


def test_the_operation_page_lists_errors_by_code_with_their_meaning(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        operation_id = sent_operation(client, api, BOUNCE)
        page = client.get(f"/operations/{operation_id}").text

    count, meaning, examples = cells(page, "30003")
    assert count == "1" and "Unreachable destination handset" in meaning
    assert BOUNCE in examples


def test_a_send_the_api_refuses_shows_every_problem(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client:
        response = send_form(client, "not a number", send_at="tomorrow")

    assert response.status_code == 400
    assert "schedule.sendAt" in response.text and "to[0]" in response.text


def test_the_progress_stream_follows_an_operation_to_the_end(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        operation_id = sent_operation(client, api, FALLBACK)
        with client.stream("GET", f"/operations/progress?id={operation_id}") as stream:
            body = stream.read().decode()

    assert stream.headers["content-type"].startswith("text/event-stream")
    assert f'"id":"{operation_id}","percent":100' in body
    assert body.rstrip().endswith("event: done\r\ndata: done")


def test_messages_are_found_by_address_message_id_and_attempt_id(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        sent_operation(client, api, FALLBACK)
        message = api.get("/Messages", params={"address": FALLBACK}).json()["messages"][0]
        full = api.get(f"/Messages/{message['id']}").json()
        by_address = client.get("/messages", params={"q": FALLBACK})
        by_id = client.get("/messages", params={"q": message["id"]})
        by_attempt = client.get("/messages", params={"q": full["attempts"][0]["id"]})
        by_htmx = client.get("/messages", params={"q": message["id"]}, headers={"HX-Request": "1"})
        page = client.get(f"/messages/{message['id']}").text

    assert f"/messages/{message['id']}" in by_address.text
    assert by_id.headers["location"] == f"/messages/{message['id']}"
    assert by_attempt.headers["location"] == f"/messages/{message['id']}"
    assert by_htmx.headers["hx-redirect"] == f"/messages/{message['id']}"
    timeline = re.findall(r"<h3>Attempt (\d): (\w+) — (\w+)</h3>", page)
    assert timeline == [
        ("1", "RCS", "FAILED"),
        ("2", "WHATSAPP", "FAILED"),
        ("3", "SMS", "DELIVERED"),
    ]
    assert "61337: Recipient does not have RCS enabled." in page


def test_senders_and_pools_show_the_fallback_order(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client:
        page = client.get("/senders").text

    pool = re.search(r"<ol>(.*?)</ol>", page, re.S)
    assert pool
    channels = re.findall(r"<li>(\w+) ", pool.group(1))
    assert channels[:3] == ["RCS", "WHATSAPP", "SMS"]


def test_opt_outs_are_added_and_removed(server: ThreadServer, account: tuple[str, str]) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        token = csrf_of(client.get("/opt-outs").text)
        added = client.post("/opt-outs", data={"csrf": token, "address": "+15550107000"})
        bad = client.post("/opt-outs", data={"csrf": token, "address": "nobody"})
        listed = client.get("/opt-outs").text
        stored = [o["address"] for o in api.get("/OptOuts").json()["optOuts"]]
        removed = client.post("/opt-outs/remove", data={"csrf": token, "address": "+15550107000"})
        after = api.get("/OptOuts").json()["optOuts"]

    assert added.status_code == 302 and stored == ["+15550107000"]
    assert bad.status_code == 400 and "address" in bad.text
    assert "+15550107000" in listed
    assert removed.status_code == 302 and after == []


def test_content_templates_are_listed(server: ThreadServer, account: tuple[str, str]) -> None:
    with account_client(server, account) as api:
        made = api.post(
            "/Content",
            json={
                "friendly_name": "welcome",
                "language": "en",
                "variables": {"1": "Ann"},
                "types": {"twilio/text": {"body": "Hi {{1}}"}},
            },
        )
        assert made.status_code == 201, made.text
    with signed_in(server, account) as client:
        page = client.get("/content").text

    assert "welcome" in page and made.json()["sid"] in page and "twilio/text" in page


def test_a_sink_shows_its_deliveries_and_replays_them(
    server: ThreadServer, account: tuple[str, str], receiver: HTTPServer
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        sink = api.post("/Sinks", json={"url": receiver.url_for("/hook")}).json()
        types = ["com.twilio.comms-api.operation.*"]
        api.post("/Subscriptions", json={"sinkId": sink["id"], "types": types})
        sent_operation(client, api, FALLBACK)
        page = wait_for_delivery(client, sink["id"])
        first = len(receiver.log)
        token = csrf_of(page)
        until = re.findall(r'name="until" value="([^"]+)"', page)[-1]
        replayed = client.post(f"/sinks/{sink['id']}/replay", data={"csrf": token, "until": until})
        listing = client.get("/sinks").text
        deadline = time.monotonic() + 30
        while len(receiver.log) == first and time.monotonic() < deadline:
            time.sleep(0.1)

    assert sink["id"] in listing
    assert "delivered" in page.lower()
    assert replayed.status_code == 302
    assert len(receiver.log) > first  # the events were sent again


def wait_for_delivery(client: httpx.Client, sink_id: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = client.get(f"/sinks/{sink_id}").text
        if 'name="until"' in page:
            return page
        time.sleep(0.2)
    raise AssertionError("no delivery shown")


def test_an_operations_messages_are_listed(server: ThreadServer, account: tuple[str, str]) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        first = sent_operation(client, api, FALLBACK)
        sent_operation(client, api, BOUNCE)
        page = client.get("/messages", params={"operation": first}).text
        everything = client.get("/messages").text

    assert FALLBACK in page and BOUNCE not in page
    assert FALLBACK in everything and BOUNCE in everything


def test_the_assets_are_served_from_the_package_and_nothing_from_elsewhere(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client:
        page = client.get("/").text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
        served = [httpx.get(server.url + asset) for asset in assets]

    assert sorted(assets) == [
        "/static/console/console.css",
        "/static/console/console.js",
        "/static/console/htmx.min.js",
    ]
    assert all(response.status_code == 200 for response in served)
    assert b"htmx" in served[assets.index("/static/console/htmx.min.js")].content
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
