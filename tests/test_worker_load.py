"""The worker's load: usable cores from cgroup files, CPU counters, and the load a real
``AgentServer`` computes with it as calls arrive.

The cgroup and ``/proc/stat`` files are written to a temporary directory in the kernel's
formats, so the real parsing runs; the server is the framework's, run unregistered with
thread jobs that hold their call until the test lets them end.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit.agents import AgentServer, JobContext, JobExecutorType

from agent_runtime.errors import SettingsError
from agent_runtime.worker.load import (
    DEFAULT_CALLS_PER_CORE,
    LOAD_THRESHOLD,
    CpuCounter,
    CpuShare,
    LoadSettings,
    WorkerLoad,
    cgroup_quota,
    cpu_counter,
    usable_cores,
)

CPUS = len(os.sched_getaffinity(0))


def cgroup_v2(root: Path, cpu_max: str, usage_usec: int = 0) -> Path:
    (root / "cpu.max").write_text(cpu_max + "\n")
    (root / "cpu.stat").write_text(
        f"usage_usec {usage_usec}\nuser_usec {usage_usec // 2}\nsystem_usec {usage_usec // 2}\n"
        "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
    )
    return root


# -- usable cores --------------------------------------------------------------------------------


def test_cgroup_v2_quota_is_quota_over_period(tmp_path: Path) -> None:
    assert cgroup_quota(cgroup_v2(tmp_path, "150000 100000")) == 1.5


def test_cgroup_v2_without_a_quota_sets_none(tmp_path: Path) -> None:
    assert cgroup_quota(cgroup_v2(tmp_path, "max 100000")) is None


def test_cgroup_v1_quota_and_its_absence(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("250000\n")
    assert cgroup_quota(tmp_path) == 2.5
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_quota(tmp_path) is None


def test_no_cgroup_files_mean_no_quota(tmp_path: Path) -> None:
    assert cgroup_quota(tmp_path) is None
    assert usable_cores(tmp_path) == CPUS


@pytest.mark.parametrize("cpu_max", ["0 100000", "100000 0", "lots 100000", "1.5 1"])
def test_an_unusable_quota_is_an_error_naming_the_file(tmp_path: Path, cpu_max: str) -> None:
    with pytest.raises(ValueError, match=r"cpu\.max: a CPU quota of '.+' per '.+' us"):
        cgroup_quota(cgroup_v2(tmp_path, cpu_max))


def test_usable_cores_are_the_affinity_capped_by_the_quota(tmp_path: Path) -> None:
    assert usable_cores(cgroup_v2(tmp_path, "50000 100000")) == 0.5
    assert usable_cores(cgroup_v2(tmp_path, f"{(CPUS + 3) * 100000} 100000")) == CPUS


def test_num_cpus_caps_the_usable_cores_of_a_pod_without_a_cpu_limit(tmp_path: Path) -> None:
    assert usable_cores(tmp_path, granted="0.5") == 0.5  # requests.cpu: 500m
    assert usable_cores(tmp_path, granted=str(CPUS + 8)) == CPUS
    with pytest.raises(SettingsError, match="NUM_CPUS: must be a number of cores"):
        usable_cores(tmp_path, granted="two")


# -- CPU time ------------------------------------------------------------------------------------


def test_cgroup_v2_counter_reads_usage_usec(tmp_path: Path) -> None:
    counter, in_cgroup = cpu_counter(cgroup_v2(tmp_path, "max", usage_usec=12_345_678))
    assert (counter.kind, in_cgroup) == ("cgroup2", True)
    assert counter.seconds() == pytest.approx(12.345678)


def test_cgroup_v1_counter_reads_cpuacct_nanoseconds(tmp_path: Path) -> None:
    (tmp_path / "cpuacct").mkdir()
    (tmp_path / "cpuacct" / "cpuacct.usage").write_text("2500000000\n")
    counter, in_cgroup = cpu_counter(tmp_path)
    assert (counter.kind, in_cgroup) == ("cgroup1", True)
    assert counter.seconds() == 2.5


def test_without_a_cgroup_the_machine_counter_counts_busy_ticks(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 20 30 5000 400 5 6 7 0 0\ncpu0 50 10 15 2500 200 2 3 3 0 0\n")
    counter, in_cgroup = cpu_counter(tmp_path / "no-cgroup", stat)
    assert (counter.kind, in_cgroup) == ("proc", False)
    assert counter.seconds() == pytest.approx(168 / os.sysconf("SC_CLK_TCK"))


def test_a_cpu_stat_without_usage_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cpu.stat").write_text("nr_periods 0\n")
    with pytest.raises(ValueError, match="no usage_usec line"):
        CpuCounter(tmp_path / "cpu.stat", "cgroup2").seconds()


def test_cpu_share_is_the_cpu_used_over_the_window_per_core() -> None:
    share = CpuShare(cores=2, window=2.5)
    assert share.add(0.0, 10.0) == 0.0  # one sample: nothing to compare yet
    assert share.add(0.5, 10.5) == pytest.approx(0.5)  # 0.5 s of CPU in 0.5 s on 2 cores
    assert share.add(1.0, 12.0) == pytest.approx(1.0)  # 2 s in 1 s
    assert share.add(3.0, 12.0) == pytest.approx(1.5 / 2.5 / 2)  # since 0.5: 1.5 s in 2.5 s
    assert share.add(6.0, 12.0) == 0.0  # idle for more than the window


# -- settings ------------------------------------------------------------------------------------


def test_settings_default_to_the_measured_capacity() -> None:
    settings = LoadSettings.from_env({})
    assert settings.calls_per_core == DEFAULT_CALLS_PER_CORE


def test_settings_name_a_bad_variable() -> None:
    with pytest.raises(SettingsError, match="AGENT_CALLS_PER_CORE"):
        LoadSettings.from_env({"AGENT_CALLS_PER_CORE": "0"})
    with pytest.raises(SettingsError, match="AGENT_CPU_LIMIT"):
        LoadSettings.from_env({"AGENT_CPU_LIMIT": "0"})


def test_capacity_is_calls_per_core_times_usable_cores(tmp_path: Path) -> None:
    cgroup = cgroup_v2(tmp_path, "150000 100000")  # 1.5 cores (the test machine has >= 1)
    cores = min(CPUS, 1.5)
    assert WorkerLoad(calls_per_core=4, cgroup=cgroup).max_calls == int(4 * cores)
    assert WorkerLoad(calls_per_core=0.1, cgroup=cgroup).max_calls == 1


# -- on a real agent server ----------------------------------------------------------------------


class HeldCalls:
    """Jobs that run until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    async def entrypoint(self, ctx: JobContext) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[AgentServer, WorkerLoad, HeldCalls]]:
    """An unregistered agent server with the load on 1 core whose CPU counter stands still."""
    load = WorkerLoad(calls_per_core=3, cgroup=cgroup_v2(tmp_path, "100000 100000", 5_000_000))
    server = AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=0,
        port=0,
        load_fnc=load,
        load_threshold=LOAD_THRESHOLD,
    )
    calls = HeldCalls()
    server.rtc_session(calls.entrypoint, agent_name="load-test")
    task = asyncio.create_task(server.run(devmode=True, unregistered=True))
    try:
        yield server, load, calls
    finally:
        calls.release.set()
        await server.aclose()
        await task


async def start_call(server: AgentServer, count: int) -> None:
    """Start call number ``count`` (the framework's job is running when this returns)."""
    await server.simulate_job(f"room-{count}", fake_job=True)
    assert len(server.active_jobs) == count


async def available(server: AgentServer) -> bool:
    """The framework's answer to a job request: it refreshes the load, then checks it."""
    await server._refresh_worker_load()
    return server._is_available()


async def test_the_worker_is_full_at_its_capacity_before_cpu_rises(
    running: tuple[AgentServer, WorkerLoad, HeldCalls],
) -> None:
    server, load, _ = running
    assert load.max_calls == 3
    seen = []
    for count in range(1, 4):
        await start_call(server, count)
        seen.append((len(server.active_jobs), load(server), await available(server)))
    assert seen == [
        (1, pytest.approx(1 / 3), True),
        (2, pytest.approx(2 / 3), True),
        (3, 1.0, False),
    ]


async def test_a_reserved_call_counts_so_the_last_slot_is_taken_once(
    running: tuple[AgentServer, WorkerLoad, HeldCalls],
) -> None:
    server, _, _ = running
    await start_call(server, 1)
    await start_call(server, 2)
    assert await available(server)
    server._reserved_slots += 1  # accepted, not yet launched: as the framework does on accept
    assert not server._is_available()


async def test_cpu_over_its_limit_makes_the_worker_full_without_calls(
    running: tuple[AgentServer, WorkerLoad, HeldCalls], tmp_path: Path
) -> None:
    server, load, _ = running
    assert load(server) == 0.0  # the counter has not moved
    assert await available(server)
    # the cgroup's counter jumps by far more CPU than one core gives in the time since
    cgroup_v2(tmp_path, "100000 100000", usage_usec=5_000_000 + 100_000_000)
    assert load(server) == 1.0  # at most 1, the range of the framework's own load
    assert not await available(server)
