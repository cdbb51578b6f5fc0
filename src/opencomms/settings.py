"""Operator settings: a typed struct from the TOML file, the environment and the CLI.

Precedence, lowest first: defaults, the file (`--config` / OPENCOMMS_CONFIG), the
OPENCOMMS_* environment variables, command-line options. A key that is unknown,
misspelt or of the wrong type stops the start with an error naming it and its line.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

__all__ = [
    "EventSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SimulatorSettings",
    "load_settings",
]


class SettingsError(Exception):
    """The configuration cannot be used; the message names the key (and line)."""


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///opencomms.db"
    allowed_callback_networks: list[str] = msgspec.field(default_factory=list)
    public_url: str = ""  # base of operationLocation; empty: from the request's Host
    max_body_bytes: int = 16 * 1024 * 1024
    # the key that seals auth tokens kept for signing callbacks (made on first start)
    secret_key_file: str = "opencomms.key"
    secret_key: str = ""  # or the key itself, base64 (OPENCOMMS_SECRET_KEY)


class SimulatorSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
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
    batch_size: int = 100  # events per POST
    timeout: str = "15s"  # a delivery not answered within it failed
    max_retry: str = "72h"  # then the batch is given up (and logged)
    concurrency: int = 32  # deliveries in flight, one per sink at most


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    events: EventSettings = msgspec.field(default_factory=EventSettings)
    simulator: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    connectors: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    senders: list[dict[str, Any]] = msgspec.field(default_factory=list)
    sender_pools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    account_sid: str = ""
    auth_token: str = ""


_ENVIRONMENT = {
    "OPENCOMMS_DATABASE_URL": ("server", "database_url"),
    "OPENCOMMS_SIMULATOR_SUBMIT_LOG": ("simulator", "submit_log"),
    "OPENCOMMS_PUBLIC_URL": ("server", "public_url"),
    "OPENCOMMS_SECRET_KEY": ("server", "secret_key"),
}


def _line_of(text: str, key: str) -> str:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line) or line.strip() == f"[{key}]":
            return f" (line {number})"
    return ""


def _from_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsError(f"cannot read configuration {path}: {error.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None
    try:
        msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        message = str(error)
        keys = re.findall(r"`\$\.([^`]+)`|field `([^`]+)`", message)
        key = next((part for pair in keys for part in pair if part), "")
        leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
        raise SettingsError(f"{path}: {message}{_line_of(text, leaf)}") from None
    return raw


def load_settings(
    config_path: str | None = None,
    *,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Build the settings from the file, the environment and explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    path = config_path or env.get("OPENCOMMS_CONFIG")
    raw: dict[str, Any] = _from_file(Path(path)) if path else {}
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
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as error:
        raise SettingsError(str(error)) from None
