"""The SSRF guard for webhook delivery: address judging, URL checks at sink
creation, and connect-time enforcement against a real server on loopback."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import httpx
import pytest

from opencomms.events import ssrf
from opencomms.events.ssrf import (
    CallbackPolicy,
    CallbackRefused,
    GuardedNetworkBackend,
    GuardedTransport,
    IPAddress,
    check_url_async,
    refused_reason,
)

NO_ALLOW_LIST = CallbackPolicy()
LOOPBACK_ALLOWED = CallbackPolicy.from_cidrs(["127.0.0.0/8", "::1/128"])
PUBLIC_V4 = ipaddress.ip_address("93.184.216.34")


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


# --------------------------------------------------------------------------- refused_reason

REFUSED = [
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("255.255.255.255", "broadcast"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "Teredo"),
    ("::a00:1", "reserved"),  # deprecated IPv4-compatible form
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    # IPv6 forms that embed IPv4 are judged by the embedded address.
    ("::ffff:10.0.0.1", "private (10.0.0.0/8)"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.32.0.1",  # just above 172.16/12
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address: str, reason: str) -> None:
    verdict = refused_reason(ip(address), NO_ALLOW_LIST)
    assert verdict is not None
    assert reason in verdict


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_reason(ip(address), NO_ALLOW_LIST) is None


def test_allow_list_exempts_only_its_networks() -> None:
    policy = CallbackPolicy.from_cidrs(["127.0.0.0/8"])
    assert refused_reason(ip("127.0.0.1"), policy) is None
    assert refused_reason(ip("::ffff:127.0.0.1"), policy) is None  # same target
    assert refused_reason(ip("10.0.0.1"), policy) is not None
    assert refused_reason(ip("169.254.169.254"), policy) is not None
    assert refused_reason(ip("::1"), policy) is not None  # IPv6 loopback not listed


def test_allow_list_of_ipv6_network() -> None:
    policy = CallbackPolicy.from_cidrs(["fd00:1::/32", "10.1.2.3"])
    assert refused_reason(ip("fd00:1::5"), policy) is None
    assert refused_reason(ip("fd00:2::5"), policy) is not None
    assert refused_reason(ip("10.1.2.3"), policy) is None
    assert refused_reason(ip("10.1.2.4"), policy) is not None


# --------------------------------------------------------------------------- CallbackPolicy


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-network", "10.0.0.1/8", "fe80::/129", ""])
def test_invalid_cidr_is_a_value_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="allowed_callback_networks") as caught:
        CallbackPolicy.from_cidrs(["127.0.0.0/8", bad])
    assert repr(bad) in str(caught.value)


def test_policy_from_cidrs_parses_and_is_frozen() -> None:
    policy = CallbackPolicy.from_cidrs([" 127.0.0.0/8 ", "::1"])
    assert policy.allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(AttributeError):
        policy.allowed_networks = ()  # type: ignore[misc]


def test_policy_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        CallbackPolicy.from_cidrs("127.0.0.0/8")


# --------------------------------------------------------------------------- check_url_async


def resolving_to(*addresses: str) -> ssrf.AsyncResolver:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip(a) for a in addresses]

    return resolve


async def not_resolving(host: str, port: int) -> list[IPAddress]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://10.0.0.1/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "metadata"),
        ("http://localhost:1234/", "loopback"),
        ("http://2130706433/", "loopback"),  # decimal 127.0.0.1, via getaddrinfo
        ("http://0x7f.1/", "loopback"),  # inet_aton shorthand
        ("http://0/", "unspecified"),
        ("ftp://example.com/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme"),
        ("http:///path", "no host"),
        ("http://a b/", "not a valid hostname"),
        ("not a url", "scheme"),
    ],
)
async def test_check_url_refuses(url: str, fragment: str) -> None:
    problems = await check_url_async(url, NO_ALLOW_LIST)
    assert problems, url
    assert any(fragment in problem for problem in problems), problems


async def test_check_url_names_host_and_address() -> None:
    problems = await check_url_async(
        "http://localhost:1234/", NO_ALLOW_LIST, resolver=resolving_to("127.0.0.1")
    )
    assert problems is not None
    [problem] = problems
    assert "'localhost'" in problem
    assert "127.0.0.1" in problem


async def test_check_url_localhost_allowed_by_allow_list() -> None:
    # Real resolution through /etc/hosts (the event loop's resolver): 127.0.0.1, maybe ::1.
    assert await check_url_async("http://localhost:1234/", NO_ALLOW_LIST)
    assert await check_url_async("http://localhost:1234/", LOOPBACK_ALLOWED) is None
    assert await check_url_async("http://127.0.0.1:1234/hook", LOOPBACK_ALLOWED) is None
    assert await check_url_async("http://10.0.0.1/x", LOOPBACK_ALLOWED)
    assert await check_url_async("ftp://example.com/", LOOPBACK_ALLOWED)


async def test_check_url_accepts_public_targets() -> None:
    assert await check_url_async("https://8.8.8.8/hook", NO_ALLOW_LIST) is None
    assert await check_url_async("http://[2001:4860:4860::8888]:8443/hook", NO_ALLOW_LIST) is None
    assert await check_url_async("https://user:secret@8.8.8.8/hook?x=1", NO_ALLOW_LIST) is None
    resolver = resolving_to("93.184.216.34", "2606:2800:220:1::1")
    found = await check_url_async("https://hooks.example.com/a", NO_ALLOW_LIST, resolver=resolver)
    assert found is None


async def test_check_url_refuses_if_any_address_is_refused() -> None:
    for resolver in (
        resolving_to("93.184.216.34", "10.0.0.7"),
        resolving_to("93.184.216.34", "fd00::1"),
    ):
        problems = await check_url_async(
            "https://mixed.example.com/", NO_ALLOW_LIST, resolver=resolver
        )
        assert problems is not None
        assert len(problems) == 1


async def test_check_url_refuses_names_that_do_not_resolve() -> None:
    for resolver in (not_resolving, resolving_to()):
        problems = await check_url_async(
            "https://nowhere.invalid/", NO_ALLOW_LIST, resolver=resolver
        )
        assert problems is not None
        assert "does not resolve" in problems[0]


async def test_check_url_resolves_idna_names_as_httpx_sends_them() -> None:
    seen: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        seen.append(f"{host}:{port}")
        return [PUBLIC_V4]

    assert await check_url_async("https://bücher.example/", NO_ALLOW_LIST, resolver=resolve) is None
    assert seen == ["xn--bcher-kva.example:443"]


# --------------------------------------------------------------------------- a local receiver


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records what reaches it."""

    port: int = 0
    connections: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((request_line, headers, body))
            writer.write(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def receiver(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    state = Receiver()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=ssl_context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def guarded_client(policy: CallbackPolicy, **transport: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, **transport),  # type: ignore[arg-type]
        follow_redirects=False,
        timeout=15,
    )


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Wraps the real backend and records which host each socket was opened to."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# --------------------------------------------------------------------------- connect time


async def test_allow_listed_loopback_is_reached_with_original_host_header() -> None:
    async with receiver() as server, guarded_client(LOOPBACK_ALLOWED) as client:
        response = await client.post(f"http://localhost:{server.port}/hook?x=1", json=[{"a": 1}])
    assert response.status_code == 204
    [(request_line, headers, body)] = server.requests
    assert request_line == "POST /hook?x=1 HTTP/1.1"
    assert headers["host"] == f"localhost:{server.port}"
    assert body == b'[{"a":1}]'


async def test_refused_at_connect_time_and_nothing_is_sent() -> None:
    async with receiver() as server, guarded_client(NO_ALLOW_LIST) as client:
        url = f"http://localhost:{server.port}/hook"
        with pytest.raises(CallbackRefused) as caught:
            await client.post(url, json=[{"a": 1}])
        with pytest.raises(CallbackRefused):
            await client.post(f"http://127.0.0.1:{server.port}/hook", content=b"x")
        with pytest.raises(CallbackRefused):
            await client.post(f"http://[::ffff:127.0.0.1]:{server.port}/hook", content=b"x")
    assert server.connections == 0
    assert server.requests == []
    refusal = caught.value
    assert isinstance(refusal, httpx.ConnectError)
    assert isinstance(refusal, httpx.TransportError)
    assert refusal.host == "localhost"
    assert refusal.address.is_loopback
    assert "'localhost'" in str(refusal)
    assert str(refusal.address) in str(refusal)
    assert "loopback" in refusal.reason
    assert str(refusal.request.url) == url


async def test_dns_rebinding_is_refused_at_connect_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is public when the sink is created and loopback at delivery."""
    answers = iter([[PUBLIC_V4], [ip("127.0.0.1")]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(ssrf, "resolve_host", rebinding)
    async with receiver() as server, guarded_client(NO_ALLOW_LIST) as client:
        url = f"http://rebind.example:{server.port}/hook"
        assert await check_url_async(url, NO_ALLOW_LIST) is None
        with pytest.raises(CallbackRefused) as caught:
            await client.post(url, content=b"{}")
    assert asked == ["rebind.example", "rebind.example"]
    assert caught.value.address == ip("127.0.0.1")
    assert server.connections == 0


async def test_connection_goes_to_the_checked_address() -> None:
    """The socket is opened to the IP that was judged; the name is never
    resolved again (it does not exist in real DNS), and Host keeps the name."""
    backend = RecordingBackend()
    resolver = resolving_to("127.0.0.1")
    async with (
        receiver() as server,
        guarded_client(LOOPBACK_ALLOWED, resolver=resolver, backend=backend) as client,
    ):
        response = await client.post(f"http://callbacks.example:{server.port}/", content=b"hi")
    assert response.status_code == 204
    assert backend.hosts == ["127.0.0.1"]
    [(_, headers, body)] = server.requests
    assert headers["host"] == f"callbacks.example:{server.port}"
    assert body == b"hi"


async def test_any_refused_address_refuses_the_connection() -> None:
    resolver = resolving_to("127.0.0.1", "10.0.0.1")
    async with (
        receiver() as server,
        guarded_client(LOOPBACK_ALLOWED, resolver=resolver) as client,
    ):
        with pytest.raises(CallbackRefused) as caught:
            await client.post(f"http://mixed.example:{server.port}/", content=b"x")
    assert caught.value.address == ip("10.0.0.1")
    assert server.connections == 0


async def test_falls_back_to_the_next_checked_address() -> None:
    # Nothing listens on 127.0.0.2 at that port, so the first attempt is refused
    # by the kernel and the second checked address is used.
    backend = RecordingBackend()
    resolver = resolving_to("127.0.0.2", "127.0.0.1")
    async with (
        receiver() as server,
        guarded_client(LOOPBACK_ALLOWED, resolver=resolver, backend=backend) as client,
    ):
        response = await client.get(f"http://two.example:{server.port}/")
    assert response.status_code == 204
    assert backend.hosts == ["127.0.0.2", "127.0.0.1"]


async def test_unresolvable_host_is_a_plain_connect_error() -> None:
    async with guarded_client(NO_ALLOW_LIST, resolver=not_resolving) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post("http://nowhere.invalid/", content=b"x")
    assert not isinstance(caught.value, CallbackRefused)
    assert "nowhere.invalid" in str(caught.value)


async def test_slow_resolution_counts_against_the_connect_timeout() -> None:
    async def slow(host: str, port: int) -> Sequence[IPAddress]:
        await asyncio.sleep(5)
        return [PUBLIC_V4]

    transport = GuardedTransport(NO_ALLOW_LIST, resolver=slow)
    async with httpx.AsyncClient(transport=transport, timeout=0.05) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.post("http://slow.example/", content=b"x")


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedNetworkBackend(LOOPBACK_ALLOWED)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_unix_socket("/var/run/docker.sock")


# --------------------------------------------------------------------------- TLS


def _tls_contexts(directory: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a leaf certificate for ``hostname``: (server, client)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opencomms test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (directory / "leaf.pem").write_bytes(leaf_cert.public_bytes(pem))
    (directory / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    client = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    return server, client


async def test_tls_uses_the_hostname_for_sni_and_verification(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls_contexts(tmp_path, "callbacks.example")
    sni: list[str | None] = []

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sni.append(name)

    server_ctx.sni_callback = record_sni
    backend = RecordingBackend()
    resolver = resolving_to("127.0.0.1")
    async with (
        receiver(server_ctx) as server,
        guarded_client(
            LOOPBACK_ALLOWED, resolver=resolver, backend=backend, verify=client_ctx
        ) as client,
    ):
        response = await client.post(f"https://callbacks.example:{server.port}/", content=b"x")
        # The same certificate does not verify for the bare address: verification
        # really is against the name in the URL, not the pinned address.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.post(f"https://127.0.0.1:{server.port}/", content=b"x")
    assert response.status_code == 204
    assert backend.hosts == ["127.0.0.1", "127.0.0.1"]
    assert sni[0] == "callbacks.example"
    assert server.requests[0][1]["host"] == f"callbacks.example:{server.port}"
