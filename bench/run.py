"""`python -m bench` (and `make bench`): run the scenarios, print the table, save the results.

Exit status: 1 when a scenario's own correctness check failed (a fast wrong answer never
passes); with `--strict`, also when a figure missed its target.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from bench.message_cost import against_driver
from bench.message_cost import summary as cost_summary
from bench.params import Parameters
from bench.report import Result, Run, machine_info, print_table, save
from bench.scenarios import Context
from bench.scenarios.accept import run_accept_10k, run_accept_rate
from bench.scenarios.baseline import run_baseline
from bench.scenarios.connectors import run_connectors
from bench.scenarios.end_to_end import run_end_to_end
from bench.scenarios.fair_share import run_fair_share
from bench.scenarios.read_path import run_read_path
from bench.scenarios.scale_out import run_scale_out
from bench.scenarios.single_sends import run_single_sends
from bench.scenarios.smpp_jasmin import run_smpp_vs_jasmin_http
from bench.server import POSTGRES_ADMIN_URL, postgres_available

__all__ = ["OPT_IN_SCENARIOS", "SCENARIOS", "main", "run_scenarios"]

RESULTS = Path(__file__).parent / "results"
SCENARIOS = ("baseline", "accept-10k", "accept-rate", "end-to-end", "read-path", "single-sends")
# run only when named: fair-share takes ~3 min (SQLite only); smpp-vs-jasmin-http needs
# real peers (.ci/peers.sh; SQLite only); connectors runs rbm and whatsapp against their
# test peers (~3 min per engine); scale-out runs 1, 2 and 4 processes (PostgreSQL only)
OPT_IN_SCENARIOS = ("fair-share", "smpp-vs-jasmin-http", "connectors", "scale-out")


def _engine_runner(
    name: str, context: Context
) -> tuple[Callable[[Context, str], object], tuple[str, ...]]:
    params = context.params
    table: dict[str, tuple[Callable[[Context, str], object], tuple[str, ...]]] = {
        "baseline": (run_baseline, params.engines),
        "accept-10k": (run_accept_10k, params.accept_engines),
        "accept-rate": (run_accept_rate, params.accept_engines),
        "end-to-end": (run_end_to_end, params.engines),
        "read-path": (run_read_path, params.engines),
        "single-sends": (run_single_sends, params.engines),
        "fair-share": (run_fair_share, ("sqlite",)),
        "smpp-vs-jasmin-http": (run_smpp_vs_jasmin_http, ("sqlite",)),
        "connectors": (run_connectors, params.engines),
        "scale-out": (run_scale_out, ("postgresql",)),
    }
    return table[name]


def _set_ratios(run: Run, params: Parameters) -> None:
    """Each figure beside the driver's own insert rate on the same engine."""
    baselines = {
        r.engine: r.measured for r in run.results if r.scenario == "baseline" and r.measured
    }
    for result in run.results:
        limit = baselines.get(result.engine)
        cost = result.details.get("message_cost") if result.scenario == "end-to-end" else None
        if cost:  # one message's rows and CPU beside the driver's µs per row
            if limit:
                cost |= against_driver(cost, limit)
            result.ratio = cost_summary(cost)
        if not limit or result.measured is None:
            continue
        if result.scenario == "end-to-end":
            result.ratio = f"{result.measured / limit:.1%} of insert; " + result.ratio
        elif result.scenario == "accept-10k":
            insert_ms = params.accept_recipients / limit * 1000
            result.ratio = f"{result.measured / insert_ms:.1f}× a {insert_ms:.0f} ms insert"


def _unavailable(run: Run, engine: str, scenario: str) -> None:
    run.add(
        Result(
            scenario, engine, "-", "", "-",
            error=f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}",
        )
    )  # fmt: skip


def run_scenarios(
    params: Parameters, scenarios: Sequence[str], results_dir: Path | None, workdir: Path
) -> Run:
    """Run `scenarios` (in the order of SCENARIOS); save to `results_dir` when given."""
    started = time.monotonic()
    run = Run(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), machine_info(), asdict(params))
    context = Context(run, params, workdir)
    postgres = "postgresql" in params.engines and postgres_available()
    for name in (s for s in SCENARIOS + OPT_IN_SCENARIOS if s in scenarios):
        runner, engines = _engine_runner(name, context)
        for engine in engines:
            print(f"== {name} on {engine}", flush=True)
            if engine == "postgresql" and not postgres:
                _unavailable(run, engine, name)
                continue
            runner(context, engine)
    run.duration_s = time.monotonic() - started
    run.machine["uptime_after"] = machine_info()["uptime"]
    _set_ratios(run, params)
    if results_dir is not None:
        for kind, path in save(run, results_dir).items():
            print(f"{kind}: {path}")
    return run


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scenarios", nargs="+", choices=SCENARIOS + OPT_IN_SCENARIOS, default=list(SCENARIOS)
    )
    parser.add_argument(
        "--engines", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the harness")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to save results")
    parser.add_argument("--strict", action="store_true", help="a missed target also fails")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--single-seconds", type=float, help="single-sends: seconds at each rate (60; smoke 1)"
    )
    parser.add_argument(
        "--single-rates",
        type=float,
        nargs="+",
        help="single-sends: the offered rates, POSTs a second (0: the maximum);"
        " default 500 1000 2000 0",
    )
    parser.add_argument(
        "--connectors", nargs="+", default=[], help="connectors scenario: only these peers"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    params = (Parameters.smoke() if args.smoke else Parameters()).with_engines(tuple(args.engines))
    params = replace(params, connectors_peers=tuple(args.connectors))
    if args.single_seconds:
        params = replace(params, single_seconds=args.single_seconds)
    if args.single_rates:
        params = replace(params, single_rates=tuple(args.single_rates))
    workdir = Path(tempfile.mkdtemp(prefix="opencomms-bench-"))
    print(f"opencomms bench: {', '.join(args.scenarios)} on {', '.join(args.engines)}")
    print(f"machine: {machine_info()['uptime']} (working directory {workdir})", flush=True)
    try:
        run = run_scenarios(params, args.scenarios, args.results, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(run)
    print(
        f"\n{len(run.results)} results in {run.duration_s:.0f} s; load {machine_info()['uptime']}"
    )
    failed = [r for r in run.results if r.error is not None]
    missed = [r for r in run.results if r.error is None and not r.met]
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
