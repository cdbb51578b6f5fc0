"""The compatibility suite: Twilio's own client library, unchanged, against a real
opencomms server (tests/support/server.py) on both engines.

`twilio_client` is a `twilio.rest.Client` for a fresh account whose HTTP client sends
every request meant for a Twilio host (`https://content.twilio.com/...`,
`https://events.twilio.com/...`, ...) to the test server instead, keeping the path and
query (Event Streams is served under `/events`). Nothing else of the library is touched:
the request it builds, its auth, its paging (which follows the absolute `next_page_url`s
the server gives) and its error parsing are its own. Use it for any domain:
`twilio_client.content.v1.contents`, `twilio_client.events.v1.sinks`, ...
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.support.server import ThreadServer

_TWILIO_HOST = re.compile(r"\Ahttps://([a-z0-9.-]+)\.twilio\.com(?=/|\Z)")
# a Twilio host served under a prefix of its own here (Event Streams: docs/events.md)
_PREFIXES = {"events": "/events"}


class LocalHttpClient(TwilioHttpClient):
    """twilio-python's own HTTP client, with Twilio's hosts replaced by `base_url`."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=30)
        self.base_url = base_url
        self.urls: list[str] = []  # every URL requested, as sent

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        local = _TWILIO_HOST.sub(lambda m: self.base_url + _PREFIXES.get(m[1], ""), url)
        self.urls.append(local)
        return super().request(method, local, *args, **kwargs)


@pytest.fixture
def twilio_client(server: ThreadServer, account: tuple[str, str]) -> Client:
    """twilio-python's Client for a fresh account, talking to the test server."""
    return Client(*account, http_client=LocalHttpClient(server.url))
