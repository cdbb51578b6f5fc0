"""Signing in to the console as a browser would: the form's CSRF token, then the POST."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.server import ThreadServer

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@contextmanager
def browser(server: ThreadServer) -> Iterator[httpx.Client]:
    """A cookie-keeping client on the server's root, following no redirect."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def sign_in(client: httpx.Client, username: str, secret: str) -> httpx.Response:
    form = client.get("/signin")
    assert form.status_code == 200
    data = {"csrf": csrf_of(form.text), "username": username, "secret": secret, "next": "/"}
    return client.post("/signin", data=data)


@contextmanager
def signed_in(server: ThreadServer, account: tuple[str, str]) -> Iterator[httpx.Client]:
    with browser(server) as client:
        answer = sign_in(client, *account)
        assert answer.status_code in (302, 303), answer.text
        yield client


def wait_completed(api: httpx.Client, operation_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        operation = api.get(f"/Messages/Operations/{operation_id}").json()
        if operation["status"] == "COMPLETED":
            return operation
        time.sleep(0.1)
    raise AssertionError(f"{operation_id} did not complete")
