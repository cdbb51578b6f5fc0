"""A pool of SMTP sessions to the relay: `connections` aiosmtplib clients, each one mail
at a time, connected (TLS, STARTTLS, AUTH) when first used and again after a drop."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosmtplib

from opencomms.connectors.smtp.config import SmtpConfig
from opencomms.domain.durations import parse_duration_ms

__all__ = ["SmtpPool"]


class SmtpPool:
    def __init__(self, config: SmtpConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._tls_context = tls_context
        self._idle: asyncio.Queue[aiosmtplib.SMTP] | None = None

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username or None,
            password=config.password or None,
            timeout=(parse_duration_ms(config.timeout) or 30_000) / 1000,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=self._tls_context,
            local_hostname=config.helo_name or None,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[tuple[aiosmtplib.SMTP, bool]]:
        """A client of the pool, connected, and whether it was connected already (a
        reused session the relay may have closed meanwhile); connecting may raise."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._config.connections):
                self._idle.put_nowait(self._client())
        client = await self._idle.get()
        try:
            reused = client.is_connected
            if not reused:
                try:
                    await client.connect()
                except BaseException:
                    client.close()  # not left half open (connected, its AUTH refused)
                    raise
            yield client, reused
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), 2)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        self._idle = None
