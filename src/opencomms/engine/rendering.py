"""Rendering recipients' templates away from the server: in a child process.

The child (engine/render_process.py) renders a chunk of recipients per round trip, each
recipient under `[templates] render_timeout`, the whole child under
`render_memory_bytes`. Neither a slow template nor a huge one can block the event loop
that serves the API, or kill the server: the worst a recipient can do is stop the child,
which is then replaced, and that recipient alone fails (30099). The child answers each
recipient as it is done; one that does not answer within its time (plus a grace for
the pipe) is the one that stopped it. That time is the child's CPU time (read from
/proc; wall time where it cannot be read), as the child's own bound is: on a loaded
machine the child may wait for a core, or this event loop be busy when its answer
comes, for longer than the bound, and a recipient must not fail for that. A child that
does not run at all (stopped) is given up after STALLED times as long in wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

import opencomms
from opencomms.engine.render_process import (
    COMPILED,
    HEADER,
    MIB,
    READY,
    RenderConfig,
    Rendered,
    RenderJob,
    frame,
)
from opencomms.settings import TemplateSettings

__all__ = ["Rendered", "Renderer", "RendererUnavailable"]

log = logging.getLogger(__name__)

STARTUP_S = 30.0  # start-up of a child, and compiling a job's templates
GRACE_S = 1.0  # past a recipient's render_timeout before its child is stopped
STALLED = 10  # times a recipient's wait, in wall time, for a child that does not run
STOP_S = 5.0
READ_BYTES = 1 << 16


class RendererUnavailable(RuntimeError):
    """The child could not be started: nothing was rendered, the work can be retried."""


class _Lost(Exception):
    """The child died, or did not answer in time."""


class _Late(_Lost):
    """The child did not answer within a wait (it may still be about to)."""


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._jobs = process.stdin
        self._answers = process.stdout
        self._buffer = bytearray()  # answers read and not yet taken, from `_start` on
        self._start = 0

    @classmethod
    async def start(cls, config: RenderConfig) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "opencomms.engine.render_process",
            msgspec.json.encode(config).decode(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_environment(),
        )
        child = cls(process)
        try:
            if await child.receive(STARTUP_S) != READY:
                raise _Lost("the renderer did not start")
        except _Lost:
            await child.stop()
            raise
        return child

    async def send(self, job: RenderJob) -> None:
        try:
            self._jobs.write(frame(msgspec.msgpack.encode(job)))
            async with asyncio.timeout(STARTUP_S):
                await self._jobs.drain()
        except (OSError, TimeoutError) as error:
            raise _Lost("the renderer stopped reading") from error

    async def receive(self, wait_s: float) -> bytes:
        """The next frame, if it comes within `wait_s`. Frames that came together are
        taken from the buffer without a wait (a chunk's answers come a few at a read)."""
        answer = self._buffered()
        if answer is not None:
            return answer
        try:
            async with asyncio.timeout(wait_s):
                while answer is None:
                    data = await self._answers.read(READ_BYTES)
                    if not data:
                        raise _Lost("the renderer exited")
                    self._buffer += data
                    answer = self._buffered()
        except TimeoutError as error:
            raise _Late("the renderer stopped answering") from error
        except OSError as error:
            raise _Lost("the renderer stopped answering") from error
        return answer

    def cpu_s(self) -> float | None:
        """The CPU time the child used so far (user and system), if it can be read."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b") ", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def _buffered(self) -> bytes | None:
        buffer, start = self._buffer, self._start
        if len(buffer) - start < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(buffer, start)
        end = start + HEADER.size + size
        if len(buffer) < end:
            return None
        answer = bytes(buffer[start + HEADER.size : end])
        if end == len(buffer) or end > READ_BYTES:
            del buffer[:end]
            end = 0
        self._start = end
        return answer

    async def stop(self) -> None:
        """End the child: it exits when its jobs end; if not, it is killed."""
        with contextlib.suppress(OSError):
            self._jobs.close()
        try:
            async with asyncio.timeout(STOP_S):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _environment() -> dict[str, str]:
    """This process's environment, with the child importing the same opencomms."""
    root = os.path.dirname(os.path.dirname(opencomms.__file__))
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class Renderer:
    """Renders templates for recipients in a child process, started when first needed."""

    def __init__(self, settings: TemplateSettings) -> None:
        self._config = RenderConfig(
            limits=settings.limits,
            timeout_ms=settings.render_timeout_ms,
            memory_bytes=settings.render_memory_bytes,
        )
        self._wait_s = settings.render_timeout_ms / 1000 + GRACE_S
        self._decode = msgspec.msgpack.Decoder(Rendered).decode
        self._child: _Child | None = None
        self._lock = asyncio.Lock()

    async def render(
        self, templates: Mapping[str, str], variables: Sequence[dict[str, Any] | None]
    ) -> list[Rendered]:
        """Each recipient's rendered texts by path, or why they could not be rendered.
        Raises RendererUnavailable when no child can be started."""
        if not templates:
            return [Rendered(texts={}) for _ in variables]
        async with self._lock:
            rendered: list[Rendered] = []
            while len(rendered) < len(variables):
                rendered += await self._attempt(dict(templates), list(variables[len(rendered) :]))
            return rendered

    async def _attempt(
        self, templates: dict[str, str], variables: list[dict[str, Any] | None]
    ) -> list[Rendered]:
        """What the child renders of `variables` before it is lost, if it is; then the
        recipient it was rendering fails, and the child is replaced."""
        rendered: list[Rendered] = []
        try:
            child = await self._started(RenderJob(templates, variables))
            for _ in variables:
                rendered.append(self._decode(await self._answer(child)))
        except _Lost:
            await self._discard()
            rendered.append(Rendered(error=self._stopped_message()))
        except BaseException:  # cancelled: the rest of its answers must not reach the next job
            self._abandon()
            raise
        return rendered

    async def _answer(self, child: _Child) -> bytes:
        """The child's answer for its next recipient. It is late once the child used
        the recipient's wait in CPU time, counted from the first wall-clock wait that ran
        out, without answering (stuck where its own bound cannot stop it), or did not
        run for STALLED waits in wall time. The child's CPU time is read only once a wait
        ran out: reading it for every recipient cost 14 % of the server's CPU."""
        given_up_at = time.monotonic() + self._wait_s * STALLED
        started: float | None = None
        while True:
            try:
                return await child.receive(self._wait_s)
            except _Late:
                used = child.cpu_s()
                if used is None or time.monotonic() >= given_up_at:
                    raise
                if started is None:
                    started = used
                elif used - started >= self._wait_s:
                    raise

    async def _started(self, job: RenderJob) -> _Child:
        """A child with `job` compiled. A child lost before that (killed from outside
        while idle, say) is replaced once before the first recipient is blamed."""
        try:
            return await self._sent(job)
        except _Lost:
            await self._discard()
        return await self._sent(job)

    async def _sent(self, job: RenderJob) -> _Child:
        child = await self._running_child()
        await child.send(job)
        if await child.receive(STARTUP_S) != COMPILED:
            raise _Lost("the renderer answered out of turn")
        return child

    def _stopped_message(self) -> str:
        config = self._config
        return (
            f"rendering stopped the renderer (over {config.timeout_ms} ms,"
            f" or over {config.memory_bytes // MIB} MiB)"
        )

    async def _running_child(self) -> _Child:
        if self._child is None or self._child.process.returncode is not None:
            try:
                self._child = await _Child.start(self._config)
            except (OSError, _Lost) as error:
                raise RendererUnavailable(f"the renderer cannot start: {error}") from error
        return self._child

    def _abandon(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.kill()

    async def _discard(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            log.warning("the renderer stopped answering; starting a new one")
            child.kill()
            await child.process.wait()

    async def close(self) -> None:
        if self._child is not None:
            await self._child.stop()
            self._child = None
