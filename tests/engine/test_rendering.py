"""Rendering in the renderer process (issue 10, point 3): a recipient whose template runs
over its time, its memory or a value bound fails alone (30099) and the others are
rendered; a renderer that dies or hangs is replaced; the server keeps answering while a
slow template renders.

The renderer is real (a child process); so is the server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from opencomms.domain.personalization import Template
from opencomms.engine.render_process import RenderConfig, _on_alarm, render_one
from opencomms.engine.rendering import Rendered, Renderer
from opencomms.settings import SimulatorSettings, TemplateSettings
from tests.conftest import BACKENDS
from tests.support.polling import all_messages, send, wait_completed, wait_stats, wait_until
from tests.support.server import ThreadServer, account_client, running_server

MIB = 1024 * 1024
# a loop that runs for minutes, for the recipients whose `slow` is set
SLOW = "{% if slow %}{% for i in (1..100000000) %}{% assign x = i %}{% endfor %}{% endif %}"
# a string that doubles until it is gigabytes, for the recipients whose `huge` is set
HUGE = "{% if huge %}{% assign a = 'xxxxxxxxxx' %}" + "{% assign a = a | append: a %}" * 32
HUGE += "{% endif %}"
GREETING = "Hi {{ name }}"
UNBOUNDED_LOOPS = 100_000_000


def renderer_settings(**changes: Any) -> TemplateSettings:
    return TemplateSettings(**{"loop_iterations": UNBOUNDED_LOOPS, **changes})


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    running = Renderer(renderer_settings(render_timeout="200ms"))
    yield running
    await running.close()


def texts(rendered: list[Rendered]) -> list[str | None]:
    return [r.texts["text"] if r.texts is not None else None for r in rendered]


async def test_a_recipient_over_its_time_fails_alone(renderer: Renderer) -> None:
    people = [{"name": "Ana"}, {"name": "Bo", "slow": "yes"}, {"name": "Cy"}]

    rendered = await renderer.render({"text": SLOW + GREETING}, people)

    assert texts(rendered) == ["Hi Ana", None, "Hi Cy"]
    assert rendered[1].error == "rendering took over 200 ms"


class Dawdling:
    """A value whose text takes wall time but no CPU, as a renderer waiting for a core
    on a loaded machine does."""

    def __str__(self) -> str:
        time.sleep(0.5)
        return "Ana"


def test_a_recipients_time_bound_is_cpu_time_not_wall_time() -> None:
    """Half a second without the CPU, over a 200 ms bound: rendered (the machine was
    busy, the recipient cost nothing). A recipient spinning for its 200 ms of CPU still
    fails. The renderer's own timer (SIGALRM or SIGPROF) is installed here, in this
    process, as in the renderer."""
    limits = renderer_settings().limits
    config = RenderConfig(limits, timeout_ms=200, memory_bytes=512 * MIB)
    previous = {s: signal.signal(s, _on_alarm) for s in (signal.SIGALRM, signal.SIGPROF)}
    try:
        waited = render_one({"text": Template(GREETING, limits)}, {"name": Dawdling()}, config)
        spinning = render_one({"text": Template(SLOW + GREETING, limits)}, {"slow": "yes"}, config)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    assert waited == Rendered(texts={"text": "Hi Ana"})
    assert spinning.error == "rendering took over 200 ms"


async def test_a_recipient_over_the_memory_bound_fails_alone() -> None:
    """The value bound is lifted here, so only the renderer's memory bound stops it."""
    renderer = Renderer(
        renderer_settings(value_chars=10**10, render_memory_bytes=128 * MIB, render_timeout="10s")
    )
    try:
        people = [{"name": "Ana"}, {"name": "Bo", "huge": "yes"}, {"name": "Cy"}]
        rendered = await renderer.render({"text": HUGE + GREETING}, people)
        assert texts(rendered) == ["Hi Ana", None, "Hi Cy"]
        assert rendered[1].error == "rendering needed over 128 MiB"
        # the renderer is still usable
        assert texts(await renderer.render({"text": GREETING}, [{"name": "Di"}])) == ["Hi Di"]
    finally:
        await renderer.close()


async def test_a_recipient_over_the_value_bound_fails_alone(renderer: Renderer) -> None:
    people = [{"name": "Ana"}, {"name": "x" * 60_000}, {"name": "Cy"}]

    rendered = await renderer.render({"text": "Hi {{ name | append: name }}"}, people)

    assert texts(rendered)[0] == "Hi AnaAna"
    assert texts(rendered)[2] == "Hi CyCy"
    assert rendered[1].error == "append: a value over 100000 characters"


async def test_content_and_tags_are_rendered_together(renderer: Renderer) -> None:
    templates = {"text": GREETING, "tags.who": "{{ name | downcase }}"}

    rendered = await renderer.render(templates, [{"name": "Ana"}, None])

    assert [r.texts for r in rendered] == [
        {"text": "Hi Ana", "tags.who": "ana"},
        {"text": "Hi ", "tags.who": ""},
    ]


async def test_a_renderer_that_dies_is_replaced_and_only_its_recipient_fails() -> None:
    """Killed from outside (as the kernel's OOM killer would) while rendering Bo."""
    renderer = Renderer(renderer_settings(render_timeout="60s"))
    try:
        await renderer.render({"text": GREETING}, [{"name": "warm"}])
        pid = renderer_pid(renderer)
        people = [{"name": "Ana"}, {"name": "Bo", "slow": "yes"}, {"name": "Cy"}]
        signal_soon(pid, signal.SIGKILL)

        rendered = await renderer.render({"text": SLOW + GREETING}, people)

        assert texts(rendered) == ["Hi Ana", None, "Hi Cy"]
        assert "stopped the renderer" in str(rendered[1].error)
        assert renderer_pid(renderer) != pid
    finally:
        await renderer.close()


async def test_a_renderer_that_hangs_is_replaced_and_only_its_recipient_fails() -> None:
    """A renderer that stops answering (as one stuck in a long C call would, where its
    own time bound cannot interrupt it) is stopped: here it does not run at all, so
    after STALLED times the time bound and a grace (12 s)."""
    renderer = Renderer(renderer_settings(render_timeout="200ms"))
    try:
        await renderer.render({"text": GREETING}, [{"name": "warm"}])
        pid = renderer_pid(renderer)
        people = [{"name": "Ana"}, {"name": "Bo", "slow": "yes"}, {"name": "Cy"}]
        signal_soon(pid, signal.SIGSTOP)

        rendered = await renderer.render({"text": SLOW + GREETING}, people)

        assert texts(rendered) == ["Hi Ana", None, "Hi Cy"]
        assert "stopped the renderer" in str(rendered[1].error)
        assert not alive(pid)
    finally:
        await renderer.close()


async def test_a_renderer_that_does_not_run_for_a_while_fails_no_one() -> None:
    """Stopped for 2 s in the middle of a chunk, over its 200 ms bound and the grace in
    wall time, as a renderer waiting for a core on a loaded machine (or answering while
    this event loop is busy) may be: it used none of that time, so no recipient fails."""
    renderer = Renderer(renderer_settings(render_timeout="200ms"))
    try:
        await renderer.render({"text": GREETING}, [{"name": "warm"}])
        pid = renderer_pid(renderer)
        people = [{"name": str(n)} for n in range(20_000)]
        signal_soon(pid, signal.SIGSTOP, then=(2.0, signal.SIGCONT))

        rendered = await renderer.render({"text": GREETING}, people)

        assert texts(rendered) == [f"Hi {n}" for n in range(20_000)]
        assert renderer_pid(renderer) == pid
    finally:
        await renderer.close()


def renderer_pid(renderer: Renderer) -> int:
    child = renderer._child
    assert child is not None
    return child.process.pid


def alive(pid: int) -> bool:
    """Whether `pid` runs (a killed child not yet reaped is a zombie: not running)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return False


def signal_soon(pid: int, signum: int, then: tuple[float, int] | None = None) -> None:
    """Send `signum` to `pid` once it has used 50 ms of CPU more than now: in the middle
    of the slow recipient (or the chunk), whatever the machine's speed; `then`: (seconds
    later, another signal)."""

    def cpu() -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().split(") ")[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    start = cpu()

    def wait_then_signal() -> None:
        wait_until(lambda: cpu() > start + 0.05, timeout=30, interval=0.01)
        os.kill(pid, signum)
        if then is not None:
            time.sleep(then[0])
            os.kill(pid, then[1])

    threading.Thread(target=wait_then_signal, daemon=True).start()


# --- through the server, on both engines --------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def slow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A server whose renderer takes up to 2 s a recipient, and up to 96 MiB."""
    directory = tmp_path_factory.mktemp(f"rendering-{request.param}")
    with running_server(
        request.param,
        directory,
        simulator=SimulatorSettings(receipt_latency_ms=[0, 5]),
        templates=renderer_settings(
            render_timeout="2s", value_chars=10**10, render_memory_bytes=96 * MIB
        ),
    ) as running:
        yield running


@pytest.fixture
def slow_api(slow_server: ThreadServer) -> Iterator[httpx.Client]:
    with account_client(slow_server) as client:
        yield client


def phone(ending: str, **variables: str) -> dict[str, Any]:
    return {"address": f"+1415555{ending}", "channel": "PHONE", "variables": variables}


def test_recipients_over_time_or_memory_fail_alone_and_the_others_are_delivered(
    slow_api: httpx.Client,
) -> None:
    to = [
        phone("0100", name="Ana"),
        phone("0101", name="Bo", slow="yes"),
        phone("0102", name="Cy", huge="yes"),
        phone("0103", name="Di"),
    ]
    operation_id = send(slow_api, {"to": to, "content": {"text": SLOW + HUGE + GREETING}})

    wait_completed(slow_api, operation_id)
    final = wait_stats(slow_api, operation_id, read=2)

    assert final["stats"]["failed"] == 2
    by_address = {
        m["to"][0]["address"]: m for m in all_messages(slow_api, operationId=operation_id)
    }
    fetched = {
        address: slow_api.get(f"/Messages/{message['id']}").json()
        for address, message in by_address.items()
    }
    assert fetched["+14155550100"]["content"] == {"text": "Hi Ana"}
    assert fetched["+14155550103"]["content"] == {"text": "Hi Di"}
    slow, huge = fetched["+14155550101"], fetched["+14155550102"]
    assert (slow["status"], slow["error"]["code"], slow["attempts"]) == ("FAILED", 30099, [])
    assert slow["error"]["message"].endswith("rendering took over 2000 ms")
    assert (huge["status"], huge["error"]["code"], huge["attempts"]) == ("FAILED", 30099, [])
    assert huge["error"]["message"].endswith("rendering needed over 96 MiB")


def test_the_server_keeps_answering_while_a_slow_template_renders(
    slow_api: httpx.Client,
) -> None:
    """Three recipients of two seconds each: six seconds of rendering, during which the
    same server answers other requests (before, the fan-out rendered on the event loop
    and nothing was answered until its chunk was done)."""
    to = [phone(f"02{n:02d}", name=str(n), slow="yes") for n in range(3)]
    operation_id = send(slow_api, {"to": to, "content": {"text": SLOW + GREETING}})
    accepted = time.monotonic()

    answered_while_rendering: list[float] = []
    while True:
        body = slow_api.get(f"/Messages/Operations/{operation_id}").json()
        assert slow_api.get("/Messages", params={"pageSize": 1}).status_code == 200
        if body["stats"]["total"] == 3:
            break
        answered_while_rendering.append(time.monotonic() - accepted)
        time.sleep(0.05)

    assert len(answered_while_rendering) > 10
    assert max(answered_while_rendering) > 2  # answered well into the rendering
    final = wait_completed(slow_api, operation_id)
    assert final["stats"]["failed"] == 3
