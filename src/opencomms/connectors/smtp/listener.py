"""The bounce listener: an SMTP server (aiosmtpd, in the connector's event loop) on
`bounce_listen`, where relays send the DSNs of our mail back to the bounce address.

A delivery report of ours becomes receipts, and the relay is answered 250 only once
the engine stored them (a 451 when it could not: the relay tries again later). Any
other mail is kept in a Maildir (`kept_mail_dir`), never dropped: an out-of-office
answer, a bounce in a format no RFC describes, someone writing to the bounce address.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from collections.abc import Awaitable, Callable
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from opencomms.connectors.smtp.dsn import Bounce, dsn_bounces

__all__ = ["BounceListener"]

log = logging.getLogger(__name__)

MAX_MAIL_BYTES = 10 * 1024 * 1024  # a DSN returns headers (RET=HDRS): small

# stores the receipts of these bounces; done once they are stored
StoreBounces = Callable[[list[Bounce]], Awaitable[None]]


class _Handler:
    def __init__(self, store: StoreBounces, keep_dir: Path, bounce_address: str) -> None:
        self._store = store
        self._keep_dir = keep_dir
        self._bounce_address = bounce_address.lower()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self._bounce_address and address.lower() != self._bounce_address:
            return "550 5.1.1 this server takes mail for the bounce address only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        try:
            bounces = dsn_bounces(message_from_bytes(data, policy=policy.compat32))
            if bounces is None:
                await asyncio.to_thread(self._keep, data)
                return "250 2.0.0 kept"
            await self._store(bounces)
        except Exception:
            log.exception("bounce listener: a report could not be taken now")
            return "451 4.3.0 cannot take it now, try again later"
        return "250 2.0.0 report taken"

    def _keep(self, data: bytes) -> None:
        for folder in ("tmp", "new", "cur"):  # a Maildir, also in a directory made by hand
            (self._keep_dir / folder).mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self._keep_dir, create=False).add(data)
        log.info("bounce listener: mail that is no report of ours kept in %s", self._keep_dir)


class BounceListener:
    """The listener, started and stopped with its connector."""

    def __init__(
        self, host: str, port: int, store: StoreBounces, keep_dir: Path, bounce_address: str
    ) -> None:
        self._host, self._port = host, port
        self._handler = _Handler(store, keep_dir, bounce_address)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one it was given, or the one chosen for 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, data_size_limit=MAX_MAIL_BYTES, loop=loop),
            host=self._host,
            port=self._port,
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
