"""What the peer does with a valid send, as the test scripts it per user: synchronous
refusals, throughput and pair-rate limits, the 24-hour customer service window, the
statuses posted afterwards, and slow answers."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from tests.support.whatsapp_peer.graph import GraphError, Outgoing

__all__ = ["Scripts", "Step", "StepLike", "steps", "wa_id"]

WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class Step:
    """One status webhook the peer posts for an accepted message, `delay_s` after the
    previous one was answered (or after the accept, for the first)."""

    status: str
    delay_s: float = 0.0
    error_code: int | None = None


StepLike = str | tuple[str, float] | Step


def steps(*given: StepLike) -> tuple[Step, ...]:
    out: list[Step] = []
    for step in given:
        if isinstance(step, Step):
            out.append(step)
        elif isinstance(step, tuple):
            out.append(Step(step[0], step[1]))
        else:
            out.append(Step(step))
    return tuple(out)


def wa_id(number: str) -> str:
    """The WhatsApp id of a phone number as the peer keys users: its digits."""
    return re.sub(r"[^0-9]", "", number)


@dataclass
class _Script:
    refusals: deque[int] = field(default_factory=deque)
    failure: int | None = None
    failures_left: int | None = None
    steps: tuple[Step, ...] | None = None
    before_answer: bool = False
    slow_s: float = 0.0
    slow_left: int = 0


class _Bucket:
    """Throughput per business number: `rate` messages a second, bursts up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Scripts:
    """The scripting half of the peer (WhatsAppPeer inherits it)."""

    def __init__(
        self,
        throughput_per_s: float,
        pair_interval_s: float | None,
        open_windows: bool,
        default_steps: tuple[Step, ...],
    ) -> None:
        self.pair_interval_s = pair_interval_s
        self.open_windows = open_windows
        self.default_steps = default_steps
        self._bucket = _Bucket(throughput_per_s)
        self._scripts: dict[str, _Script] = {}
        self._windows: dict[str, float | None] = {}
        self._last_accepted: dict[str, float] = {}
        self._script_lock = threading.Lock()

    @property
    def throughput_per_s(self) -> float:
        return self._bucket.rate

    @throughput_per_s.setter
    def throughput_per_s(self, rate: float) -> None:
        self._bucket = _Bucket(rate)

    def refuse(self, number: str, code: int, times: int = 1) -> None:
        """Answer the next `times` sends to `number` synchronously with Graph error `code`
        (130429, 131056, 131000, ...)."""
        with self._script_lock:
            self._script(number).refusals.extend([code] * times)

    def fail(self, number: str, code: int = 131026, times: int | None = None) -> None:
        """Accept sends to `number`, then post only a `failed` status with `code`
        (131026 undeliverable, 131047 re-engagement, 131049, ...): for the next `times`
        messages, or all when None."""
        with self._script_lock:
            script = self._script(number)
            script.failure, script.failures_left = code, times

    def statuses(self, number: str, *sequence: StepLike, before_answer: bool = False) -> None:
        """The statuses posted for messages to `number`, in this order, each `(status,
        delay_s)` after the previous one was answered: ("sent",) never delivered,
        ("sent", "read") read without delivered, ("delivered", "sent") out of order,
        ("sent", ("delivered", 2.0)) late, ("sent", "sent", "delivered") duplicated.
        With `before_answer`, the first is posted (and answered) before the send's
        HTTP answer goes out."""
        with self._script_lock:
            script = self._script(number)
            script.steps, script.before_answer = steps(*sequence), before_answer

    def slow(self, number: str, seconds: float, times: int = 1) -> None:
        """Accept the next `times` sends to `number` at once (recorded, statuses
        planned) but hold the HTTP answer `seconds`: past a client's timeout, the
        outcome it sees is unknown while the message went."""
        with self._script_lock:
            script = self._script(number)
            script.slow_s, script.slow_left = seconds, times

    def close_window(self, number: str) -> None:
        """The user of `number` has not written in 24 h: non-template messages to it are
        accepted, then fail with 131047."""
        self._windows[wa_id(number)] = None

    def user_wrote(self, number: str, at: float | None = None) -> None:
        """The user of `number` wrote at `at` (epoch seconds, default now): the customer
        service window runs 24 h from then."""
        self._windows[wa_id(number)] = time.time() if at is None else at

    def forget_scripts(self) -> None:
        """Drop every per-user script, window and pair-rate memory."""
        with self._script_lock:
            self._scripts.clear()
            self._windows.clear()
            self._last_accepted.clear()

    def _script(self, number: str) -> _Script:
        return self._scripts.setdefault(wa_id(number), _Script())

    def gate(self, outgoing: Outgoing) -> None:
        """Synchronous refusals: scripted ones, then throughput, then the pair rate."""
        with self._script_lock:
            script = self._scripts.get(outgoing.wa_id)
            if script is not None and script.refusals:
                raise GraphError(script.refusals.popleft())
        if not self._bucket.take():
            raise GraphError(130429)
        last = self._last_accepted.get(outgoing.wa_id)
        now = time.monotonic()
        if self.pair_interval_s and last is not None and now - last < self.pair_interval_s:
            raise GraphError(131056)
        self._last_accepted[outgoing.wa_id] = now

    def plan(self, outgoing: Outgoing) -> tuple[Step, ...]:
        """The statuses an accepted message gets."""
        with self._script_lock:
            script = self._scripts.get(outgoing.wa_id)
            if script is not None and script.failure is not None and script.failures_left != 0:
                if script.failures_left is not None:
                    script.failures_left -= 1
                return (Step("failed", error_code=script.failure),)
        if outgoing.type != "template" and not self._window_open(outgoing.wa_id):
            return (Step("failed", error_code=131047),)
        if script is not None and script.steps is not None:
            return script.steps
        return self.default_steps

    def answer_plan(self, user: str) -> tuple[bool, float]:
        """(post the first status before answering?, seconds to hold the answer)."""
        with self._script_lock:
            script = self._scripts.get(user)
            if script is None:
                return False, 0.0
            hold = 0.0
            if script.slow_left > 0:
                script.slow_left -= 1
                hold = script.slow_s
            return script.before_answer, hold

    def _window_open(self, user: str) -> bool:
        if user not in self._windows:
            return self.open_windows
        wrote = self._windows[user]
        return wrote is not None and time.time() - wrote < WINDOW_S
