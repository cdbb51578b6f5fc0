"""The console in a real browser: Playwright driving Debian's Chromium, headless.

Signs in, sends from the form, watches the operation's progress bar reach 100 % without
a reload, opens the Message and its fallback attempts, replays a sink delivery, and is
refused another account's pages. Also takes the screenshot the README shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_httpserver import HTTPServer

from tests.console.support import wait_completed
from tests.console.test_pages import FALLBACK
from tests.support.server import ThreadServer, account_client

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it)
# the README's picture, written when OPENCOMMS_SCREENSHOT=1 (else to a temporary folder)
DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "console-operation.png"


@pytest.fixture
def chromium(server: ThreadServer) -> Iterator[Browser]:
    """Per test, after the server: Playwright's loop must not run while a server starts."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, server: ThreadServer) -> Iterator[Page]:
    context = chromium.new_context(base_url=server.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def sign_in(page: Page, account: tuple[str, str]) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_label("Account SID or API key SID").fill(account[0])
    page.get_by_label("Auth token or API key secret").fill(account[1])
    page.keyboard.press("Enter")  # the keyboard alone signs in
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()


def send_soon(page: Page) -> str:
    """Sends to the fallback number from the form, 5 s ahead so that the operation page
    opens before the operation settles; the operation's id."""
    page.get_by_role("link", name="Send a test").first.click()
    page.get_by_label("To (phone number in E.164 or email address)").fill(FALLBACK)
    page.get_by_label("Text").fill("Hello from the console")
    soon = datetime.now(UTC) + timedelta(seconds=5)
    page.get_by_label(re.compile("^Send at")).fill(soon.isoformat(timespec="seconds"))
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/operations/comms_operation_"))
    return page.url.rsplit("/", 1)[-1]


def test_send_watch_open_replay_and_refused(
    page: Page,
    server: ThreadServer,
    account: tuple[str, str],
    receiver: HTTPServer,
    tmp_path: Path,
) -> None:
    with account_client(server, account) as api:
        sink = api.post("/Sinks", json={"url": receiver.url_for("/hook")}).json()
        types = ["com.twilio.comms-api.message.*"]
        api.post("/Subscriptions", json={"sinkId": sink["id"], "types": types})
    sign_in(page, account)

    operation_id = send_soon(page)
    bar = page.locator(f"#progress-{operation_id}")
    assert int(bar.get_attribute("value") or "0") < 100
    page.evaluate("window.notReloaded = true")
    expect(bar).to_have_attribute("value", "100", timeout=30_000)
    expect(page.locator(f'[data-percent="{operation_id}"]')).to_have_text("100 %")
    assert page.evaluate("window.notReloaded") is True  # the same page, moved by the stream
    screenshot_of_a_mixed_operation(page, server, account, tmp_path)

    page.get_by_role("link", name="Messages").first.click()
    page.get_by_label("Address, Message id or attempt id").fill(FALLBACK)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("^comms_message_")).first.click()
    attempts = page.locator(".timeline h3")
    expect(attempts).to_have_text(
        ["Attempt 1: RCS — FAILED", "Attempt 2: WHATSAPP — FAILED", "Attempt 3: SMS — DELIVERED"]
    )
    message_url = page.url

    page.goto(f"/sinks/{sink['id']}")
    replay = page.get_by_role("button", name=re.compile("^Replay the events of the delivery"))
    for _ in range(100):  # the sink's first delivery shows on the page
        if replay.count():
            break
        page.wait_for_timeout(300)
        page.reload()
    delivered = len(receiver.log)
    replay.first.click()
    expect(page.get_by_role("status")).to_contain_text("Replay queued")
    for _ in range(100):
        if len(receiver.log) > delivered:
            break
        page.wait_for_timeout(200)
    assert len(receiver.log) > delivered

    sign_out_and_in_as_another(page, server)
    for url in (f"/operations/{operation_id}", message_url, f"/sinks/{sink['id']}"):
        response = page.goto(url)
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def screenshot_of_a_mixed_operation(
    page: Page, server: ThreadServer, account: tuple[str, str], tmp_path: Path
) -> None:
    """The README's picture: an operation reached on every channel, with failures."""
    endings = ["0100", "0001", "0002", "0003", "0004", "0005"] * 4
    to = [{"address": f"+1555010{e}", "channel": "PHONE"} for e in endings]
    to += [{"address": a, "channel": "EMAIL"} for a in ("ann@example.com", "bounce@example.com")]
    with account_client(server, account) as api:
        sent = api.post("/Messages", json={"to": to, "content": {"text": "Hi"}}).json()
        wait_completed(api, sent["operationId"])
    page.goto(f"/operations/{sent['operationId']}")
    expect(page.get_by_role("heading", name="Errors by code")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^30008"))).to_be_visible()
    screenshot = DOCS_SCREENSHOT if os.environ.get("OPENCOMMS_SCREENSHOT") else tmp_path / "op.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000


def test_data_pages_read_without_javascript_and_by_keyboard(
    chromium: Browser, server: ThreadServer, account: tuple[str, str]
) -> None:
    context = chromium.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    with account_client(server, account) as api:
        to = [{"address": FALLBACK, "channel": "PHONE"}]
        sent = api.post("/Messages", json={"to": to, "content": {"text": "Hi"}}).json()
        wait_completed(api, sent["operationId"])
    sign_in(page, account)
    page.goto(f"/operations/{sent['operationId']}")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    expect(page.locator(f"#progress-{sent['operationId']}")).to_have_attribute("value", "100")
    expect(page.get_by_role("row", name=re.compile("^SMS 0 1"))).to_be_visible()
    context.close()

    assert focused == "Skip to content"


def sign_out_and_in_as_another(page: Page, server: ThreadServer) -> None:
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin"))
    sign_in(page, server.new_account())
