"""Connectors that one process at a time runs: those with limited sessions (an SMPP
account's binds) or a throughput cap, held with an ownership lease
(`connector:<name>`, background/ownership.py). The owner submits to it; the other
processes do not claim Messages whose attempt goes to it (store/dispatch_state.py), and
take it over when the lease runs out (its owner died). A connector with sessions (SMPP)
is started (bound) by its owner alone; one that only sends HTTP requests is started in
every process, as webhooks about it may come to any of them. Connectors without limits
run in every process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping

from opencomms.background.ownership import RETRY_S, Ownership
from opencomms.connectors.base import Connector
from opencomms.connectors.simulator import SimulatorConnectorConfig
from opencomms.connectors.smpp.config import SmppConfig
from opencomms.settings import BUILTIN_CONNECTOR, Settings

__all__ = ["ConnectorOwners", "session_connectors", "singleton_connectors"]

log = logging.getLogger(__name__)


def singleton_connectors(settings: Settings) -> set[str]:
    """The connectors one process at a time runs: SMPP (its binds are the account's),
    and any with a throughput cap (the simulator's is per sender, for all simulators)."""
    capped_simulators = settings.simulator.throughput > 0
    found = {BUILTIN_CONNECTOR} if capped_simulators else set()
    for name, config in settings.connectors.items():
        simulator = isinstance(config, SimulatorConnectorConfig)
        if isinstance(config, SmppConfig) or getattr(config, "throughput", 0) > 0:
            found.add(name)
        if simulator and capped_simulators:
            found.add(name)
    return found


def session_connectors(settings: Settings) -> set[str]:
    """The singletons that hold sessions to their provider (SMPP binds): started by
    their owner alone."""
    return {name for name, c in settings.connectors.items() if isinstance(c, SmppConfig)}


class ConnectorOwners:
    def __init__(
        self,
        ownership: Ownership,
        connectors: MutableMapping[str, Connector],
        singletons: set[str],
        sessions: set[str],
        start: Callable[[str, Connector], Awaitable[None]],
        rebuild: Callable[[str], Connector],
    ) -> None:
        """`sessions`: the singletons started here only while owned (the others are
        started by the runtime, as every connector); `start`: start one this process
        came to own; `rebuild`: a fresh one (not started) in place of one it lost."""
        self.ownership = ownership
        self._connectors = connectors
        self._singletons = singletons
        self._sessions = sessions & singletons
        self._start = start
        self._rebuild = rebuild
        self._running: set[str] = set()

    def elsewhere(self) -> list[str]:
        """The connectors this process does not run (another process does, or will)."""
        return sorted(n for n in self._singletons if not self.runs(n))

    def runs(self, name: str) -> bool:
        """Whether this process submits to `name`: every connector without limits, and
        a singleton while this process holds it and has started it."""
        if name not in self._singletons:
            return True
        return name in self._running and self.ownership.holds(_lease(name))

    async def run(self) -> None:
        while True:
            for name in sorted(self._singletons):
                await self.look(name)
            await asyncio.sleep(RETRY_S)

    async def look(self, name: str) -> None:
        """Run the connector when its lease is taken (start it, if it holds sessions);
        stop when the lease is lost."""
        held = self.ownership.holds(_lease(name))
        if name in self._running and not held:
            self._running.discard(name)
            log.warning("connector %s: its lease was lost; it stops in this process", name)
            if name in self._sessions:
                old, self._connectors[name] = self._connectors[name], self._rebuild(name)
                await old.close()
        elif name not in self._running and await self.ownership.take(_lease(name)):
            if name in self._sessions:
                await self._start(name, self._connectors[name])
            self._running.add(name)
            log.info("connector %s runs in this process now", name)

    def unstarted(self) -> set[str]:
        """The session connectors this process has not started (not to be closed)."""
        return self._sessions - self._running


def _lease(name: str) -> str:
    return "connector:" + name
