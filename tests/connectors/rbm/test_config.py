"""An `[connectors.<name>]` table of type "rbm", as the settings loader reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencomms.connectors.rbm import RbmConfig, RbmConnector
from opencomms.settings import SettingsError, load_settings
from tests.connectors.rbm.conftest import private_key_pem, service_account

TABLE = """
[connectors.rcs]
type = "rbm"
agent_id = "acme_agent"
{key}
client_token_env = "RBM_CLIENT_TOKEN"
base_url = "http://127.0.0.1:9"
throughput = 5

[[senders]]
address = "acme_agent"
channel = "RCS"
connector = "rcs"
"""
KEY_JSON = json.dumps(service_account("http://127.0.0.1:9/token"))
ENV = {"RBM_CLIENT_TOKEN": "client-token-from-env", "RBM_KEY": KEY_JSON}


def load(tmp_path: Path, key: str, env: dict[str, str] = ENV) -> RbmConfig:
    path = tmp_path / "opencomms.toml"
    path.write_text(TABLE.format(key=key))
    settings = load_settings(str(path), environ=env, connector_types=[RbmConfig])
    config = settings.connectors["rcs"]
    assert isinstance(config, RbmConfig)
    assert isinstance(RbmConnector("rcs", config), RbmConnector)
    return config


def test_the_key_from_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path, 'service_account_json_env = "RBM_KEY"')
    assert config.client_token == "client-token-from-env"
    assert config.service_account()["private_key"] == private_key_pem()
    assert (config.throughput, config.channels) == (5, frozenset({"RCS"}))
    shown = repr(config)
    assert "client-token-from-env" not in shown and "PRIVATE KEY" not in shown
    assert "client_token=***" in shown and "agent_id='acme_agent'" in shown


def test_the_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key.json").write_text(KEY_JSON)
    config = load(tmp_path, f'service_account_file = "{tmp_path / "key.json"}"')
    assert config.service_account()["client_email"].startswith("agent@")


@pytest.mark.parametrize(
    ("key", "env", "problem"),
    [
        ("", ENV, "give one of service_account_file, service_account_json_env"),
        (
            'service_account_file = "/k.json"\nservice_account_json_env = "RBM_KEY"',
            ENV,
            "give one of service_account_file",
        ),
        (
            'service_account_json_env = "RBM_KEY"',
            {"RBM_KEY": KEY_JSON},
            "RBM_CLIENT_TOKEN is not set",
        ),
    ],
    ids=["no key", "two keys", "no client token"],
)
def test_what_cannot_be_used_stops_the_start(
    tmp_path: Path, key: str, env: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        load(tmp_path, key, env)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        ("{", "is not a JSON service-account key"),
        ("{}", "lacks client_email, private_key or token_uri"),
    ],
)
def test_a_key_file_that_cannot_be_used(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    config = RbmConfig(agent_id="a", service_account_file=str(path), client_token="client-token")
    with pytest.raises(ValueError, match=problem) as raised:
        RbmConnector("rcs", config)
    assert 'private_key":' not in str(raised.value)
