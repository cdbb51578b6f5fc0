"""Inbound HTTP is bounded: slow heads and bodies are cut off, connections are capped per
client and in total, heads and bodies are capped in size. Real sockets, real servers.

The size caps are checked on the shared server, whose limits are the defaults; the
timeouts and connection caps on servers of their own with small values, so that a test
takes seconds.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import msgspec
import pytest

from opencomms.api.http_limits import BoundedConfig, ConnectionGate
from opencomms.app import create_app
from opencomms.settings import HttpSettings, ServerSettings, Settings
from tests.api.test_errors import CODES, VALID, assert_error, assert_nothing_accepted
from tests.conftest import BACKENDS
from tests.support.databases import database_url
from tests.support.server import ThreadServer

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
PER_CLIENT = 4
TOTAL = 8
PROXY = "127.0.0.9"  # a trusted proxy of the capped server

KIB = 1024


@contextmanager
def _running(backend: str, directory: str, http: HttpSettings) -> Iterator[ThreadServer]:
    with database_url(backend, directory) as url:
        server_settings = ServerSettings(
            database_url=url, secret_key_file=f"{directory}/opencomms.key"
        )
        running = ThreadServer(Settings(server=server_settings, http=http)).start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def impatient(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A server with short header and body timeouts."""
    directory = str(tmp_path_factory.mktemp(f"impatient-{request.param}"))
    http = HttpSettings(header_timeout=f"{HEADER_TIMEOUT}s", body_timeout=f"{BODY_TIMEOUT}s")
    with _running(request.param, directory, http) as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def capped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A server that takes few connections."""
    directory = str(tmp_path_factory.mktemp(f"capped-{request.param}"))
    http = HttpSettings(
        max_connections=TOTAL,
        max_connections_per_client=PER_CLIENT,
        trusted_proxies=[f"{PROXY}/32"],
    )
    with _running(request.param, directory, http) as running:
        yield running


# -- raw HTTP ---------------------------------------------------------------------------------


def _connect(server: ThreadServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=(source, 0)
    )
    return sock


def _basic(account: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(account).encode()).decode()


def _head(method: str, path: str, account: tuple[str, str], **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: opencomms", f"Authorization: {_basic(account)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Answer(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        value: dict[str, object] = json.loads(self.body)
        return value


def _read_answer(sock: socket.socket, timeout: float = 10) -> Answer | None:
    """The one answer the server writes before it closes, or None if it closed (or reset)
    without one."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def _assert_contract_error(answer: Answer | None, status: int) -> dict[str, object]:
    assert answer is not None, "the server closed without an answer"
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    body = answer.json()
    assert body["status"] == status
    assert body["code"] == CODES.get(status, 20000 + status)
    assert set(body) == {"code", "message", "more_info", "moreInfo", "status", "errors"}
    return body


def _trickle(sock: socket.socket, data: bytes, interval: float, limit: float) -> float:
    """Send `data` one byte every `interval` seconds until the server stops taking it or
    `limit` seconds pass; the seconds it took."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        sock.settimeout(interval)
        try:
            if sock.recv(1, socket.MSG_PEEK):
                break  # the server has answered
        except TimeoutError:
            pass
        if time.monotonic() - started > limit:
            break
    return time.monotonic() - started


# -- slow heads and bodies -----------------------------------------------------------------------


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_a_408(impatient: ThreadServer) -> None:
    account = impatient.new_account()
    with _connect(impatient) as sock:
        took = _trickle(sock, _head("GET", "/v1/Messages", account), 0.2, limit=10)
        answer = _read_answer(sock)

    assert HEADER_TIMEOUT * 0.9 < took < HEADER_TIMEOUT + 3
    body = _assert_contract_error(answer, 408)
    assert "headers" in str(body["message"])


def test_a_connection_that_sends_nothing_is_closed_with_a_408(impatient: ThreadServer) -> None:
    with _connect(impatient) as sock:
        started = time.monotonic()
        answer = _read_answer(sock)
        took = time.monotonic() - started

    assert took < HEADER_TIMEOUT + 3
    _assert_contract_error(answer, 408)


def test_a_body_that_never_completes_is_cut_off_and_nothing_is_accepted(
    impatient: ThreadServer,
) -> None:
    account = impatient.new_account()
    body = json.dumps(VALID).encode()
    head = _head(
        "POST", "/v1/Messages", account, Content_Type="application/json",
        Content_Length=str(len(body)),
    )  # fmt: skip
    with _connect(impatient) as sock:
        sock.sendall(head + body[:-5])
        answer = _read_answer(sock)

    body_json = _assert_contract_error(answer, 408)
    assert "body" in str(body_json["message"])
    with httpx.Client(base_url=impatient.url + "/v1", auth=account) as api:
        assert_nothing_accepted(api)


def test_a_body_that_keeps_trickling_is_cut_off_at_the_body_timeout(
    impatient: ThreadServer,
) -> None:
    account = impatient.new_account()
    body = json.dumps({**VALID, "content": {"text": "x" * 200}}).encode()
    head = _head(
        "POST", "/v1/Messages", account, Content_Type="application/json",
        Content_Length=str(len(body)),
    )  # fmt: skip
    with _connect(impatient) as sock:
        sock.sendall(head)
        took = _trickle(sock, body, 0.1, limit=20)  # a byte every 0.1 s: 20 s for the body
        answer = _read_answer(sock)

    assert BODY_TIMEOUT * 0.9 < took < BODY_TIMEOUT + 3
    _assert_contract_error(answer, 408)
    with httpx.Client(base_url=impatient.url + "/v1", auth=account) as api:
        assert_nothing_accepted(api)


def test_a_slow_but_timely_client_is_served_request_after_request(
    impatient: ThreadServer,
) -> None:
    """The head's deadline runs from each request's first byte, not from the connection's
    opening: three requests on one connection, over more than the timeout, all served."""
    account = impatient.new_account()
    head = _head("GET", "/v1/Messages", account)
    with _connect(impatient) as sock:
        for _ in range(3):
            sock.sendall(head[:20])
            time.sleep(HEADER_TIMEOUT / 3)
            sock.sendall(head[20:])
            with sock.makefile("rb") as reader:
                status = reader.readline()
                length = 0
                while (line := reader.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)
            assert status.startswith(b"HTTP/1.1 200"), status
            time.sleep(HEADER_TIMEOUT * 0.6)


# -- connections per client and in total ---------------------------------------------------


@contextmanager
def _held(server: ThreadServer, source: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` open connections from `source`, idle (each is admitted before the next)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(_connect(server, source)) for _ in range(count)]
        yield sockets


def _get(server: ThreadServer, account: tuple[str, str], source: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, auth=account, timeout=10) as client:
        return client.get(server.url + "/v1/Messages")


def _served_again(server: ThreadServer, account: tuple[str, str], source: str) -> None:
    """Closed connections are given back (the server sees a close a moment later)."""
    deadline = time.monotonic() + 10
    while _get(server, account, source).status_code != 200:
        assert time.monotonic() < deadline, "the closed connections were not given back"
        time.sleep(0.05)


def test_a_client_over_its_connection_cap_gets_a_429_while_another_is_served(
    capped: ThreadServer,
) -> None:
    account = capped.new_account()
    with _held(capped, "127.0.0.1", PER_CLIENT):
        refused = _get(capped, account, "127.0.0.1")
        other = _get(capped, account, "127.0.0.2")

    assert_error(refused, 429)
    assert refused.headers["retry-after"] == "1"
    assert str(PER_CLIENT) in refused.json()["message"]
    assert other.status_code == 200, other.text
    _served_again(capped, account, "127.0.0.1")


def test_the_server_over_its_total_cap_gets_a_503(capped: ThreadServer) -> None:
    account = capped.new_account()
    with _held(capped, "127.0.0.3", PER_CLIENT), _held(capped, "127.0.0.4", TOTAL - PER_CLIENT):
        refused = _get(capped, account, "127.0.0.2")

    assert_error(refused, 503)
    assert refused.headers["retry-after"] == "1"
    _served_again(capped, account, "127.0.0.2")


def test_a_trusted_proxy_is_not_capped_as_one_client(capped: ThreadServer) -> None:
    account = capped.new_account()
    with _held(capped, PROXY, PER_CLIENT + 2):
        response = _get(capped, account, PROXY)

    assert response.status_code == 200, response.text


def test_a_refused_client_that_sends_a_large_body_still_reads_its_answer(
    capped: ThreadServer,
) -> None:
    account = capped.new_account()
    body = json.dumps({**VALID, "content": {"text": "x" * (512 * KIB)}})
    with _held(capped, "127.0.0.1", PER_CLIENT):
        transport = httpx.HTTPTransport(local_address="127.0.0.1")
        with httpx.Client(transport=transport, auth=account, timeout=10) as client:
            refused = client.post(
                capped.url + "/v1/Messages",
                content=body,
                headers={"Content-Type": "application/json"},
            )

    assert_error(refused, 429)


# -- sizes (the shared server: default limits) -----------------------------------------------------


DEFAULTS = HttpSettings()


def test_a_head_over_the_cap_is_a_431(server: ThreadServer, api: httpx.Client) -> None:
    big = "x" * (DEFAULTS.max_header_bytes + KIB)

    response = api.get("/Messages", headers={"X-Padding": big})

    assert_error(response, 431)
    assert str(DEFAULTS.max_header_bytes) in response.json()["message"]


def test_many_small_headers_over_the_cap_are_a_431(api: httpx.Client) -> None:
    headers = [(f"X-Pad-{n}", "y" * 1000) for n in range(DEFAULTS.max_header_bytes // 1000 + 1)]

    assert_error(api.get("/Messages", headers=headers), 431)


def test_a_head_under_the_cap_is_served(api: httpx.Client) -> None:
    response = api.get(
        "/Messages", headers={"X-Padding": "x" * (DEFAULTS.max_header_bytes - 4 * KIB)}
    )

    assert response.status_code == 200, response.text


def test_a_head_that_grows_without_end_is_a_431_without_waiting(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    """An unfinished header line is not held in memory beyond the cap."""
    with _connect(server) as sock:
        sock.sendall(_head("GET", "/v1/Messages", account)[:-2] + b"X-Endless: ")
        try:
            for _ in range(DEFAULTS.max_header_bytes // (16 * KIB) + 2):
                sock.sendall(b"z" * 16 * KIB)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_answer(sock, timeout=5)

    _assert_contract_error(answer, 431)


def test_what_is_not_http_is_a_400_in_the_contracts_body(server: ThreadServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"HELLO THERE\r\n\r\n")
        answer = _read_answer(sock)

    _assert_contract_error(answer, 400)


def _sender_body(padding: int) -> bytes:
    return json.dumps(
        {"address": "+12065550100", "channel": "SMS", "tags": {"pad": "x" * padding}}
    ).encode()


@pytest.mark.parametrize("prefix", ["/v1", "/preview"])
def test_a_body_over_the_cap_of_a_small_endpoint_is_a_413(
    server: ThreadServer, account: tuple[str, str], prefix: str
) -> None:
    body = _sender_body(DEFAULTS.max_body_bytes)
    with httpx.Client(base_url=server.url + prefix, auth=account, timeout=30) as api:
        response = api.post("/Senders", content=body, headers={"Content-Type": "application/json"})
        streamed = api.post(
            "/Senders", content=iter([body]), headers={"Content-Type": "application/json"}
        )
        senders = api.get("/Senders").json()["senders"]

    assert_error(response, 413)
    assert_error(streamed, 413)
    assert all(sender["address"] != "+12065550100" for sender in senders)


@pytest.mark.parametrize("prefix", ["/v1", "/preview"])
def test_a_send_to_10000_recipients_is_larger_than_that_and_accepted(
    server: ThreadServer, account: tuple[str, str], prefix: str
) -> None:
    to = [
        {"address": f"+1415{n:07d}", "channel": "PHONE", "variables": {"name": f"Person {n}"}}
        for n in range(10_000)
    ]
    body = json.dumps({"to": to, "content": {"text": "Hello {{name}}"}}).encode()
    assert len(body) > 8 * DEFAULTS.max_body_bytes

    with httpx.Client(base_url=server.url + prefix, auth=account, timeout=60) as api:
        response = api.post("/Messages", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 202, response.text


# -- the pieces ----------------------------------------------------------------------------------


def test_forwarded_headers_are_believed_only_from_configured_proxies() -> None:
    app = create_app(Settings())

    assert BoundedConfig(app, HttpSettings()).proxy_headers is False
    config = BoundedConfig(app, HttpSettings(trusted_proxies=["10.0.0.0/8", "::1"]))
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("host", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("10.1.2.3", None),  # a trusted proxy
        (None, None),  # a Unix socket
    ],
)
def test_connections_are_counted_per_address_or_ipv6_64(
    host: str | None, client: str | None
) -> None:
    gate = ConnectionGate(HttpSettings(trusted_proxies=["10.0.0.0/8"]))

    assert gate.client_of(host) == client
