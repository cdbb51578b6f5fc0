"""`[connectors.<name>]` of type `whatsapp`: its keys, its secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES, build_connectors
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector
from opencomms.settings import Settings, SettingsError, load_settings

TOKEN, SECRET, VERIFY = "EAAG-token-4c1e9", "app-secret-77ab", "verify-me-5d2"
ENVIRONMENT = {"WA_ACCESS_TOKEN": TOKEN, "WA_APP_SECRET": SECRET, "WA_VERIFY_TOKEN": VERIFY}
CONFIG = """
[connectors.wa]
type = "whatsapp"
phone_number_id = "106540352242922"
access_token_env = "WA_ACCESS_TOKEN"
app_secret_env = "WA_APP_SECRET"
verify_token_env = "WA_VERIFY_TOKEN"
base_url = "https://graph.facebook.com/v21.0"
throughput = 80

[[senders]]
address = "+15550783881"
channel = "WHATSAPP"
connector = "wa"
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "opencomms.toml"
    path.write_text(text)
    return load_settings(
        str(path),
        environ=ENVIRONMENT if environ is None else environ,
        connector_types=list(CONNECTOR_TYPES),
    )


def test_the_documented_configuration_loads_with_its_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, CONFIG).connectors["wa"]
    assert isinstance(config, WhatsAppConfig)
    assert (config.access_token, config.app_secret, config.verify_token) == (TOKEN, SECRET, VERIFY)
    assert config.throughput == 80
    assert WhatsAppConfig.channels == {"WHATSAPP"}


def test_the_repr_shows_no_secret(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG).connectors["wa"]
    shown = repr(config)
    assert "106540352242922" in shown
    assert not any(secret in shown for secret in (TOKEN, SECRET, VERIFY))


def test_the_registry_builds_the_connector(tmp_path: Path) -> None:
    connector = build_connectors(load(tmp_path, CONFIG))["wa"]
    assert isinstance(connector, WhatsAppConnector)
    assert connector.channels == {"WHATSAPP"}
    assert TOKEN not in repr(connector)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('access_token_env = "WA_ACCESS_TOKEN"\n', ""), "give access_token_env"),
        (('app_secret_env = "WA_APP_SECRET"\n', ""), "give app_secret_env"),
        (('"106540352242922"', '"+15550783881"'), "phone_number_id"),
        (("throughput = 80", "throughput = -1"), "throughput"),
        (("throughput = 80", 'request_timeout = "soon"'), "request_timeout"),
        (("throughput = 80", 'tier = "gold"'), "tier"),
    ],
)
def test_a_mistake_names_its_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load(tmp_path, CONFIG.replace(*change))
    assert "connectors.wa" in str(caught.value)


def test_a_secret_variable_that_is_not_set_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WA_APP_SECRET is not set"):
        load(tmp_path, CONFIG, {"WA_ACCESS_TOKEN": TOKEN, "WA_VERIFY_TOKEN": VERIFY})


def test_a_sender_on_it_must_be_whatsapp(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not carry SMS"):
        load(tmp_path, CONFIG.replace('channel = "WHATSAPP"', 'channel = "SMS"'))
