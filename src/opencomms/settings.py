"""Operator settings: a typed struct from the TOML file, the environment and the CLI.

Precedence, lowest first: defaults, the file (`--config` / OPENCOMMS_CONFIG), the
OPENCOMMS_* environment variables, command-line options. Anything that cannot be used
(a key unknown, misspelt or of the wrong type, a duration that is not one, a sender on a
connector that is not configured, a `*_env` variable that is not set) stops the start
with an error naming the key and its line.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import operator
import os
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec

from opencomms.domain.channels import SenderChannel
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.personalization import TemplateLimits
from opencomms.domain.sender_addresses import sender_address_problem

__all__ = [
    "BUILTIN_CONNECTOR",
    "ConnectorSettings",
    "EventSettings",
    "FaultSettings",
    "HttpSettings",
    "InputSettings",
    "LimitSettings",
    "RetentionSettings",
    "SenderConfig",
    "SenderPoolConfig",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SimulatorSettings",
    "SinkSettings",
    "TemplateSettings",
    "load_settings",
]

BUILTIN_CONNECTOR = "simulator"
# a name never holds ':', which separates it from a provider's id (engine/provider_ids.py)
CONNECTOR_NAME = re.compile(r"[A-Za-z0-9_-]+")


class SettingsError(Exception):
    """The configuration cannot be used; the message names the key (and line)."""


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///opencomms.db"
    allowed_callback_networks: list[str] = msgspec.field(default_factory=list)
    public_url: str = ""  # base of operationLocation; empty: from the request's Host
    # the key that seals auth tokens kept for signing callbacks (made on first start)
    secret_key_file: str = "opencomms.key"
    secret_key: str = ""  # or the key itself, base64 (OPENCOMMS_SECRET_KEY)
    # GET /metrics asks for `Authorization: Bearer <it>`; empty: open (docs/metrics.md)
    metrics_token: str = ""  # (OPENCOMMS_METRICS_TOKEN)


Positive = Annotated[int, msgspec.Meta(ge=1)]


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[http]`: what one client may ask of the HTTP server (docs/security.md)."""

    durations: ClassVar[tuple[str, ...]] = ("header_timeout", "body_timeout")

    header_timeout: str = "10s"  # a request's line and headers, from its first byte: 408
    body_timeout: str = "60s"  # its whole body, from the end of its headers: 408
    max_header_bytes: Positive = 64 * 1024  # request line and headers: 431
    max_body_bytes: Positive = 64 * 1024  # every endpoint but the send: 413
    max_send_body_bytes: Positive = 16 * 1024 * 1024  # POST /v1/Messages: 413
    max_connections: Positive = 1000  # open at once, every client together: 503
    max_connections_per_client: Positive = 100  # from one address (IPv6: one /64): 429
    # CIDRs of reverse proxies: their X-Forwarded-For/-Proto are believed, and their
    # connections count only towards max_connections (the proxy caps each client)
    trusted_proxies: list[str] = msgspec.field(default_factory=list)

    def seconds(self, duration: str) -> float:
        """`header_timeout` or `body_timeout` in seconds (checked at load)."""
        return (parse_duration_ms(getattr(self, duration)) or 0) / 1000

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.trusted_proxies]


class SimulatorSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    durations: ClassVar[tuple[str, ...]] = ("fallback_timeout", "receipt_wait")

    submit_latency_ms: list[int] = msgspec.field(default_factory=lambda: [0, 0])
    receipt_latency_ms: list[int] = msgspec.field(default_factory=lambda: [0, 50])
    submit_log: str = ""
    throughput: float = 0  # messages per second per sender; 0: no cap
    capable_probability: float = 1.0  # random mode, for ordinary numbers only
    delivered_probability: float = 1.0
    seed: int | None = None
    fallback_timeout: str = "10s"  # of the simulator senders made for a new account
    receipt_wait: str = "30s"


class EventSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    durations: ClassVar[tuple[str, ...]] = ("timeout", "max_retry")

    batch_size: int = 100  # events per POST
    timeout: str = "15s"  # each step of a delivery (connect, send, each read); see [sinks]
    max_retry: str = "72h"  # then the batch is given up (and logged)
    concurrency: int = 32  # sinks delivered to at once
    in_flight: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8  # batches of one sink at once


KEEP_FOREVER = "0"


class RetentionSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[retention]`: how long data is kept ("0": forever), and how the background pruner
    deletes what is older: `batch_size` rows per transaction, `pause` between two, a pass
    every `interval` (docs/security.md, "Data has a lifetime")."""

    kept: ClassVar[tuple[str, ...]] = ("operations", "events", "idempotency_keys", "inbound")
    durations: ClassVar[tuple[str, ...]] = ("interval",)

    operations: str = "30d"  # once finished, with their Messages, attempts and events
    events: str = "7d"  # once delivered to every sink that wants them; also sink deliveries
    idempotency_keys: str = "24h"
    inbound: str = "30d"
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    pause: str = "50ms"
    interval: str = "5m"

    def kept_ms(self, name: str) -> int | None:
        """How long `name` is kept, in milliseconds; None when it is kept forever."""
        value: str = getattr(self, name)
        return None if value == KEEP_FOREVER else parse_duration_ms(value)


class FaultSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """While the database is unavailable (a full disk, a lost server): what requests are
    told, and how long workers and connections wait."""

    durations: ClassVar[tuple[str, ...]] = (
        "retry_after",
        "connect_timeout",
        "query_timeout",
        "max_backoff",
        "drain_timeout",
    )

    retry_after: str = "5s"  # the 503's Retry-After (whole seconds, at least 1)
    connect_timeout: str = "5s"  # PostgreSQL: a connection not had within it is a 503
    query_timeout: str = "30s"  # PostgreSQL: a statement not answered within it is a 503
    max_backoff: str = "5s"  # the longest a background worker waits between tries
    drain_timeout: str = "30s"  # at stop, the longest wait for answers out at connectors

    @property
    def retry_after_header(self) -> str:
        """Retry-After's value: whole seconds, rounded up, at least 1."""
        return str(max(1, -(-(parse_duration_ms(self.retry_after) or 0) // 1000)))

    @property
    def connect_timeout_s(self) -> float:
        return (parse_duration_ms(self.connect_timeout) or 0) / 1000

    @property
    def query_timeout_s(self) -> float:
        return (parse_duration_ms(self.query_timeout) or 0) / 1000

    @property
    def max_backoff_s(self) -> float:
        return (parse_duration_ms(self.max_backoff) or 0) / 1000

    @property
    def drain_timeout_s(self) -> float:
        return (parse_duration_ms(self.drain_timeout) or 0) / 1000


Limit = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]


class InputSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How large and how far what a request holds may be (docs/security.md, "No input
    loses or blocks other work"); anything over is a 400 naming the field."""

    max_variable_chars: Limit = 1_000  # one recipient variable's value
    max_name_chars: Limit = 128  # a variable's name, a tag's key
    max_address_chars: Limit = 320  # a recipient's or a sender's address
    max_url_chars: Limit = 2_048  # a media, callback or sink URL
    max_module_items: Limit = 20  # the items of any array inside a channel module
    max_fields: Limit = 50  # the fields of any object inside a channel module
    max_module_chars: Limit = 100_000  # one channel module, as JSON
    max_send_at_years: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10  # sendAt ahead of now


MIB = 1024 * 1024


class TemplateSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[templates]`: the bounds of rendering one recipient's content (docs/security.md)."""

    durations: ClassVar[tuple[str, ...]] = ("render_timeout",)

    loop_iterations: Positive = 1_000  # every loop of one render together
    value_chars: Positive = 100_000  # any value a filter takes or makes
    output_chars: Positive = 20_000  # the rendered text of one field, and each capture
    render_timeout: str = "100ms"  # one recipient's content and tags
    # the address space of the process that renders (RLIMIT_AS); it starts at ~40 MiB
    render_memory_bytes: Annotated[int, msgspec.Meta(ge=64 * MIB)] = 512 * MIB

    @property
    def limits(self) -> TemplateLimits:
        return TemplateLimits(self.loop_iterations, self.value_chars, self.output_chars)

    @property
    def render_timeout_ms(self) -> int:
        return parse_duration_ms(self.render_timeout) or 100


class SinkSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What one account's sinks may cost the server (docs/security.md, Outbound HTTP)."""

    durations: ClassVar[tuple[str, ...]] = ("callback_expiry", "delivery_timeout")

    max_per_account: Positive = 100  # sinks of an account, `callbacks.url` ones included
    callback_expiry: str = "30d"  # a `callbacks.url` sink unused this long is deleted
    max_response_bytes: Annotated[int, msgspec.Meta(ge=0)] = 64 * 1024  # then dropped
    delivery_timeout: str = "15s"  # a whole delivery, connect to last byte read


class LimitSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[limits]`: how much accepted work one account may have waiting (docs/security.md,
    "Backlog per account")."""

    durations: ClassVar[tuple[str, ...]] = ("backlog_refresh", "pace_wait")

    # recipients accepted and not yet submitted; past it a send is a 429; 0: no bound
    max_backlog_per_account: Annotated[int, msgspec.Meta(ge=0)] = 1_000_000
    # each process reads an account's backlog from the database at most this often
    backlog_refresh: str = "250ms"
    # of that backlog, the recipients in small sends (up to 100 each); at it or past
    # it, a new small send waits for room before it is stored; 0: never
    pace_small_sends_at: Annotated[int, msgspec.Meta(ge=0)] = 1_000
    # how long such a send waits at most; then it is a 429
    pace_wait: str = "10s"

    @property
    def backlog_refresh_s(self) -> float:
        return (parse_duration_ms(self.backlog_refresh) or 0) / 1000

    @property
    def pace_wait_s(self) -> float:
        return (parse_duration_ms(self.pace_wait) or 0) / 1000


class ConnectorSettings(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """What the settings know of any `[connectors.<name>]` table. Each connector type
    subclasses it in its own module, tagged with its `type` (e.g. `SmppConfig`, tag
    "smpp"), and connectors/registry.py lists the types; `load_settings` is given them,
    so the settings never import a connector."""

    # what a sender on this connector may be, and which fields are durations
    channels: ClassVar[frozenset[str]] = frozenset()
    durations: ClassVar[tuple[str, ...]] = ()
    # True when every send names our webhook URL (Twilio's StatusCallback)
    needs_public_url: ClassVar[bool] = False

    fallback_timeout: str = ""  # of the senders on it; empty: [simulator]'s
    receipt_wait: str = ""


Channel = Literal["SMS", "RCS", "WHATSAPP", "EMAIL"]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class SenderConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A `[[senders]]` entry: provisioned into every account (docs/decisions.md)."""

    durations: ClassVar[tuple[str, ...]] = ("fallback_timeout", "receipt_wait")

    address: NonEmpty
    channel: Channel
    connector: str = BUILTIN_CONNECTOR
    fallback_timeout: str = ""  # empty: the connector's
    receipt_wait: str = ""


class SenderPoolConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A `[[sender_pools]]` entry; `senders` are addresses of `[[senders]]`, in fallback
    order (`CHANNEL:address` when one address has senders on several channels)."""

    name: NonEmpty
    senders: list[str] = msgspec.field(default_factory=list)


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    events: EventSettings = msgspec.field(default_factory=EventSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)
    faults: FaultSettings = msgspec.field(default_factory=FaultSettings)
    input: InputSettings = msgspec.field(default_factory=InputSettings)
    sinks: SinkSettings = msgspec.field(default_factory=SinkSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    simulator: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    templates: TemplateSettings = msgspec.field(default_factory=TemplateSettings)
    connectors: dict[str, ConnectorSettings] = msgspec.field(default_factory=dict)
    senders: list[SenderConfig] = msgspec.field(default_factory=list)
    sender_pools: list[SenderPoolConfig] = msgspec.field(default_factory=list)
    account_sid: str = ""
    auth_token: str = ""

    def sender_durations(self, connector: str) -> tuple[str, str]:
        """(fallback timeout, receipt wait) of a new sender on `connector`."""
        config = self.connectors.get(connector)
        fallback, receipt = self.simulator.fallback_timeout, self.simulator.receipt_wait
        if config is not None:
            fallback, receipt = config.fallback_timeout or fallback, config.receipt_wait or receipt
        return fallback, receipt

    def configured_sender_durations(self, sender: SenderConfig) -> tuple[int, int]:
        """The milliseconds of a configured sender's two durations."""
        fallback, receipt = self.sender_durations(sender.connector)
        return (
            parse_duration_ms(sender.fallback_timeout or fallback) or 0,
            parse_duration_ms(sender.receipt_wait or receipt) or 0,
        )

    def pool_members(self, pool: SenderPoolConfig) -> list[tuple[str, str]]:
        """The (address, channel) of each of the pool's senders, in order (checked at load)."""
        members: list[tuple[str, str]] = []
        for entry in pool.senders:
            found = _pool_entry(self.senders, entry)
            if len(found) == 1 and found[0] not in members:
                members.append(found[0])
        return members


_ENVIRONMENT = {
    "OPENCOMMS_DATABASE_URL": ("server", "database_url"),
    "OPENCOMMS_SIMULATOR_SUBMIT_LOG": ("simulator", "submit_log"),
    "OPENCOMMS_PUBLIC_URL": ("server", "public_url"),
    "OPENCOMMS_SECRET_KEY": ("server", "secret_key"),
    "OPENCOMMS_METRICS_TOKEN": ("server", "metrics_token"),
}

Key = tuple[str | int, ...]


class _Problem(Exception):
    def __init__(self, key: Key, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _dotted(key: Key) -> str:
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _key_parts(text: str) -> Key:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


_ARRAY_TABLE = re.compile(r"\[\[\s*([^\]]+?)\s*\]\]")
_TABLE = re.compile(r"\[\s*([^\]]+?)\s*\]")
_ASSIGNMENT = re.compile(r"([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _key_lines(text: str) -> dict[Key, int]:
    """The line of each table header and key of a TOML text, by its full key path
    (`[[senders]]` tables are numbered from 0, as the validation errors number them)."""
    lines: dict[Key, int] = {}
    table: Key = ()
    counts: dict[Key, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if match := _ARRAY_TABLE.match(stripped):
            base = _key_parts(match.group(1))
            counts[base] = counts.get(base, -1) + 1
            table = key = (*base, counts[base])
        elif match := _TABLE.match(stripped):
            table = key = _key_parts(match.group(1))
        elif match := _ASSIGNMENT.match(stripped):
            key = (*table, *_key_parts(match.group(1)))
        else:
            continue
        lines.setdefault(key, number)
    return lines


def _error(source: str, text: str, key: Key, message: str) -> SettingsError:
    """`file: key (line n): message`, the line being the key's or its nearest table's."""
    lines = _key_lines(text)
    line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), None)
    where = f" (line {line})" if line is not None else ""
    prefix = f"{source}: " if source else ""
    return SettingsError(f"{prefix}{_dotted(key) or 'configuration'}{where}: {message}")


_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def _validation_problem(error: msgspec.ValidationError, within: Key = ()) -> _Problem:
    match = _AT.match(str(error))
    assert match is not None
    problem, path = match.group("problem"), match.group("path") or ""
    key: Key = within + tuple(
        name if name else int(index) for name, index in _PATH_PART.findall(path)
    )
    if field := _FIELD.search(problem):
        key = (*key, field.group(1))
    return _Problem(key, problem)


T = TypeVar("T")


def _convert(raw: Any, kind: Any, within: Key = ()) -> Any:
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as error:
        raise _validation_problem(error, within) from None


def _connector_type(types: Collection[type[ConnectorSettings]]) -> Any:
    """The union `[connectors.<name>]` tables are converted to (a single type alone)."""
    return functools.reduce(operator.or_, types) if types else None


def _typed(raw: dict[str, Any], types: Collection[type[ConnectorSettings]]) -> Settings:
    """The settings struct; each connector is converted alone, so that an error names it."""
    connectors = raw.get("connectors", {})
    if not isinstance(connectors, dict):
        raise _Problem(("connectors",), "must be a table of connectors by name")
    for name in connectors:
        if not CONNECTOR_NAME.fullmatch(name):
            raise _Problem(
                ("connectors", name), "a connector's name is letters, digits, '_' or '-'"
            )
    union = _connector_type(types)
    if connectors and union is None:
        raise _Problem(("connectors", next(iter(connectors))), "this program knows no connectors")
    typed: dict[str, ConnectorSettings] = {
        name: _convert(config, union, ("connectors", name)) for name, config in connectors.items()
    }
    settings: Settings = _convert({**raw, "connectors": {}}, Settings)
    return msgspec.structs.replace(settings, connectors=typed)


def _structs(settings: Settings) -> Iterator[tuple[Key, msgspec.Struct]]:
    yield ("http",), settings.http
    yield ("simulator",), settings.simulator
    yield ("events",), settings.events
    yield ("retention",), settings.retention
    yield ("faults",), settings.faults
    yield ("templates",), settings.templates
    yield ("sinks",), settings.sinks
    yield ("limits",), settings.limits
    for name, connector in settings.connectors.items():
        yield ("connectors", name), connector
    for index, sender in enumerate(settings.senders):
        yield ("senders", index), sender


MAX_DURATION_MS = 3_650 * 86_400_000  # ten years: any longer is a typo
_INT64 = 2**63 - 1  # the largest integer either engine stores


def _check_durations(key: Key, config: msgspec.Struct) -> None:
    for field in msgspec.structs.fields(config):
        if field.name not in getattr(config, "durations", ()):
            continue
        value = getattr(config, field.name)
        if value == "" and field.default == "":
            continue  # inherited
        ms = parse_duration_ms(value)
        if ms is None or not 0 < ms <= MAX_DURATION_MS:
            raise _Problem(
                (*key, field.name),
                f"{value!r} is not a positive duration up to '3650d', such as '60s'",
            )


def _check_retention(retention: RetentionSettings) -> None:
    for name in retention.kept:
        value = getattr(retention, name)
        ms = parse_duration_ms(value)
        if value != KEEP_FOREVER and (ms is None or not 0 < ms <= MAX_DURATION_MS):
            raise _Problem(
                ("retention", name),
                f"{value!r} is neither a positive duration up to '3650d' such as '30d'"
                ' nor "0" (keep forever)',
            )
    pause = parse_duration_ms(retention.pause)
    if pause is None or pause > MAX_DURATION_MS:
        raise _Problem(
            ("retention", "pause"), f"{retention.pause!r} is not a duration such as '50ms'"
        )


def _check_numbers(value: Any, key: Key = ()) -> None:
    """Every number is finite and fits the database: TOML takes `inf` and `nan`, and a
    throughput of `inf` or a 30-digit integer would reach arithmetic that cannot use it."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_numbers(item, (*key, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, (*key, index))
    elif isinstance(value, float) and not math.isfinite(value):
        raise _Problem(key, f"{value} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT64:
        raise _Problem(key, f"{value} is too large")


def _resolve_secrets(key: Key, config: T, environ: Mapping[str, str]) -> T:
    """`x_env = "VAR"` becomes `x` = the variable's value."""
    fields = set(getattr(config, "__struct_fields__", ()))
    changes: dict[str, str] = {}
    for name in sorted(fields):
        target = name.removesuffix("_env")
        variable = getattr(config, name)
        if target == name or target not in fields or not variable:
            continue
        if getattr(config, target):
            raise _Problem((*key, name), f"give {target} or {name}, not both")
        value = environ.get(variable)
        if not value:
            state = "is empty" if value == "" else "is not set"
            raise _Problem((*key, name), f"the environment variable {variable} {state}")
        changes[target] = value
    return msgspec.structs.replace(config, **changes) if changes else config  # type: ignore[type-var]


def _pool_entry(senders: list[SenderConfig], entry: str) -> list[tuple[str, str]]:
    """The configured senders a pool entry names: `address` or `CHANNEL:address`."""
    channel, _, address = entry.partition(":")
    if channel in SenderChannel.__members__ and address:
        return [
            (s.address, s.channel) for s in senders if (s.address, s.channel) == (address, channel)
        ]
    return [(s.address, s.channel) for s in senders if s.address == entry]


def _check_senders(settings: Settings) -> None:
    seen: set[tuple[str, str]] = set()
    for index, sender in enumerate(settings.senders):
        key: Key = ("senders", index)
        problem = sender_address_problem(sender.address, sender.channel)
        if problem is not None:
            raise _Problem((*key, "address"), f"{sender.address!r} {problem}")
        if (sender.address, sender.channel) in seen:
            raise _Problem(
                (*key, "address"),
                f"a {sender.channel} sender {sender.address} is already configured",
            )
        seen.add((sender.address, sender.channel))
        if sender.connector == BUILTIN_CONNECTOR:
            continue
        connector = settings.connectors.get(sender.connector)
        if connector is None:
            known = ", ".join(sorted({BUILTIN_CONNECTOR, *settings.connectors}))
            raise _Problem(
                (*key, "connector"), f"no connector {sender.connector!r} (configured: {known})"
            )
        if sender.channel not in connector.channels:
            raise _Problem(
                (*key, "channel"),
                f"connector {sender.connector!r} does not carry {sender.channel}",
            )


def _check_pools(settings: Settings) -> None:
    names: set[str] = set()
    for index, pool in enumerate(settings.sender_pools):
        if pool.name in names:
            raise _Problem(
                ("sender_pools", index, "name"), f"a pool {pool.name!r} is already configured"
            )
        names.add(pool.name)
        for entry in pool.senders:
            found = _pool_entry(settings.senders, entry)
            if not found:
                raise _Problem(
                    ("sender_pools", index, "senders"),
                    f"no configured sender {entry!r} in [[senders]]",
                )
            if len(found) > 1:
                channels = ", ".join(f"{channel}:{address}" for address, channel in found)
                raise _Problem(
                    ("sender_pools", index, "senders"),
                    f"{entry!r} is several senders; name one: {channels}",
                )


def _check_proxies(http: HttpSettings) -> None:
    for cidr in http.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise _Problem(
                ("http", "trusted_proxies"), f"{cidr!r} is not an address or a CIDR network"
            ) from None


def _checked(settings: Settings, environ: Mapping[str, str]) -> Settings:
    if BUILTIN_CONNECTOR in settings.connectors:
        raise _Problem(
            ("connectors", BUILTIN_CONNECTOR),
            "is the built-in simulator; it is configured under [simulator]",
        )
    for key, config in _structs(settings):
        _check_durations(key, config)
    _check_retention(settings.retention)
    _check_proxies(settings.http)
    connectors = {
        name: _resolve_secrets(("connectors", name), config, environ)
        for name, config in settings.connectors.items()
    }
    settings = msgspec.structs.replace(settings, connectors=connectors)
    _check_public_url(settings)
    _check_senders(settings)
    _check_pools(settings)
    return settings


def _check_public_url(settings: Settings) -> None:
    for name, config in settings.connectors.items():
        if config.needs_public_url and not settings.server.public_url:
            raise _Problem(
                ("connectors", name),
                "needs [server] public_url: each send tells the provider to call back there",
            )


def _from_file(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsError(f"cannot read configuration {path}: {error.strerror}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None


def load_settings(
    config_path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    connector_types: Collection[type[ConnectorSettings]] = (),
) -> Settings:
    """Build the settings from the file, the environment and explicit overrides.

    `connector_types`: what a `[connectors.<name>]` table may be (the program's
    connectors/registry.CONNECTOR_TYPES); a program given none refuses such tables."""
    env = dict(os.environ if environ is None else environ)
    path = config_path or env.get("OPENCOMMS_CONFIG")
    raw, text = _from_file(Path(path)) if path else ({}, "")
    for variable, (section, key) in _ENVIRONMENT.items():
        if env.get(variable):
            raw.setdefault(section, {})[key] = env[variable]
    if env.get("OPENCOMMS_ALLOWED_CALLBACK_NETWORKS"):
        networks = [n.strip() for n in env["OPENCOMMS_ALLOWED_CALLBACK_NETWORKS"].split(",")]
        raw.setdefault("server", {})["allowed_callback_networks"] = [n for n in networks if n]
    for variable, key in (
        ("OPENCOMMS_ACCOUNT_SID", "account_sid"),
        ("OPENCOMMS_AUTH_TOKEN", "auth_token"),
    ):
        if env.get(variable):
            raw[key] = env[variable]
    for key, value in (overrides or {}).items():
        if value is not None:
            raw.setdefault("server", {})[key] = value
    try:
        _check_numbers(raw)
        return _checked(_typed(raw, connector_types), env)
    except _Problem as problem:
        raise _error(str(path or ""), text, problem.key, problem.message) from None
