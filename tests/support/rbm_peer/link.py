"""A bare HTTP/1.1 keep-alive POST over asyncio streams, for the RBM peer's webhook
pushes: several times cheaper than a general client, so that the peer is not what limits
a 10,000-message test or a benchmark. http:// only; answers with Content-Length, chunked
or close-delimited bodies are read; any failure closes the connection and raises."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

__all__ = ["HttpLink", "LinkError"]


class LinkError(Exception):
    """The exchange failed (connection, timeout or a malformed answer)."""


class HttpLink:
    """One connection, reused across POSTs to the same host and port."""

    def __init__(self) -> None:
        self._address: tuple[str, int] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], within: float
    ) -> tuple[int, bytes]:
        """POST `body` to `url`; the answer's status and body."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise LinkError(f"not an http:// URL: {url}")
        address = (parts.hostname, parts.port or 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc
        reused = self._usable(address)
        try:
            return await asyncio.wait_for(
                self._exchange(address, host, target, body, headers), within
            )
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError, TimeoutError) as err:
            self.close()
            if reused and isinstance(err, asyncio.IncompleteReadError) and not err.partial:
                # the server closed the idle connection as it was reused: once more, fresh
                return await self.post(url, body, headers, within)
            raise LinkError(f"{type(err).__name__}: {err}") from err

    def _usable(self, address: tuple[str, int]) -> bool:
        if self._writer is None or self._reader is None:
            return False
        if self._address != address or self._reader.at_eof() or self._writer.is_closing():
            self.close()
            return False
        return True

    async def _exchange(
        self, address: tuple[str, int], host: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(*address)
            self._address = address
        assert self._reader is not None and self._writer is not None
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += ["Content-Type: application/json", "User-Agent: rbm-peer"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        return await self._answer(self._reader)

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status_line = await reader.readuntil(b"\r\n")
        version, status = status_line.split(b" ", 2)[:2]
        fields: dict[str, str] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            content = await reader.readexactly(int(fields["content-length"]))
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            content = await _chunks(reader)
        else:
            content = await reader.read()
            fields["connection"] = "close"
        if fields.get("connection", "").lower() == "close" or version == b"HTTP/1.0":
            self.close()
        return int(status), content

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None
        self._address = None


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    content = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        content += await reader.readexactly(size)
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailers
    return content
