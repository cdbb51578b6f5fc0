"""Server-side request forgery guard for outbound webhook (sink) delivery.

A sink URL is chosen by an API caller, but the POST is made by the server, from
inside the operator's network. Without a guard, a caller could make opencomms
talk to the loopback admin port of a database, a service on the private LAN,
or the cloud metadata endpoint at 169.254.169.254 (which hands out
credentials), and read the answer back through `GET /v1/Sinks/{id}/Deliveries`.

The guard works in two places (docs: EVENTS.md, Delivery):

* At sink creation, :func:`check_url_async` parses the URL the same way httpx
  will, resolves the host, and reports a problem (a 400) if any address it
  resolves to is refused. This gives the caller an early, readable
  error, but it is not the security boundary: DNS can answer differently later
  ("DNS rebinding": a short TTL and a public address at check time, 127.0.0.1
  at delivery time).
* At connect time, :class:`GuardedTransport` (an ``httpx.AsyncHTTPTransport``
  whose httpcore pool uses :class:`GuardedNetworkBackend`) resolves the host
  itself for every new connection, judges every address, and opens the socket
  to an address it judged, never handing the name to anything that would
  resolve it again. The URL, and so the ``Host`` header, TLS SNI and certificate
  verification, keep the original hostname.

Addresses are judged by :func:`refused_reason`: anything that is not a public
unicast address is refused (loopback, private, link-local, CGNAT, unique-local,
unspecified, multicast, broadcast, reserved, documentation, benchmarking), and
IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by
the embedded address, since that is where the packets end up. Networks the
operator lists in ``allowed_callback_networks``
(``OPENCOMMS_ALLOWED_CALLBACK_NETWORKS``) are exempt, e.g. ``127.0.0.0/8`` for a
receiver on the same host during development.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import httpcore
import httpx

__all__ = [
    "AsyncResolver",
    "CallbackPolicy",
    "CallbackRefused",
    "GuardedNetworkBackend",
    "GuardedTransport",
    "IPAddress",
    "IPNetwork",
    "check_url_async",
    "refused_reason",
    "resolve_host",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

AsyncResolver: TypeAlias = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""``(host, port) -> addresses``; raises ``OSError`` (e.g. ``socket.gaierror``) if
the name does not resolve."""

ALLOWED_SCHEMES = frozenset({"http", "https"})


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Which otherwise-refused networks the operator allows callbacks to reach.

    The default (no networks) refuses every non-public address. Build it from
    configuration with :meth:`from_cidrs`, which validates the strings once at
    start-up rather than on every delivery.
    """

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> CallbackPolicy:
        """Parse ``allowed_callback_networks`` (e.g. ``["127.0.0.0/8", "::1/128"]``).

        A bare address means a single host (``/32`` or ``/128``). A CIDR with
        host bits set (``10.0.0.1/8``) is rejected rather than silently widened:
        it is ambiguous, and an allow-list is the wrong place to guess.

        Raises:
            ValueError: naming the first entry that is not a valid network.
            TypeError: if given a single string instead of a list of strings.
        """
        if isinstance(cidrs, str):
            raise TypeError("allowed_callback_networks must be a list of CIDR strings, not a str")
        networks: list[IPNetwork] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=True))
            except ValueError as exc:
                raise ValueError(
                    f"allowed_callback_networks: {cidr!r} is not a valid CIDR network ({exc})"
                ) from None
        return cls(allowed_networks=tuple(networks))

    def allows(self, address: IPAddress) -> bool:
        """Whether ``address`` is inside an allow-listed network."""
        return any(address in network for network in self.allowed_networks)


# --------------------------------------------------------------------------- judging

# Ordered: the first match names the reason, so specific entries come before the
# ranges that contain them (the metadata address before link-local).
_REFUSED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(cidr), reason)
    for cidr, reason in (
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/8", "unspecified / this network"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("169.254.169.254/32", "link-local, the cloud metadata endpoint"),
        ("169.254.0.0/16", "link-local"),
        ("100.64.0.0/10", "carrier-grade NAT shared address space"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_REFUSED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(cidr), reason)
    for cidr, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("::/8", "reserved, incl. deprecated IPv4-compatible"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo tunnel"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "IETF protocol assignments"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifiers"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that
    the network translates to IPv4 (IPv4-mapped, well-known NAT64, 6to4)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def refused_reason(address: IPAddress, policy: CallbackPolicy) -> str | None:
    """Why a callback must not connect to ``address``, or ``None`` if it may.

    Pure: no I/O. Allow-listed networks are exempt. An IPv6 address that embeds
    an IPv4 address (``::ffff:10.0.0.1``, ``64:ff9b::a00:1``, ``2002:a00:1::``) is
    judged by the embedded address, because a dual-stack socket or a translator
    delivers the packets there. Anything not covered by the explicit tables but
    not globally routable according to :mod:`ipaddress` is refused too, so the
    guard fails closed on ranges this module does not name.

    The reason is a short phrase such as ``"loopback (127.0.0.0/8)"``.
    """
    if policy.allows(address):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refused_reason(embedded, policy)
            return None if inner is None else f"an IPv6 form of {embedded}: {inner}"
        for network6, reason in _REFUSED_V6:
            if address in network6:
                return f"{reason} ({network6})"
    else:
        for network4, reason in _REFUSED_V4:
            if address in network4:
                return f"{reason} ({network4})"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved or address.is_private or not address.is_global:
        return "not globally routable"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    """``host`` as an address if it is a canonical IP literal, else ``None``.

    Non-canonical numeric forms (``2130706433``, ``0x7f.1``) are deliberately not
    parsed here: they go to ``getaddrinfo``, which turns them into the address
    the socket would really use, so they are judged correctly either way.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# --------------------------------------------------------------------------- resolving


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    """Distinct IP addresses from ``getaddrinfo`` results, in resolver order."""
    seen: dict[IPAddress, None] = {}
    for info in infos:
        sockaddr = info[4]
        if isinstance(sockaddr, tuple) and sockaddr and isinstance(sockaddr[0], str):
            seen.setdefault(ipaddress.ip_address(sockaddr[0]), None)
    return list(seen)


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` to all its TCP addresses without blocking the event loop.

    The default resolver of :func:`check_url_async` and
    :class:`GuardedNetworkBackend`; they look it up on this module at call time,
    so tests can monkeypatch it.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return _addresses(infos)


# --------------------------------------------------------------------------- URL check


# What may reach the resolver: ASCII labels as httpx leaves them (IDNA already
# applied). Anything else cannot resolve, so it is refused without a DNS query.
_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


@dataclass(frozen=True, slots=True)
class _Target:
    host: str  # as httpcore will see it: IDNA-encoded, IPv6 without brackets
    port: int
    literal: IPAddress | None


def _parse_target(url: str) -> _Target | list[str]:
    """Parse with httpx, the parser delivery uses, so the check and the request
    cannot disagree about which host a URL names."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        return [f"invalid URL: {exc}"]
    if parsed.scheme not in ALLOWED_SCHEMES:
        return [f"URL scheme must be http or https, not {parsed.scheme!r}"]
    host = parsed.raw_host.decode("ascii")
    if not host:
        return ["URL has no host"]
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    literal = _ip_literal(host)
    if literal is None and not _HOSTNAME.fullmatch(host):
        return [f"URL host {host!r} is not a valid hostname"]
    return _Target(host=host, port=port, literal=literal)


def _judge(target: _Target, addresses: Sequence[IPAddress], policy: CallbackPolicy) -> list[str]:
    if not addresses:
        return [f"host {target.host!r} does not resolve to any address"]
    problems: list[str] = []
    for address in addresses:
        reason = refused_reason(address, policy)
        if reason is None:
            continue
        if target.literal is not None:
            problems.append(f"address {address} is refused: {reason}")
        else:
            problems.append(
                f"host {target.host!r} resolves to {address}, which is refused: {reason}"
            )
    return problems


def _unresolvable(target: _Target, exc: Exception) -> list[str]:
    return [f"host {target.host!r} does not resolve ({exc})"]


async def check_url_async(
    url: str, policy: CallbackPolicy, *, resolver: AsyncResolver | None = None
) -> list[str] | None:
    """Validate a sink URL at creation time; ``None`` if acceptable, else problems.

    Scheme must be http or https and a host present. An IP literal is judged
    directly; a name is resolved (through the event loop, ``loop.getaddrinfo``) and
    refused if *any* of its addresses is refused (a name with one public and one
    private address would otherwise deliver to the private one some of the time), or
    if it does not resolve.

    Passing this check does not make a later delivery safe (DNS can change);
    connect-time enforcement is :class:`GuardedTransport`'s job.
    """
    target = _parse_target(url)
    if isinstance(target, list):
        return target
    if target.literal is not None:
        addresses: Sequence[IPAddress] = [target.literal]
    else:
        resolve = resolver if resolver is not None else resolve_host
        try:
            addresses = await resolve(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            return _unresolvable(target, exc)
    return _judge(target, addresses, policy) or None


# --------------------------------------------------------------------------- connect time


class CallbackRefused(httpx.ConnectError):
    """A callback connection was refused by the SSRF guard.

    Derives from ``httpx.ConnectError`` so delivery code that already treats
    connect errors as a failed attempt keeps working, while code that cares can
    tell a refusal (retrying will not help until DNS or the allow-list changes)
    from a network failure. It passes through httpx unchanged (it is not an
    httpcore exception, so httpx does not re-wrap it), and httpx attaches
    ``.request`` as for any other request error.
    """

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        via = "" if _ip_literal(host) == address else f" resolves to {address}, which"
        super().__init__(
            f"callback to {host!r} refused by the SSRF guard: {host}{via} is {reason}"
            " and not in allowed_callback_networks"
        )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that only opens sockets to addresses it checked.

    httpcore calls :meth:`connect_tcp` with the URL's host for every new
    connection (keep-alive connections are reused without a new lookup, which is
    safe: they were checked when opened). This backend resolves the host once,
    refuses the connection if any address is refused, and then asks the wrapped
    backend to connect to the checked *IP address*, so nothing resolves the name
    a second time and a rebinding DNS answer cannot slip in between check and
    connect. TLS is started by httpcore afterwards with ``server_hostname`` taken
    from the URL, so SNI and certificate verification still use the hostname.

    Addresses are tried in resolver order within the connect timeout. Runs on
    asyncio (the resolver uses the asyncio loop).
    """

    def __init__(
        self,
        policy: CallbackPolicy,
        *,
        resolver: AsyncResolver | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self._backend: httpcore.AsyncNetworkBackend = (
            httpcore.AnyIOBackend() if backend is None else backend
        )

    async def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` and judge every address; all of them, or an exception.

        Raises:
            CallbackRefused: if any address is refused.
            httpcore.ConnectError: if the name does not resolve.
        """
        literal = _ip_literal(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            resolve = self._resolver if self._resolver is not None else resolve_host
            try:
                addresses = list(await resolve(host, port))
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"could not resolve {host!r}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host!r} does not resolve to any address")
        for address in addresses:
            reason = refused_reason(address, self.policy)
            if reason is not None:
                raise CallbackRefused(host, address, reason)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve and check ``host``, then connect to a checked address.

        The connect timeout covers resolution and all connection attempts.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self.checked_addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host!r} timed out")
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # addresses is never empty
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: a callback never goes to a local socket."""
        raise httpcore.ConnectError("callbacks cannot use Unix domain sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections go through the SSRF guard.

    Use as ``httpx.AsyncClient(transport=GuardedTransport(policy),
    follow_redirects=False, timeout=15)``. Passing a transport also stops httpx
    from picking proxies up from the environment, which matters: a proxy would
    resolve the name itself and defeat the check, so proxies are not supported.

    httpx 0.28 has no parameter for an httpcore network backend, so this calls
    the parent constructor (keeping its exception mapping, request conversion and
    lifecycle) and then replaces its connection pool with an identical one that
    uses :class:`GuardedNetworkBackend`. The SSL context is built once and shared.
    """

    def __init__(
        self,
        policy: CallbackPolicy,
        *,
        resolver: AsyncResolver | None = None,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        retries: int = 0,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """Args:
        policy: the operator's allow-list.
        resolver: override DNS resolution (tests); defaults to :func:`resolve_host`.
        verify, trust_env, http1, http2, retries: as for ``httpx.AsyncHTTPTransport``
            (``trust_env`` only affects ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` here).
        limits: pool limits; httpx's defaults if omitted.
        backend: the httpcore backend that opens the checked sockets (tests).
        """
        limits = (
            httpx.Limits(max_connections=100, max_keepalive_connections=20)
            if limits is None
            else limits
        )
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
        super().__init__(
            verify=ssl_context,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            retries=retries,
        )
        self.network_backend = GuardedNetworkBackend(policy, resolver=resolver, backend=backend)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            network_backend=self.network_backend,
        )
