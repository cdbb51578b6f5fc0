"""The operator's TOML file: what parses, and every kind of mistake named by key and line."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.connectors.simulator import SimulatorConnectorConfig
from opencomms.connectors.smpp.config import SmppConfig
from opencomms.domain.personalization import TemplateLimits
from opencomms.settings import SettingsError, load_settings

GOOD = """\
[server]
port = 8081

[http]
header_timeout = "5s"
body_timeout = "30s"
max_header_bytes = 16384
max_body_bytes = 32768
max_send_body_bytes = 8388608
max_connections = 500
max_connections_per_client = 50
trusted_proxies = ["10.0.0.5", "fd00::/8"]

[connectors.operator_a]                 # one SMSC account
type = "smpp"
host = "smsc.example.net"
system_id = "acme"
password_env = "OPERATOR_A_PASSWORD"
system_type = "VMA"
bind_mode = "transmitter"
binds = 2
window = 20
throughput = 50
source_ton = 5
source_npi = 0
default_data_coding = 3
enquire_link_interval = "15s"
receipt_wait = "48h"

[connectors.lab]
type = "simulator"
fallback_timeout = "2s"

[[senders]]
address = "+12065558844"
channel = "SMS"
connector = "operator_a"
fallback_timeout = "90s"

[[senders]]
address = "+12065558844"
channel = "WHATSAPP"
connector = "lab"

[[senders]]
address = "ACME"
channel = "SMS"

[[sender_pools]]
name = "default"
senders = ["WHATSAPP:+12065558844", "SMS:+12065558844"]

[[sender_pools]]
name = "brand"
senders = ["ACME"]
"""
ENV = {"OPERATOR_A_PASSWORD": "s3cret"}
DAY_MS = 86_400_000


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "opencomms.toml"
    path.write_text(text)
    return load_settings(
        str(path), environ=ENV if env is None else env, connector_types=CONNECTOR_TYPES
    )


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, text, env)
    return str(raised.value)


def line_of(text: str, needle: str, after: str = "") -> int:
    """The 1-based line of the first `needle` after the line `after`."""
    lines = text.splitlines()
    start = lines.index(after) if after else 0
    return next(n for n, line in enumerate(lines, 1) if n > start and line.startswith(needle))


def test_a_good_file_parses_into_typed_connectors_senders_and_pools(tmp_path: Path) -> None:
    (tmp_path / "opencomms.toml").write_text(GOOD)
    settings = load_settings(
        str(tmp_path / "opencomms.toml"), environ=ENV, connector_types=CONNECTOR_TYPES
    )

    smpp = settings.connectors["operator_a"]
    assert isinstance(smpp, SmppConfig)
    assert (smpp.host, smpp.port, smpp.system_id, smpp.system_type) == (
        "smsc.example.net", 2775, "acme", "VMA",
    )  # fmt: skip
    assert (smpp.bind_mode, smpp.binds, smpp.window, smpp.throughput) == ("transmitter", 2, 20, 50)
    assert (smpp.source_ton, smpp.source_npi, smpp.default_data_coding) == (5, 0, 3)
    assert smpp.enquire_link_interval == "15s"
    assert smpp.password == "s3cret"  # read from the environment at load
    assert "s3cret" not in repr(settings)
    assert isinstance(settings.connectors["lab"], SimulatorConnectorConfig)
    assert [(s.address, s.channel, s.connector) for s in settings.senders] == [
        ("+12065558844", "SMS", "operator_a"),
        ("+12065558844", "WHATSAPP", "lab"),
        ("ACME", "SMS", "simulator"),
    ]
    # a sender's durations: its own, else its connector's, else the simulator's
    assert [settings.configured_sender_durations(s) for s in settings.senders] == [
        (90_000, 48 * 3_600_000),
        (2_000, 30_000),
        (10_000, 30_000),
    ]
    assert [settings.pool_members(p) for p in settings.sender_pools] == [
        [("+12065558844", "WHATSAPP"), ("+12065558844", "SMS")],
        [("ACME", "SMS")],
    ]


def test_no_file_means_the_simulator_alone(tmp_path: Path) -> None:
    settings = load_settings(None, environ={})
    assert (settings.connectors, settings.senders, settings.sender_pools) == ({}, [], [])


def test_the_connector_types_are_the_callers_to_give(tmp_path: Path) -> None:
    """The settings know no connector: a program given no types refuses any
    `[connectors.<name>]`, and one given a single type refuses the others."""
    path = tmp_path / "opencomms.toml"
    path.write_text(GOOD)
    smpp_line, lab_line = (
        line_of(GOOD, "[connectors.operator_a]"),
        line_of(GOOD, "[connectors.lab]"),
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(str(path), environ=ENV)
    assert f"connectors.operator_a (line {smpp_line}): this program knows no connectors" in str(
        refused.value
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(str(path), environ=ENV, connector_types=[SmppConfig])
    assert f"connectors.lab.type (line {lab_line + 1}): Invalid value 'simulator'" in str(
        refused.value
    )


def test_the_http_limits_are_read_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "opencomms.toml").write_text(GOOD)
    http = load_settings(
        str(tmp_path / "opencomms.toml"), environ=ENV, connector_types=CONNECTOR_TYPES
    ).http

    assert (http.seconds("header_timeout"), http.seconds("body_timeout")) == (5, 30)
    assert (http.max_header_bytes, http.max_body_bytes, http.max_send_body_bytes) == (
        16 * 1024, 32 * 1024, 8 * 1024 * 1024,
    )  # fmt: skip
    assert (http.max_connections, http.max_connections_per_client) == (500, 50)
    assert [str(n) for n in http.proxy_networks()] == ["10.0.0.5/32", "fd00::/8"]


def test_the_http_limits_have_documented_defaults() -> None:
    http = load_settings(None, environ={}).http

    assert (http.seconds("header_timeout"), http.seconds("body_timeout")) == (10, 60)
    assert (http.max_header_bytes, http.max_body_bytes) == (64 * 1024, 64 * 1024)
    assert http.max_send_body_bytes == 16 * 1024 * 1024
    assert (http.max_connections, http.max_connections_per_client) == (1000, 100)
    assert http.trusted_proxies == []
    security = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    inbound = security.split("## Inbound HTTP", 1)[1].split("\n## ", 1)[0]
    for name in msgspec.structs.fields(http):
        assert f"`{name.name}`" in inbound, f"docs/security.md does not document {name.name}"


def test_an_inline_password_is_used_as_given(tmp_path: Path) -> None:
    text = GOOD.replace('password_env = "OPERATOR_A_PASSWORD"', 'password = "inline"')
    settings = load(tmp_path, text, env={})
    assert settings.connectors["operator_a"].password == "inline"  # type: ignore[attr-defined]


# (text in GOOD, its replacement with `# here` on the line the error must name, the key
# the error must name, a fragment of its message)
SMPP_HEAD = '[connectors.operator_a]                 # one SMSC account\ntype = "smpp"\n'
BAD = [
    ("window = 20", 'window = "x"  # here', "connectors.operator_a.window", "Expected `int`"),
    ("window = 20", "windw = 20  # here", "connectors.operator_a.windw", "unknown field"),
    ("binds = 2", "binds = 0  # here", "connectors.operator_a.binds", ">= 1"),
    ("source_ton = 5", "source_ton = 300  # here", "connectors.operator_a.source_ton", "<= 255"),
    (
        'bind_mode = "transmitter"',
        'bind_mode = "both"  # here',
        "connectors.operator_a.bind_mode",
        "Invalid enum value 'both'",
    ),
    ('type = "smpp"', 'type = "smpq"  # here', "connectors.operator_a.type", "Invalid value"),
    (
        SMPP_HEAD + 'host = "smsc.example.net"\n',
        "[connectors.operator_a]  # here\ntype = 'smpp'\n",
        "connectors.operator_a.host",
        "missing required field `host`",
    ),
    (
        'enquire_link_interval = "15s"',
        'enquire_link_interval = "15 seconds"  # here',
        "connectors.operator_a.enquire_link_interval",
        "'15 seconds' is not a positive duration",
    ),
    (
        'receipt_wait = "48h"',
        'receipt_wait = "0s"  # here',
        "connectors.operator_a.receipt_wait",
        "not a positive duration",
    ),
    (
        'fallback_timeout = "2s"',
        'fallback_timeout = "2"  # here',
        "connectors.lab.fallback_timeout",
        "not a positive duration",
    ),
    (
        'password_env = "OPERATOR_A_PASSWORD"',
        'password = "inline"\npassword_env = "OPERATOR_A_PASSWORD"  # here',
        "connectors.operator_a.password_env",
        "give password or password_env, not both",
    ),
    (
        'connector = "operator_a"',
        'connector = "operator_b"  # here',
        "senders[0].connector",
        "no connector 'operator_b' (configured: lab, operator_a, simulator)",
    ),
    (
        'channel = "WHATSAPP"\nconnector = "lab"',
        'channel = "WHATSAPP"  # here\nconnector = "operator_a"',
        "senders[1].channel",
        "connector 'operator_a' does not carry WHATSAPP",
    ),
    ('channel = "WHATSAPP"', 'channel = "whatsapp"  # here', "senders[1].channel", "Invalid enum"),
    (
        'address = "ACME"',
        'address = "ACME CORPORATION"  # here',
        "senders[2].address",
        "alphanumeric sender id",
    ),
    (
        'fallback_timeout = "90s"',
        'fallback_timeout = "soon"  # here',
        "senders[0].fallback_timeout",
        "'soon' is not a positive duration",
    ),
    (
        'address = "ACME"',
        'address = "+12065558844"  # here',
        "senders[2].address",
        "a SMS sender +12065558844 is already configured",
    ),
    (
        'senders = ["ACME"]',
        'senders = ["NOPE"]  # here',
        "sender_pools[1].senders",
        "no configured sender 'NOPE' in [[senders]]",
    ),
    (
        'senders = ["ACME"]',
        'senders = ["+12065558844"]  # here',
        "sender_pools[1].senders",
        "name one: SMS:+12065558844, WHATSAPP:+12065558844",
    ),
    ('name = "brand"', 'name = "default"  # here', "sender_pools[1].name", "already configured"),
    (
        "[connectors.lab]",
        "[connectors.simulator]  # here",
        "connectors.simulator",
        "is the built-in simulator",
    ),
    (
        "[connectors.lab]",
        '[connectors."lab:2"]  # here',
        "connectors.lab:2",
        "a connector's name is letters, digits, '_' or '-'",
    ),
    ("port = 8081", 'port = "eighty"  # here', "server.port", "Expected `int`, got `str`"),
    (
        'header_timeout = "5s"',
        'header_timeout = "5"  # here',
        "http.header_timeout",
        "'5' is not a positive duration",
    ),
    ('body_timeout = "30s"', 'body_timeout = "0s"  # here', "http.body_timeout", "positive"),
    ("max_connections = 500", "max_connections = 0  # here", "http.max_connections", ">= 1"),
    (
        "max_header_bytes = 16384",
        'max_header_bytes = "16k"  # here',
        "http.max_header_bytes",
        "Expected `int`",
    ),
    (
        'trusted_proxies = ["10.0.0.5", "fd00::/8"]',
        'trusted_proxies = ["10.0.0.5", "proxy.local"]  # here',
        "http.trusted_proxies",
        "'proxy.local' is not an address or a CIDR network",
    ),
    ("max_connections = 500", "max_conections = 500  # here", "http.max_conections", "unknown"),
    ("[server]", "[servr]  # here", "servr", "unknown field `servr`"),
    ('address = "ACME"', 'adress = "ACME"  # here', "senders[2].adress", "unknown field"),
]


@pytest.mark.parametrize(("old", "new", "key", "message"), BAD, ids=[c[2] for c in BAD])
def test_a_bad_file_is_an_error_naming_the_key_and_its_line(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    marked = next(n for n, line in enumerate(text.splitlines(), 1) if line.endswith("# here"))

    error = error_of(tmp_path, text)

    assert error.startswith(f"{tmp_path / 'opencomms.toml'}: {key} (line {marked}): "), error
    assert message in error


@pytest.mark.parametrize(
    ("env", "state"), [({}, "is not set"), ({"OPERATOR_A_PASSWORD": ""}, "is empty")]
)
def test_a_missing_env_variable_names_the_key_and_the_variable(
    tmp_path: Path, env: dict[str, str], state: str
) -> None:
    error = error_of(tmp_path, GOOD, env)
    assert f"connectors.operator_a.password_env (line {line_of(GOOD, 'password_env')})" in error
    assert f"the environment variable OPERATOR_A_PASSWORD {state}" in error


def test_an_unreadable_or_malformed_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read configuration"):
        load_settings(str(tmp_path / "missing.toml"), environ={})
    assert "opencomms.toml" in error_of(tmp_path, "[server\n")


def test_the_readme_example_parses(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Operator configuration", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its configuration example"
    variables = re.findall(r'_env = "([A-Z0-9_]+)"', match.group(1))
    settings = load(tmp_path, match.group(1), env=dict.fromkeys(variables, "x"))
    assert settings.connectors  # type: ignore[attr-defined]


def test_retention_defaults_keep_messages_a_month_and_delivered_events_a_week() -> None:
    retention = load_settings(None, environ={}).retention

    assert [retention.kept_ms(name) for name in retention.kept] == [
        30 * DAY_MS,  # operations, with their Messages: longer than Twilio's 7 days
        7 * DAY_MS,  # delivered events
        DAY_MS,  # idempotency keys
        30 * DAY_MS,  # inbound messages
    ]
    assert (retention.batch_size, retention.pause, retention.interval) == (500, "50ms", "5m")


def test_a_retention_of_zero_keeps_forever(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        '[retention]\noperations = "0"\nevents = "36h"\ninbound = "400d"\nbatch_size = 50\n',
    )

    retention = settings.retention  # type: ignore[attr-defined]
    assert retention.kept_ms("operations") is None
    assert retention.kept_ms("events") == 36 * 3_600_000
    assert retention.kept_ms("inbound") == 400 * DAY_MS
    assert retention.batch_size == 50


def test_faults_settings_have_documented_defaults_and_can_be_set(tmp_path: Path) -> None:
    faults = load_settings(None, environ={}).faults
    assert (
        faults.retry_after_header, faults.connect_timeout_s, faults.query_timeout_s,
        faults.max_backoff_s, faults.drain_timeout_s,
    ) == ("5", 5.0, 30.0, 5.0, 30.0)  # fmt: skip
    path = tmp_path / "opencomms.toml"
    path.write_text('[faults]\nretry_after = "1500ms"\nmax_backoff = "2s"\n')
    tuned = load_settings(str(path), environ={}).faults
    assert (tuned.retry_after_header, tuned.max_backoff_s) == ("2", 2.0)  # whole seconds, up


TEMPLATES = """\
[templates]
loop_iterations = 5000
value_chars = 200000
output_chars = 30000
render_timeout = "250ms"
render_memory_bytes = 268435456
"""


def test_the_template_bounds_have_documented_defaults(tmp_path: Path) -> None:
    templates = load_settings(environ={}).templates
    assert (templates.loop_iterations, templates.value_chars, templates.output_chars) == (
        1_000,
        100_000,
        20_000,
    )
    assert templates.render_timeout_ms == 100
    assert templates.render_memory_bytes == 512 * 1024 * 1024


def test_the_template_bounds_are_read_from_the_file(tmp_path: Path) -> None:
    templates = load(tmp_path, TEMPLATES).templates  # type: ignore[attr-defined]
    assert templates.limits == TemplateLimits(5_000, 200_000, 30_000)
    assert templates.render_timeout_ms == 250
    assert templates.render_memory_bytes == 256 * 1024 * 1024


def test_sink_limits_have_documented_defaults_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_settings(None, environ={}).sinks
    text = (
        '[sinks]\nmax_per_account = 5\ncallback_expiry = "7d"\n'
        'max_response_bytes = 1024\ndelivery_timeout = "5s"\n'
    )

    configured = load(tmp_path, text).sinks  # type: ignore[attr-defined]

    assert (
        defaults.max_per_account, defaults.callback_expiry,
        defaults.max_response_bytes, defaults.delivery_timeout,
    ) == (100, "30d", 64 * 1024, "15s")  # fmt: skip
    assert (
        configured.max_per_account, configured.callback_expiry,
        configured.max_response_bytes, configured.delivery_timeout,
    ) == (5, "7d", 1024, "5s")  # fmt: skip


def test_the_backlog_bound_has_documented_defaults_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_settings(None, environ={}).limits
    text = '[limits]\nmax_backlog_per_account = 0\nbacklog_refresh = "1s"\n'

    configured = load(tmp_path, text).limits  # type: ignore[attr-defined]

    assert (defaults.max_backlog_per_account, defaults.backlog_refresh_s) == (1_000_000, 0.25)
    assert (configured.max_backlog_per_account, configured.backlog_refresh_s) == (0, 1.0)


def test_the_pace_of_small_sends_has_documented_defaults_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_settings(None, environ={}).limits
    text = '[limits]\npace_small_sends_at = 0\npace_wait = "2s"\n'

    configured = load(tmp_path, text).limits  # type: ignore[attr-defined]

    assert (defaults.pace_small_sends_at, defaults.pace_wait_s) == (1_000, 10.0)
    assert (configured.pace_small_sends_at, configured.pace_wait_s) == (0, 2.0)


def test_input_limits_have_documented_defaults_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_settings(None, environ={}).input
    text = "[input]\nmax_variable_chars = 50\nmax_module_items = 5\nmax_send_at_years = 2\n"

    configured = load(tmp_path, text).input  # type: ignore[attr-defined]

    assert msgspec.structs.asdict(defaults) == {
        "max_variable_chars": 1_000,
        "max_name_chars": 128,
        "max_address_chars": 320,
        "max_url_chars": 2_048,
        "max_module_items": 20,
        "max_fields": 50,
        "max_module_chars": 100_000,
        "max_send_at_years": 10,
    }
    assert (configured.max_variable_chars, configured.max_module_items) == (50, 5)
    assert configured.max_send_at_years == 2


# (section, one line of it, a fragment of the error's message): each line is refused
# with an error naming its key and its line, in a file where the section comes second
SECTION_BAD = [
    ("retention", 'operations = "forever"', "neither a positive duration"),
    ("retention", 'events = "0s"', 'nor "0" (keep forever)'),
    ("retention", 'idempotency_keys = "-1h"', "neither a positive duration"),
    ("retention", "inbound = 30", "Expected `str`, got `int`"),
    ("retention", "batch_size = 0", ">= 1"),
    ("retention", 'pause = "a bit"', "not a duration such as '50ms'"),
    ("retention", 'interval = "0m"', "not a positive duration"),
    ("retention", 'operation = "30d"', "unknown field"),
    ("faults", 'connect_timeout = "soon"', "'soon' is not a positive duration"),
    ("templates", "loop_iterations = 0", ">= 1"),
    ("templates", 'value_chars = "lots"', "Expected `int`"),
    ("templates", 'render_timeout = "fast"', "duration"),
    ("templates", "render_memory_bytes = 1000000", ">= 67108864"),
    ("templates", "output_characters = 30000", "unknown"),
    ("sinks", "max_per_account = 0", "Expected `int` >= 1"),
    ("sinks", "max_response_bytes = -1", "Expected `int` >= 0"),
    ("sinks", 'callback_expiry = "soon"', "not a positive duration"),
    ("sinks", 'delivery_timeout = "0s"', "not a positive duration"),
    ("sinks", "max_sinks = 3", "unknown field"),
    ("simulator", "throughput = inf", "inf is not a finite number"),
    ("simulator", "throughput = nan", "nan is not a finite number"),
    ("simulator", "throughput = -inf", "not a finite number"),
    ("simulator", "seed = 99999999999999999999", "is too large"),
    ("simulator", 'receipt_wait = "3651d"', "up to '3650d'"),
    ("simulator", 'receipt_wait = "1e9d"', "not a positive"),
    ("input", "max_variable_chars = 0", ">= 1"),
    ("input", "max_send_at_years = 1000", "<= 100"),
    ("input", "max_variables = 3", "unknown field"),
    ("limits", "max_backlog_per_account = -1", ">= 0"),
    ("limits", 'backlog_refresh = "soon"', "not a positive duration"),
    ("limits", "pace_small_sends_at = -1", ">= 0"),
    ("limits", 'pace_wait = "later"', "not a positive duration"),
]


@pytest.mark.parametrize(
    ("section", "line", "message"), SECTION_BAD, ids=[f"{c[0]}:{c[1]}" for c in SECTION_BAD]
)
def test_a_bad_value_is_an_error_naming_the_key_and_its_line(
    tmp_path: Path, section: str, line: str, message: str
) -> None:
    key = f"{section}.{line.partition(' = ')[0]}"

    error = error_of(tmp_path, f"[server]\nport = 8081\n\n[{section}]\n{line}\n")

    assert error.startswith(f"{tmp_path / 'opencomms.toml'}: {key} (line 5): "), error
    assert message in error


def test_a_connectors_infinite_throughput_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("throughput = 50", "throughput = inf  # here")

    error = error_of(tmp_path, text)

    assert f"connectors.operator_a.throughput (line {line_of(text, 'throughput = inf')})" in error
    assert "not a finite number" in error
