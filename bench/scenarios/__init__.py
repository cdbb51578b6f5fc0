"""The scenarios of issue 5, one module each; this module holds what they share."""

from __future__ import annotations

import itertools
import math
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.api import BenchFailure
from bench.params import Parameters
from bench.report import Result, Run, load_now

__all__ = ["Context", "check", "checked", "percentile"]


@dataclass
class Context:
    run: Run
    params: Parameters
    workdir: Path
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def directory(self, name: str) -> Path:
        """A new, empty working directory for one server run."""
        path = self.workdir / f"{next(self._counter):02d}-{name}"
        path.mkdir(parents=True)
        return path


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def check(condition: bool, message: str) -> None:
    """A scenario's correctness check: a fast wrong answer must not pass."""
    if not condition:
        raise BenchFailure(message)


@contextmanager
def checked(run: Run, *results: Result) -> Iterator[None]:
    """Run a scenario's body: a failed check or a broken run marks its results failed
    (and is printed), without stopping the other scenarios."""
    try:
        yield
    except BenchFailure as failure:
        _fail(results, f"check failed: {failure}")
    except Exception as error:  # a broken run is a failure too, never a silent pass
        traceback.print_exc()
        _fail(results, f"{type(error).__name__}: {error}")
    finally:
        for result in results:
            result.load = load_now()
            if result not in run.results:
                run.add(result)


def _fail(results: Sequence[Result], message: str) -> None:
    print(f"  FAILED: {message}", flush=True)
    for result in results:
        result.error = message
