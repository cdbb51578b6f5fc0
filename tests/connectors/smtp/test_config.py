"""`[connectors.<name>]` of `type = "smtp"`: what is taken, what stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES, build_connectors
from opencomms.connectors.smtp import SmtpConfig, SmtpConnector
from opencomms.settings import SettingsError, load_settings

CONFIG = """\
[server]
public_url = "https://comms.example.com"

[connectors.mail]
type = "smtp"
host = "smtp.example.net"
port = 587
security = "starttls"
username = "acme"
password_env = "SMTP_PASSWORD"
connections = 4
throughput = 0
bounce_address = "bounces@example.com"
bounce_listen = "0.0.0.0:2525"
"""


def _load(tmp_path: Path, extra: str = "", environ: dict[str, str] | None = None) -> SmtpConfig:
    """The example, with `extra` (`key = value`) in place of the key's line, or added."""
    path = tmp_path / "opencomms.toml"
    text = CONFIG.format(extra="")
    key = extra.split("=", 1)[0].strip()
    lines = [line for line in text.splitlines() if not key or not line.startswith(key + " ")]
    path.write_text("\n".join([*lines, extra]) + "\n")
    env = {"SMTP_PASSWORD": "relay-secret-93"} if environ is None else environ
    settings = load_settings(str(path), environ=env, connector_types=CONNECTOR_TYPES)
    config = settings.connectors["mail"]
    assert isinstance(config, SmtpConfig)
    assert isinstance(build_connectors(settings)["mail"], SmtpConnector)
    return config


def test_the_example_of_the_spec(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert (config.host, config.port, config.security) == ("smtp.example.net", 587, "starttls")
    assert config.password == "relay-secret-93"
    assert "relay-secret-93" not in repr(config)
    assert config.dsn_notify == "SUCCESS,FAILURE,DELAY"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('security = "ssl"', "security"),
        ("colour = 1", "colour"),
        ('bounce_listen = "2525"', "bounce_listen"),
        ('dsn_notify = "ALWAYS"', "dsn_notify"),
        ("connections = 0", "connections"),
        ('timeout = "soon"', "timeout"),
    ],
)
def test_a_wrong_key_stops_the_start_naming_it(tmp_path: Path, extra: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        _load(tmp_path, extra)


def test_a_missing_password_variable_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SMTP_PASSWORD"):
        _load(tmp_path, environ={})
