"""The smpp-vs-jasmin-http benchmark at a tiny size: its three halves (Jasmin's HTTP API,
opencomms through Jasmin, opencomms straight to the SMSC) run against fresh chains and
their own checks hold (every recipient at the SMSC once, every Message DELIVERED on its
own provider id). Speed is not asserted here."""

from __future__ import annotations

from pathlib import Path

from bench.params import Parameters
from bench.run import run_scenarios

from tests.support.jasmin import JasminPeer


def test_the_scenario_checks_itself(jasmin: JasminPeer, tmp_path: Path) -> None:
    # `jasmin` only for its skip-or-fail rule: the scenario starts chains of its own
    params = Parameters.smoke().with_engines(("sqlite",))
    run = run_scenarios(params, ["smpp-vs-jasmin-http"], tmp_path / "results", tmp_path / "work")
    failures = [f"{r.metric}: {r.error}" for r in run.results if r.error]
    assert not failures, "\n".join(failures)
    assert len(run.results) == 5
    assert all(r.measured and r.measured > 0 for r in run.results), run.results
    assert all(r.ratio.endswith("× the HTTP API") for r in run.results[1:]), run.results
    direct = run.results[3].details
    assert direct["sent_s"] > 0
    assert set(direct["cpu_share_of_a_core"]) == {"smsc", "jasmind", "opencomms"}
