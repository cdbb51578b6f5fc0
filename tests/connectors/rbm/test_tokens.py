"""Access tokens from the service-account key: fetched once, shared, renewed in time."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from opencomms.connectors.rbm.tokens import TokenError, TokenSource
from tests.connectors.rbm.conftest import Scripted, private_key_pem, service_account


@pytest.fixture
async def client() -> httpx.AsyncClient:
    async with httpx.AsyncClient() as client:
        yield client  # type: ignore[misc]


async def test_one_fetch_serves_concurrent_callers(
    scripted: Scripted, client: httpx.AsyncClient
) -> None:
    source = TokenSource(service_account(scripted.url + "/token"), client)
    tokens = await asyncio.gather(*(source.token() for _ in range(20)))
    assert set(tokens) == {"ya29.test-0"}
    assert await source.token() == "ya29.test-0"
    assert scripted.tokens_issued == ["ya29.test-0"]


async def test_a_token_is_renewed_before_it_expires(
    scripted: Scripted, client: httpx.AsyncClient
) -> None:
    scripted.token_lifetime = 1  # renewed half-way: after 0.5 s
    source = TokenSource(service_account(scripted.url + "/token"), client)
    assert await source.token() == "ya29.test-0"
    assert await source.token() == "ya29.test-0"
    await asyncio.sleep(0.6)
    assert await source.token() == "ya29.test-1"


async def test_a_refused_token_is_replaced_once(
    scripted: Scripted, client: httpx.AsyncClient
) -> None:
    source = TokenSource(service_account(scripted.url + "/token"), client)
    stale = await source.token()
    fresh = await asyncio.gather(*(source.refresh(stale) for _ in range(5)))
    assert set(fresh) == {"ya29.test-1"}
    assert len(scripted.tokens_issued) == 2


async def test_a_refusing_token_endpoint_is_an_error_without_secrets(
    scripted: Scripted, client: httpx.AsyncClient
) -> None:
    scripted.token_status = 400
    source = TokenSource(service_account(scripted.url + "/token"), client)
    with pytest.raises(TokenError) as raised:
        await source.token()
    assert str(raised.value) == f"token endpoint {scripted.url}/token answered 400: invalid_grant"
    assert "PRIVATE" not in repr(source)


async def test_an_unreachable_token_endpoint_is_an_error(client: httpx.AsyncClient) -> None:
    source = TokenSource(service_account("http://127.0.0.1:9/token"), client)
    with pytest.raises(TokenError, match="ConnectError"):
        await source.token()


def test_a_key_that_is_not_a_key_is_refused(client: httpx.AsyncClient) -> None:
    info = service_account("http://127.0.0.1:9/token") | {"private_key": "not a key"}
    with pytest.raises(ValueError, match="not a usable key"):
        TokenSource(info, client)
    assert private_key_pem().startswith("-----BEGIN PRIVATE KEY-----")
