"""`[connectors.<name>]` of type `twilio`: its keys, its secrets from the environment,
and the `[server] public_url` every send's StatusCallback needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES, build_connectors
from opencomms.connectors.twilio import TwilioConfig, TwilioConnector
from opencomms.settings import Settings, SettingsError, load_settings

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN, KEY_SECRET = "auth-token-config-6b1", "key-secret-config-0e8"
ENVIRONMENT = {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_KEY_SECRET": KEY_SECRET}
CONFIG = f"""
[server]
public_url = "https://comms.example.com"

[connectors.upstream]
type = "twilio"
account_sid = "{ACCOUNT}"
auth_token_env = "TWILIO_AUTH_TOKEN"
messaging_service_sid = ""
base_url = "https://api.twilio.com"

[[senders]]
address = "+12065558844"
channel = "SMS"
connector = "upstream"

[[senders]]
address = "+12065558844"
channel = "WHATSAPP"
connector = "upstream"
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "opencomms.toml"
    path.write_text(text)
    return load_settings(
        str(path),
        environ=ENVIRONMENT if environ is None else environ,
        connector_types=list(CONNECTOR_TYPES),
    )


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG).connectors["upstream"]
    assert isinstance(config, TwilioConfig)
    assert (config.account_sid, config.auth_token) == (ACCOUNT, TOKEN)
    assert config.credentials == (ACCOUNT, TOKEN)
    assert TwilioConfig.channels == {"SMS", "WHATSAPP"}


def test_an_api_key_authenticates_the_sends(tmp_path: Path) -> None:
    key = "SK" + "ab" * 16
    text = CONFIG.replace(
        'base_url = "https://api.twilio.com"',
        f'api_key_sid = "{key}"\napi_key_secret_env = "TWILIO_KEY_SECRET"',
    )
    config = load(tmp_path, text).connectors["upstream"]
    assert isinstance(config, TwilioConfig)
    assert config.credentials == (key, KEY_SECRET)
    assert config.auth_token == TOKEN  # still what verifies the callbacks


def test_the_repr_shows_no_secret(tmp_path: Path) -> None:
    text = CONFIG.replace(
        'base_url = "https://api.twilio.com"',
        f'api_key_sid = "SK{"ab" * 16}"\napi_key_secret_env = "TWILIO_KEY_SECRET"',
    )
    shown = repr(load(tmp_path, text).connectors["upstream"])
    assert ACCOUNT in shown
    assert TOKEN not in shown and KEY_SECRET not in shown


def test_the_registry_builds_the_connector(tmp_path: Path) -> None:
    connector = build_connectors(load(tmp_path, CONFIG))["upstream"]
    assert isinstance(connector, TwilioConnector)
    assert connector.name == "upstream"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('public_url = "https://comms.example.com"', 'public_url = ""'), "connectors.upstream"),
        ((f'account_sid = "{ACCOUNT}"', 'account_sid = "AC123"'), "account_sid"),
        (('auth_token_env = "TWILIO_AUTH_TOKEN"', ""), "connectors.upstream"),
        (('messaging_service_sid = ""', 'messaging_service_sid = "MG1"'), "messaging_service_sid"),
        (
            ('base_url = "https://api.twilio.com"', 'api_key_sid = "SK' + "ab" * 16 + '"'),
            "connectors.upstream",
        ),
        (('base_url = "https://api.twilio.com"', 'base_url = "ftp://x"'), "connectors.upstream"),
        (
            ('auth_token_env = "TWILIO_AUTH_TOKEN"', 'auth_token_env = "UNSET_VAR"'),
            "auth_token_env",
        ),
        (('type = "twilio"', 'type = "twilio"\nthroughput = -1'), "throughput"),
    ],
)
def test_a_mistake_stops_the_start_naming_the_key(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, CONFIG.replace(*change))
    assert named in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_an_rcs_sender_on_twilio_is_refused(tmp_path: Path) -> None:
    text = (
        CONFIG + '\n[[senders]]\naddress = "acme_agent"\nchannel = "RCS"\nconnector = "upstream"\n'
    )
    with pytest.raises(SettingsError, match="does not carry RCS"):
        load(tmp_path, text)
