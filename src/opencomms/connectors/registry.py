"""The connectors of a configuration, by name: the built-in `simulator` always, and one
per `[connectors.<name>]`. Adding a connector type is one line here (and its module)."""

from __future__ import annotations

import msgspec

from opencomms.connectors.base import Connector
from opencomms.connectors.simulator import Simulator
from opencomms.connectors.smpp.connector import SmppConnector
from opencomms.settings import BUILTIN_CONNECTOR, Settings, SimulatorConnectorConfig

__all__ = ["build_connectors"]


def build_connectors(settings: Settings) -> dict[str, Connector]:
    """Construct (not start) every connector; a connector that cannot reach its peer
    still starts, and reconnects in the background."""
    connectors: dict[str, Connector] = {BUILTIN_CONNECTOR: Simulator(settings.simulator)}
    for name, config in settings.connectors.items():
        if isinstance(config, SimulatorConnectorConfig):
            # another simulator under its own name; the submit log is the built-in's alone
            simulator = Simulator(msgspec.structs.replace(settings.simulator, submit_log=""))
            simulator.name = name
            connectors[name] = simulator
        else:
            connectors[name] = SmppConnector(name, config, password=config.password)
    return connectors
