"""Where a run's CPU went, to tell a scaling limit from a saturated machine.

Read from /proc: each process's user + system time (`/proc/<pid>/stat`), and the
machine's busy and idle time over all its cores (`/proc/stat`, the first `cpu` line).
Over a timed run this gives the CPU seconds each part used per message and how much of
the machine was busy; and, given a rate to reach, how many cores that rate needs at the
measured cost per message (docs/scaling.md, "The CPU budget"):

    cores needed = rate × (CPU seconds per message, every part of the machine's work)

A machine whose cores are all busy (`busy_share` near 1) cannot run more processes
faster, whatever they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MachineTimes",
    "Snapshot",
    "budget",
    "cores_needed",
    "machine_times",
    "postgres_server_pids",
    "process_times",
    "snapshot",
]

_IDLE_FIELDS = (3, 4)  # idle, iowait in the `cpu` line (after the label)
_COUNTED_FIELDS = 8  # user nice system idle iowait irq softirq steal (guest is in user)
SATURATED = 0.9  # busy share of every core from which the machine is taken as full


@dataclass(frozen=True)
class MachineTimes:
    """The machine's CPU seconds so far, over all cores: busy and in all."""

    busy_s: float
    total_s: float


def machine_times(stat: str | None = None) -> MachineTimes:
    """From /proc/stat (or `stat`, its text)."""
    text = stat if stat is not None else Path("/proc/stat").read_text()
    fields = [int(v) for v in text.splitlines()[0].split()[1 : 1 + _COUNTED_FIELDS]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = sum(fields[i] for i in _IDLE_FIELDS)
    return MachineTimes((sum(fields) - idle) / ticks, sum(fields) / ticks)


def postgres_server_pids() -> list[int]:
    """Every PostgreSQL server process (the postmaster, its backends of any database,
    the WAL writer, checkpointer, background writer…): their `comm` is `postgres`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                found.append(int(entry.name))
        except OSError:  # it exited meanwhile
            continue
    return found


def process_times(pids: list[int]) -> dict[int, float]:
    """Each live process's CPU seconds so far (user + system); one that exited is left
    out."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return found


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds so far of each part's processes (name -> pid -> seconds), and of the
    machine."""

    parts: dict[str, dict[int, float]]
    machine: MachineTimes


def snapshot(parts: dict[str, list[int]]) -> Snapshot:
    """The CPU seconds so far of each part's processes (name -> its pids)."""
    return Snapshot({name: process_times(pids) for name, pids in parts.items()}, machine_times())


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """A part's CPU seconds between two snapshots: each process's own difference (one
    started meanwhile counts from zero; one that exited meanwhile is lost, and shows in
    the machine's other busy time)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def budget(before: Snapshot, after: Snapshot, messages: int, cores: int) -> dict[str, object]:
    """Over the run between two snapshots: each part's CPU milliseconds per message, the
    machine's busy share of all its cores, the busy cores that were none of the parts
    (other programs), and whether the machine was saturated."""
    used = {name: _used(before.parts[name], after.parts[name]) for name in before.parts}
    busy = after.machine.busy_s - before.machine.busy_s
    total = after.machine.total_s - before.machine.total_s
    wall = total / cores if cores else 0.0
    busy_share = busy / total if total > 0 else 0.0
    ours = sum(used.values())
    return {
        "cpu_ms_per_message": {
            **{name: round(1000 * s / messages, 4) for name, s in used.items()},
            "together": round(1000 * ours / messages, 4),
            "machine (everything busy)": round(1000 * busy / messages, 4),
        },
        "cores": cores,
        "busy_cores": round(busy / wall, 2) if wall > 0 else 0.0,
        "busy_share": round(busy_share, 3),
        "other_busy_cores": round(max(0.0, busy - ours) / wall, 2) if wall > 0 else 0.0,
        "saturated": busy_share >= SATURATED,
    }


def cores_needed(rate: float, ms_per_message: float) -> float:
    """The cores a `rate` (msg/s) takes at `ms_per_message` CPU milliseconds a message."""
    return rate * ms_per_message / 1000
