"""A service-account key made for the tests, and an rbm connector's settings over it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from opencomms.connectors.rbm import RbmConfig

CLIENT_TOKEN = "rbm-client-token-7Qx2"
CLIENT_EMAIL = "agent@opencomms-test.iam.gserviceaccount.com"


@cache
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@cache
def public_key_pem() -> str:
    key = serialization.load_pem_private_key(private_key_pem().encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def service_account(token_uri: str) -> dict[str, Any]:
    return {
        "type": "service_account",
        "project_id": "opencomms-test",
        "private_key_id": "k1",
        "private_key": private_key_pem(),
        "client_email": CLIENT_EMAIL,
        "token_uri": token_uri,
    }


def rbm_config(base_url: str, token_uri: str, **changes: Any) -> RbmConfig:
    fields: dict[str, Any] = {
        "agent_id": "acme_agent",
        "service_account_json": json.dumps(service_account(token_uri)),
        "client_token": CLIENT_TOKEN,
        "base_url": base_url,
    }
    return RbmConfig(**(fields | changes))


@pytest.fixture
def key_pem() -> str:
    return private_key_pem()


# --- a scripted RBM endpoint and token endpoint on 127.0.0.1 -----------------------------


class Scripted:
    """An aiohttp server answering RBM's send and revoke, and the token endpoint. The
    token endpoint checks the JWT-bearer assertion's signature and claims; the send
    checks the bearer token. Answers are scripted by phone number, in order."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.tokens_issued: list[str] = []
        self.token_lifetime = 3600
        self.token_status = 200
        self.refused_tokens: set[str] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, phone: str, status: int, body: Any = None, **headers: str) -> None:
        self.answers.setdefault(phone, []).append((status, body, headers))

    async def start(self) -> Scripted:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/phones/{phone}/agentMessages", self._send)
        app.router.add_delete("/v1/phones/{phone}/agentMessages/{id}", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = jwt.decode(
            str(form["assertion"]), certs=public_key_pem(), audience=self.url + "/token"
        )
        assert claims["iss"] == CLIENT_EMAIL
        assert claims["scope"] == "https://www.googleapis.com/auth/rcsbusinessmessaging"
        if self.token_status != 200:
            return web.json_response({"error": "invalid_grant"}, status=self.token_status)
        token = f"ya29.test-{len(self.tokens_issued)}"
        self.tokens_issued.append(token)
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    async def _send(self, request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, dict(request.query), body))
        if bearer not in self.tokens_issued or bearer in self.refused_tokens:
            return web.json_response(
                {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401
            )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        queue = self.answers.get(request.match_info["phone"]) or [(200, {}, {})]
        status, answer, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.json_response(answer, status=status, headers=headers)


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server = await Scripted().start()
    try:
        yield server
    finally:
        await server.stop()
