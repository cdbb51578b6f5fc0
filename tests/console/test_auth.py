"""Signing in to the console, its session cookie, CSRF, and one account's data only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from opencomms.settings import ServerSettings, Settings
from tests.console.support import browser, csrf_of, sign_in, signed_in, wait_completed
from tests.support.server import ThreadServer, account_client

PHONE_100 = {"address": "+15550100100", "channel": "PHONE"}
PAGES = ["/", "/messages", "/send", "/senders", "/sinks", "/opt-outs", "/content"]


@pytest.mark.parametrize("path", [*PAGES, "/operations/progress?id=x"])
def test_every_page_asks_to_sign_in_first(server: ThreadServer, path: str) -> None:
    with browser(server) as client:
        response = client.get(path)

    assert response.status_code == 302
    assert response.headers["location"].startswith("/signin?next=")


def test_the_api_basic_auth_is_not_a_console_session(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    response = httpx.get(server.url + "/", auth=account)

    assert response.status_code == 302


def test_sign_in_with_the_auth_token_sets_a_sealed_http_only_cookie(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with browser(server) as client:
        response = sign_in(client, *account)
        cookie = response.headers["set-cookie"].lower()
        page = client.get("/")

    assert response.status_code == 302 and response.headers["location"] == "/"
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # the server's public URL is http here
    assert account[1] not in response.headers["set-cookie"]
    assert page.status_code == 200 and account[0] in page.text


def test_sign_in_with_an_api_key(server: ThreadServer, account: tuple[str, str]) -> None:
    with account_client(server, account) as api:
        key = api.post("/ApiKeys", json={"friendlyName": "console"}).json()

    with signed_in(server, (key["sid"], key["secret"])) as client:
        page = client.get("/senders")

    assert page.status_code == 200 and "default" in page.text


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_a_wrong_secret_is_refused(
    server: ThreadServer, account: tuple[str, str], secret: str
) -> None:
    with browser(server) as client:
        response = sign_in(client, account[0], secret)
        after = client.get("/")

    assert response.status_code in (400, 401)
    assert after.status_code == 302


def test_a_forged_cookie_is_no_session(server: ThreadServer) -> None:
    with browser(server) as client:
        client.cookies.set("opencomms_console", "AAAA" * 20)
        response = client.get("/")

    assert response.status_code == 302


def test_sign_in_needs_the_form_csrf_token(server: ThreadServer, account: tuple[str, str]) -> None:
    with browser(server) as client:
        client.get("/signin")
        data = {"csrf": "forged", "username": account[0], "secret": account[1]}
        response = client.post("/signin", data=data)

    assert response.status_code == 403


def test_sign_out_ends_the_session(server: ThreadServer, account: tuple[str, str]) -> None:
    with signed_in(server, account) as client:
        token = csrf_of(client.get("/").text)
        refused = client.post("/signout", data={"csrf": "forged"})
        still = client.get("/")
        response = client.post("/signout", data={"csrf": token})
        after = client.get("/")

    assert refused.status_code == 403 and still.status_code == 200
    assert response.status_code == 302
    assert after.status_code == 302


def test_a_form_without_the_csrf_token_changes_nothing(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    with signed_in(server, account) as client, account_client(server, account) as api:
        no_token = client.post("/opt-outs", data={"address": "+15550107777"})
        forged = client.post("/send", data={"csrf": "x", "to": "+15550100100", "text": "Hi"})
        opt_outs = api.get("/OptOuts").json()["optOuts"]
        operations = api.get("/Messages/Operations").json()["operations"]

    assert no_token.status_code == 403 and forged.status_code == 403
    assert opt_outs == [] and operations == []


def test_another_accounts_pages_are_not_found(server: ThreadServer) -> None:
    owner, other = server.new_account(), server.new_account()
    with account_client(server, owner) as api:
        sent = api.post(
            "/Messages",
            json={"to": [PHONE_100], "content": {"text": "x"}},
        ).json()
        wait_completed(api, sent["operationId"])
        message = api.get("/Messages", params={"address": "+15550100100"}).json()["messages"][0]
        sink = api.post("/Sinks", json={"url": "http://127.0.0.1:9/hook"}).json()
    operation_id = sent["operationId"]

    with signed_in(server, other) as client:
        pages = [
            client.get(f"/operations/{operation_id}"),
            client.get(f"/messages/{message['id']}"),
            client.get(f"/sinks/{sink['id']}"),
        ]
        listing = client.get("/")
        search = client.get("/messages", params={"q": message["id"]}, follow_redirects=True)
        progress = client.get(f"/operations/progress?id={operation_id}")

    assert [page.status_code for page in pages] == [404, 404, 404]
    assert operation_id not in listing.text
    assert search.status_code == 404
    assert operation_id not in progress.text


def test_the_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    settings = ServerSettings(
        database_url=f"sqlite:///{tmp_path}/opencomms.db",
        secret_key_file=str(tmp_path / "opencomms.key"),
        public_url="https://console.example",
    )
    running = ThreadServer(Settings(server=settings)).start()
    try:
        sid, token = running.new_account()
        with browser(running) as client:
            form = client.get("/signin")
            # a client over http keeps no Secure cookie: hand the form's one back by hand
            pre = form.headers["set-cookie"].split(";", 1)[0]
            data = {"csrf": csrf_of(form.text), "username": sid, "secret": token}
            response = client.post("/signin", data=data, headers={"Cookie": pre})
    finally:
        running.stop()

    assert "; secure" in form.headers["set-cookie"].lower()
    assert response.status_code == 302
    assert "; secure" in response.headers["set-cookie"].lower()
