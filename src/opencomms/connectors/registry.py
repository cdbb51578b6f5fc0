"""The connectors of a configuration, by name: the built-in `simulator` always, and one
per `[connectors.<name>]`. Adding a connector type is its module and one line in
CONNECTOR_TYPES: its configuration struct (a `ConnectorSettings` tagged with its `type`)
and how to build it from that struct."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from opencomms.connectors.base import Connector
from opencomms.connectors.rbm import RbmConfig, RbmConnector
from opencomms.connectors.simulator import Simulator, SimulatorConnectorConfig
from opencomms.connectors.smpp.config import SmppConfig
from opencomms.connectors.smpp.connector import SmppConnector
from opencomms.connectors.smtp import SmtpConfig, SmtpConnector
from opencomms.connectors.twilio import TwilioConfig, TwilioConnector
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector
from opencomms.settings import BUILTIN_CONNECTOR, ConnectorSettings, Settings

__all__ = ["CONNECTOR_TYPES", "build_connectors"]

# (name, its configuration, the whole settings) -> the connector, constructed not started
Build = Callable[[str, Any, Settings], Connector]


def _another_simulator(
    name: str, _config: SimulatorConnectorConfig, settings: Settings
) -> Connector:
    """A simulator under its own name; the submit log is the built-in's alone."""
    simulator = Simulator(msgspec.structs.replace(settings.simulator, submit_log=""))
    simulator.name = name
    return simulator


CONNECTOR_TYPES: dict[type[ConnectorSettings], Build] = {
    SimulatorConnectorConfig: _another_simulator,
    SmppConfig: lambda name, config, _: SmppConnector(name, config, password=config.password),
    RbmConfig: lambda name, config, _: RbmConnector(name, config),
    WhatsAppConfig: lambda name, config, _: WhatsAppConnector(name, config),
    TwilioConfig: lambda name, config, all_: TwilioConnector(name, config, all_.server.public_url),
    SmtpConfig: lambda name, config, settings: SmtpConnector(
        name, config, settings.server.public_url
    ),
}


def build_connectors(settings: Settings) -> dict[str, Connector]:
    """Construct (not start) every connector; a connector that cannot reach its peer
    still starts, and reconnects in the background."""
    connectors: dict[str, Connector] = {BUILTIN_CONNECTOR: Simulator(settings.simulator)}
    for name, config in settings.connectors.items():
        connectors[name] = CONNECTOR_TYPES[type(config)](name, config, settings)
    return connectors
