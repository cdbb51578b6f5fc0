"""The scale-out report's CPU budget (bench/cpu_budget.py): the machine's busy time read
from /proc/stat, each process's from /proc/<pid>/stat, and what a run's figures come to
per message and in cores."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu_budget import (
    MachineTimes,
    Snapshot,
    budget,
    cores_needed,
    machine_times,
    process_times,
)

# the first lines of a real /proc/stat: user nice system idle iowait irq softirq steal
# guest guest_nice, in ticks
STAT = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"


def test_the_machine_is_busy_for_all_but_idle_and_iowait() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    times = machine_times(STAT)
    assert times == MachineTimes(150 / ticks, 1000 / ticks)
    live = machine_times()
    assert 0 < live.busy_s < live.total_s


def test_a_process_cpu_grows_as_it_works_and_an_exited_one_is_left_out() -> None:
    before = process_times([os.getpid()])[os.getpid()]
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU
        pass
    assert process_times([os.getpid()])[os.getpid()] >= before + 0.2
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert process_times([int(gone.stdout)]) == {}


def test_a_budget_is_per_message_and_in_cores_of_the_run() -> None:
    # two cores for 2 s: 4 CPU seconds in all, 3.5 of them busy; the server 2 s, the
    # database 1 s of an old backend and 0.5 s of one started during the run
    before = Snapshot({"server": {1: 1.0}, "db": {2: 0.5}}, MachineTimes(10.0, 40.0))
    after = Snapshot({"server": {1: 3.0}, "db": {2: 1.5, 3: 0.5}}, MachineTimes(13.5, 44.0))

    spent = budget(before, after, messages=1_000, cores=2)

    assert spent["cpu_ms_per_message"] == {
        "server": 2.0, "db": 1.5, "together": 3.5, "machine (everything busy)": 3.5,
    }  # fmt: skip
    assert (spent["busy_cores"], spent["busy_share"], spent["other_busy_cores"]) == (
        1.75,
        0.875,
        0.0,
    )
    assert spent["saturated"] is False
    # 1,000 msg/s at 3.5 ms a message: 3.5 cores, more than the 2 of that machine
    assert cores_needed(1_000, 3.5) == 3.5
