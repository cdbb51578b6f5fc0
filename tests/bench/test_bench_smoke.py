"""The benchmark harness at a tiny size: every scenario runs against a real server and its
own correctness checks hold. Speed is not asserted here (`make bench` measures it); what
CI keeps is a harness that still runs and still catches a wrong answer."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from bench.params import Parameters
from bench.report import Run
from bench.run import SCENARIOS, run_scenarios
from bench.scenarios.connector_peers import PEERS

from tests.support.databases import require_postgres

# how many figures each scenario reports for one engine
EXPECTED = {
    "baseline": 1,
    "accept-10k": 1,
    "accept-rate": 1,
    "end-to-end": 2,  # with and without the sink
    "memory": 1,
    "read-path": 2,  # the operation GET and the page
    "single-sends": len(Parameters.smoke().single_rates) + 1,  # each rate, and idle
}


def _smoke(engine: str, directory: Path) -> Run:
    params = Parameters.smoke().with_engines((engine,))
    return run_scenarios(params, SCENARIOS, directory / "results", directory / "work")


def _assert_sound(run: Run, engine: str, directory: Path) -> None:
    failures = [f"{r.scenario}/{r.metric}: {r.error}" for r in run.results if r.error]
    assert not failures, "\n".join(failures)
    counts: dict[str, int] = {}
    for result in run.results:
        assert result.engine == engine
        assert result.measured is not None and result.measured > 0, result
        counts[result.scenario] = counts.get(result.scenario, 0) + 1
    assert counts == EXPECTED
    saved = json.loads((directory / "results" / "latest.json").read_text())
    assert len(saved["results"]) == len(run.results)
    assert saved["progress"][engine], "the end-to-end progress was not recorded"
    if importlib.util.find_spec("matplotlib") is not None:
        assert (directory / "results" / "latest-end-to-end.png").stat().st_size > 0
        assert (directory / "results" / "latest-single-sends.png").stat().st_size > 0
    _assert_single_sends(run)
    _assert_message_cost(run)


def _assert_message_cost(run: Run) -> None:
    """Each end-to-end run reports what one message cost: at least its Message row
    written, some server CPU, and both beside the driver's own µs per row."""
    for result in (r for r in run.results if r.scenario == "end-to-end"):
        cost = result.details["message_cost"]
        assert cost["rows_per_message_by_table"]["messages"] >= 1, cost
        assert cost["server_cpu_us_per_message"] > 0, cost
        assert cost["driver_us_per_row"] > 0 and cost["cpu_in_driver_rows"] > 0, cost
        assert "µs CPU (driver" in result.ratio, result.ratio


def _assert_single_sends(run: Run) -> None:
    """Each rate's run reports its figures and a backlog that starts and ends empty."""
    at_rates = [r for r in run.results if r.scenario == "single-sends" and "rate" in r.details]
    assert [r.details["rate"] for r in at_rates] == list(Parameters.smoke().single_rates)
    for result in at_rates:
        details = result.details
        assert details["accepted"] > 0 and details["completed_rps"] > 0, details
        assert set(details["post_to_sent_ms"]) == {"p50", "p95", "p99"}
        backlog = details["backlog"]
        assert backlog[0][0] == 0 and tuple(backlog[-1][1:]) == (0, 0), backlog


def test_every_scenario_checks_itself_on_sqlite(tmp_path: Path) -> None:
    run = _smoke("sqlite", tmp_path)
    _assert_sound(run, "sqlite", tmp_path)


@pytest.mark.postgres
def test_every_scenario_checks_itself_on_postgresql(tmp_path: Path) -> None:
    require_postgres()
    run = _smoke("postgresql", tmp_path)
    _assert_sound(run, "postgresql", tmp_path)


def test_fair_share_checks_itself(tmp_path: Path) -> None:
    # opt-in (minutes at full size): at a tiny size, both runs and their checks hold
    params = Parameters.smoke().with_engines(("sqlite",))
    run = run_scenarios(params, ["fair-share"], tmp_path / "results", tmp_path / "work")
    failures = [f"{r.metric}: {r.error}" for r in run.results if r.error]
    assert not failures, "\n".join(failures)
    assert len(run.results) == 3
    assert all(r.measured is not None and r.measured > 0 for r in run.results), run.results
    for result in run.results[:2]:
        singles = result.details["singles"]
        assert len(singles) == params.fair_singles
        assert all(s["campaign_queued_at_post"] > 0 for s in singles[:1]), singles


def _connectors(engine: str, directory: Path) -> Run:
    # opt-in (each connector against its test peer): at a tiny size, both halves of both
    # connectors run and their checks hold (rbm, whatsapp, twilio)
    params = Parameters.smoke().with_engines((engine,))
    return run_scenarios(params, ["connectors"], directory / "results", directory / "work")


def _assert_connectors_sound(run: Run, engine: str) -> None:
    failures = [f"{r.metric}: {r.error}" for r in run.results if r.error]
    assert not failures, "\n".join(failures)
    metrics = [r.metric.split(":")[0] for r in run.results]
    assert metrics == [
        "rbm peer alone", "opencomms → rbm peer", "opencomms → rbm peer",
        "whatsapp peer alone", "opencomms → whatsapp peer", "opencomms → whatsapp peer",
        "twilio peer alone", "opencomms → twilio peer", "opencomms → twilio peer",
    ]  # fmt: skip
    accepted = [str(PEERS[name].accepted_status) for name in PEERS for _ in range(3)]
    for result, ok in zip(run.results, accepted, strict=True):
        assert result.engine == engine
        assert result.measured is not None and result.measured > 0, result
        details = result.details
        assert details["messages"] == Parameters.smoke().connectors_recipients
        assert details["peer_alone_answers"] == {ok: details["messages"]}
        assert details["webhooks"]["pending"] == details["webhooks"]["failed"] == 0
        assert details["connector_throughput"] == 0  # the cap lifted, as reported
    for result in run.results[1::3] + run.results[2::3]:
        assert result.ratio.endswith("× the peer alone"), result.ratio


def test_connectors_check_themselves_on_sqlite(tmp_path: Path) -> None:
    _assert_connectors_sound(_connectors("sqlite", tmp_path), "sqlite")


@pytest.mark.postgres
def test_connectors_check_themselves_on_postgresql(tmp_path: Path) -> None:
    require_postgres()
    _assert_connectors_sound(_connectors("postgresql", tmp_path), "postgresql")


@pytest.mark.postgres
def test_scale_out_checks_itself(tmp_path: Path) -> None:
    # opt-in (1, 2 and 4 processes at full size): at a tiny size, `serve --workers 2` and a
    # single process both complete the workload and pass every check
    require_postgres()
    params = Parameters.smoke().with_engines(("postgresql",))
    run = run_scenarios(params, ["scale-out"], tmp_path / "results", tmp_path / "work")
    failures = [f"{r.metric}: {r.error}" for r in run.results if r.error]
    assert not failures, "\n".join(failures)
    assert [r.details["processes"] for r in run.results] == [1, 2]
    for result in run.results:
        assert result.engine == "postgresql"
        assert result.measured is not None and result.measured > 0, result
        details = result.details
        messages = params.scale_operations * params.scale_recipients
        assert details["messages"] == details["submits"] == messages
        assert len(details["cpu_share_of_a_core"]["opencomms"]) == details["processes"]
        spent = details["cpu_budget"]["cpu_ms_per_message"]
        assert spent["opencomms"] > 0 and spent["postgresql"] > 0, spent
        assert spent["machine (everything busy)"] > 0
        assert 0 < details["cpu_budget"]["busy_share"] <= 1
    assert run.results[1].ratio.endswith("× 1 process"), run.results[1].ratio
