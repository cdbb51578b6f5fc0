"""The renderer process: renders templates for recipients, one at a time, each under a
time bound, the whole process under a memory bound (RLIMIT_AS).

The time bound is CPU time (this process's, user and system: ITIMER_PROF), not wall
time: rendering only computes, so what a recipient costs is the CPU it takes; on a
loaded machine this process may wait for a core longer than the bound, and a recipient
must not fail for that (a transient cause, not its template).

It is started by engine/rendering.py as `python -m opencomms.engine.render_process
CONFIG` and speaks length-prefixed msgpack frames: on stdin a `RenderJob` (templates and
the variables of up to a chunk of recipients); on stdout `READY` once started, `COMPILED`
once a job's templates are compiled, then one `Rendered` per recipient, in order, each
written as soon as it is done so that the parent knows which recipient was being
rendered if this process stops answering.
"""

from __future__ import annotations

import os
import resource
import signal
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any

import msgspec

from opencomms.domain.personalization import Template, TemplateError, TemplateLimits
from opencomms.domain.storable import storable_text

__all__ = ["COMPILED", "READY", "RenderConfig", "RenderJob", "Rendered", "frame", "read_frame"]

HEADER = struct.Struct(">I")
READY = b"ready"
COMPILED = b"compiled"
MIB = 1024 * 1024


class RenderConfig(msgspec.Struct, frozen=True):
    limits: TemplateLimits
    timeout_ms: int
    memory_bytes: int


class RenderJob(msgspec.Struct):
    templates: dict[str, str]  # path (`text`, `modules.sms.text`, `tags.k`) -> source
    variables: list[dict[str, Any] | None]  # one per recipient


class Rendered(msgspec.Struct):
    """One recipient's rendered texts by path, or why they could not be rendered."""

    texts: dict[str, str] | None = None
    error: str | None = None


def _failed(why: str) -> Rendered:
    """A failure whose reason can be stored (a filter's error may quote a value)."""
    return Rendered(error=storable_text(why))


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload; None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


class RenderTimeout(BaseException):
    """Raised by the CPU timer; a BaseException so that no `except Exception` swallows it."""


class _Alarm:
    armed = False


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    if _Alarm.armed:
        raise RenderTimeout


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    _Alarm.armed = True
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        _Alarm.armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)


Compiled = dict[str, Template | str]  # path -> template, or why it does not compile


def _compile(templates: dict[str, str], limits: TemplateLimits) -> Compiled:
    compiled: Compiled = {}
    for path, source in templates.items():
        try:
            compiled[path] = Template(source, limits)
        except TemplateError as error:
            compiled[path] = str(error)
    return compiled


def render_one(
    compiled: Compiled, variables: dict[str, Any] | None, config: RenderConfig
) -> Rendered:
    """Every template for one recipient, within the time bound."""
    texts: dict[str, str] = {}
    try:
        with _deadline(config.timeout_ms / 1000):
            for path, template in compiled.items():
                if isinstance(template, str):
                    return _failed(template)
                texts[path] = template.render(variables)
    except TemplateError as error:
        return _failed(str(error))
    except RenderTimeout:
        return _failed(f"rendering took over {config.timeout_ms} ms")
    except MemoryError:
        return _failed(f"rendering needed over {config.memory_bytes // MIB} MiB")
    return Rendered(texts=texts)


def _answer(rendered: Rendered) -> bytes:
    try:
        return msgspec.msgpack.encode(rendered)
    except UnicodeEncodeError:  # a lone surrogate, which nothing downstream could store
        return msgspec.msgpack.encode(_failed("the rendered text holds a lone surrogate"))


def serve(config: RenderConfig, jobs: IO[bytes], answers: IO[bytes]) -> None:
    """Answer jobs until the parent closes `jobs`."""
    decode = msgspec.msgpack.Decoder(RenderJob)
    answers.write(frame(READY))
    answers.flush()
    last: tuple[dict[str, str], Compiled] | None = None
    while (payload := read_frame(jobs)) is not None:
        job = decode.decode(payload)
        if last is None or last[0] != job.templates:
            last = (job.templates, _compile(job.templates, config.limits))
        answers.write(frame(COMPILED))
        answers.flush()
        for variables in job.variables:
            answers.write(frame(_answer(render_one(last[1], variables, config))))
            answers.flush()


def main() -> None:
    config = msgspec.json.decode(sys.argv[1], type=RenderConfig)
    resource.setrlimit(resource.RLIMIT_AS, (config.memory_bytes, config.memory_bytes))
    signal.signal(signal.SIGPROF, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot break a frame
    serve(config, sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
