"""The worker's load: the share of its capacity in use.

LiveKit stops sending calls to a worker whose load reaches its threshold. The framework's
default load is the CPU share averaged over 2.5 s: it lags a burst of new calls, and a new
call costs almost nothing until it talks, so a worker can accept many calls at once and only
then find it cannot serve them. Here the load is the larger of two shares:

- calls: the active jobs over the calls the worker can hold (``calls_per_core``, measured by
  ``python -m bench.capacity``, times the usable cores), so the worker is full at its
  measured capacity from the moment it accepts the calls;
- CPU: the CPU time of the worker's cgroup (or of the machine) over the last 2.5 s, over
  ``cpu_limit``: a safety net for CPU the calls do not account for.

Either reaching 1 makes the worker full (``LOAD_THRESHOLD``). Wire it into the server with
``AgentServer(load_fnc=WorkerLoad.from_settings(settings), load_threshold=LOAD_THRESHOLD)``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from livekit.agents import AgentServer
from pydantic import Field

from ..errors import Problem, SettingsError
from ..settings import EnvModel

DEFAULT_CALLS_PER_CORE = 4.0
"""Concurrent calls per core the worker takes: ``python -m bench.capacity`` measured 5 on an
idle 2-core machine (answer p95 under 1 s, no audible gap; docs/performance.md, figure 8), with
instant providers; a fifth is kept for what it does not run (the providers' clients, the
after-call steps)."""
DEFAULT_CPU_LIMIT = 0.85
"""CPU share of the usable cores at which the worker takes no more calls, whatever their count."""
LOAD_THRESHOLD = 1.0 - 1e-6
"""The load at which the worker is full: 1, less a margin for rounding (the framework adds an
estimate per reserved job to the load, and k/n + (n - k) * (k/n)/k can fall short of 1)."""
CPU_WINDOW = 2.5
"""Seconds of CPU time averaged (the framework's default load averages the same span)."""

CGROUP = Path("/sys/fs/cgroup")
PROC_STAT = Path("/proc/stat")


class LoadSettings(EnvModel):
    """What the worker's load is measured against.

    ``AGENT_CALLS_PER_CORE`` (concurrent calls per usable core) and ``AGENT_CPU_LIMIT`` (the
    CPU share of the usable cores at which the worker is full).
    """

    calls_per_core: float = Field(DEFAULT_CALLS_PER_CORE, gt=0, alias="AGENT_CALLS_PER_CORE")
    cpu_limit: float = Field(DEFAULT_CPU_LIMIT, gt=0, alias="AGENT_CPU_LIMIT")
    """Above 1, the CPU never makes the worker full (a worker alone on its machine, tests)."""


# -- usable cores --------------------------------------------------------------------------------


def cgroup_quota(cgroup: Path = CGROUP) -> float | None:
    """Cores the cgroup's CPU quota allows, or None when it sets none.

    cgroup v2: ``cpu.max`` holds ``"<quota> <period>"`` in microseconds, ``max`` for none;
    cgroup v1: ``cpu/cpu.cfs_quota_us`` (-1 for none) over ``cpu/cpu.cfs_period_us``.
    """
    v2 = cgroup / "cpu.max"
    if v2.is_file():
        fields = v2.read_text().split()
        if not fields or fields[0] == "max":
            return None
        return _quota(fields[0], fields[1] if len(fields) > 1 else "100000", v2)
    v1 = cgroup / "cpu" / "cpu.cfs_quota_us"
    if v1.is_file():
        quota = v1.read_text().strip()
        if quota.startswith("-"):
            return None
        return _quota(quota, (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip(), v1)
    return None


def _quota(quota: str, period: str, path: Path) -> float:
    if not (quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period) > 0):
        raise ValueError(f"{path}: a CPU quota of {quota!r} per {period!r} us is not usable")
    return int(quota) / int(period)


def usable_cores(cgroup: Path = CGROUP, granted: str | None = None) -> float:
    """Cores this process may use: the CPUs it may run on, capped by its cgroup's quota.

    Also capped by ``NUM_CPUS`` (the framework's setting: a pod's CPU request, when it has no
    CPU limit); ``granted`` stands for it in tests.
    """
    cpus = float(len(os.sched_getaffinity(0)))
    quota = cgroup_quota(cgroup)
    usable = cpus if quota is None else min(cpus, quota)
    granted = os.environ.get("NUM_CPUS") if granted is None else granted
    if granted:
        try:
            usable = min(usable, max(float(granted), 0.01))
        except ValueError:
            raise SettingsError([Problem("NUM_CPUS", "must be a number of cores")]) from None
    return usable


# -- CPU time ------------------------------------------------------------------------------------

CounterKind = Literal["cgroup2", "cgroup1", "proc"]


@dataclass(frozen=True)
class CpuCounter:
    """A cumulative CPU-time counter: the cgroup's (v2 or v1), else the machine's."""

    path: Path
    kind: CounterKind

    def seconds(self) -> float:
        """CPU seconds used so far, all CPUs together."""
        text = self.path.read_text()
        if self.kind == "cgroup2":  # cpu.stat: "usage_usec N" among other lines
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name == "usage_usec":
                    return int(value) / 1e6
            raise ValueError(f"{self.path}: no usage_usec line")
        if self.kind == "cgroup1":  # cpuacct.usage: nanoseconds
            return int(text) / 1e9
        # /proc/stat's first line: "cpu user nice system idle iowait irq softirq steal ..."
        ticks = [int(v) for v in text.split("\n", 1)[0].split()[1:]]
        busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # idle and iowait are not work
        return busy / os.sysconf("SC_CLK_TCK")


def cpu_counter(cgroup: Path = CGROUP, proc_stat: Path = PROC_STAT) -> tuple[CpuCounter, bool]:
    """The worker's CPU counter, and whether it counts the cgroup (else the whole machine)."""
    if (cgroup / "cpu.stat").is_file() and "usage_usec" in (cgroup / "cpu.stat").read_text():
        return CpuCounter(cgroup / "cpu.stat", "cgroup2"), True
    if (cgroup / "cpuacct" / "cpuacct.usage").is_file():
        return CpuCounter(cgroup / "cpuacct" / "cpuacct.usage", "cgroup1"), True
    return CpuCounter(proc_stat, "proc"), False


class CpuShare:
    """The share of ``cores`` a cumulative CPU counter used over the last ``window`` seconds."""

    def __init__(self, cores: float, window: float = CPU_WINDOW) -> None:
        self._cores = cores
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, cpu_seconds: float) -> float:
        """Record the counter at ``now`` (monotonic seconds); the share since then.

        The share is measured from the oldest sample within the window (0 until there are
        two samples).
        """
        self._samples.append((now, cpu_seconds))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        then, used = self._samples[0]
        if now <= then:
            return 0.0
        return max(cpu_seconds - used, 0.0) / ((now - then) * self._cores)


# -- the load ------------------------------------------------------------------------------------


class WorkerLoad:
    """The ``load_fnc`` of the agent server; 1 (``LOAD_THRESHOLD``) is full.

    The larger of the calls' share of the worker's capacity and the CPU share over its limit,
    at most 1.
    """

    def __init__(
        self,
        *,
        calls_per_core: float = DEFAULT_CALLS_PER_CORE,
        cpu_limit: float = DEFAULT_CPU_LIMIT,
        cgroup: Path = CGROUP,
        proc_stat: Path = PROC_STAT,
    ) -> None:
        cores = usable_cores(cgroup)
        self.max_calls = max(1, math.floor(calls_per_core * cores))
        """Calls the worker holds at once: ``calls_per_core`` times the usable cores."""
        self.cpu_limit = cpu_limit
        self._counter, in_cgroup = cpu_counter(cgroup, proc_stat)
        # the machine's counter spreads its time over every CPU, not only the usable ones
        self._cpu = CpuShare(cores if in_cgroup else float(os.cpu_count() or 1))
        self._lock = threading.Lock()  # the framework may call from two threads at once

    @classmethod
    def from_settings(cls, settings: LoadSettings) -> WorkerLoad:
        """The load of this machine, measured against ``settings``."""
        return cls(calls_per_core=settings.calls_per_core, cpu_limit=settings.cpu_limit)

    def __call__(self, server: AgentServer) -> float:
        """The load now.

        The framework calls this every 0.5 s and before each availability answer, in
        executor threads.
        """
        calls = len(server.active_jobs) / self.max_calls
        with self._lock:
            cpu = self._cpu.add(time.monotonic(), self._counter.seconds())
        return min(max(calls, cpu / self.cpu_limit), 1.0)  # LiveKit's range, as the default's
