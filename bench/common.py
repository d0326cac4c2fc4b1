"""What the benchmarks share: instant fakes, the recorded calls, memory and CPU readings, tables.

Providers are replaced by instant local fakes so that the figures measure the runtime: the
scripted LLM answers with no time to first token and no time between tokens, the recorded
HTTP services answer at once, the recorded transcripts are released as soon as the audio has
played past the speech (no STT finalisation delay), and the voice is the offline synthetic one
(a deterministic numpy signal, a few milliseconds per sentence).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agent_runtime.replay.http_server import HttpScript
from agent_runtime.replay.llm_server import LLMScript
from agent_runtime.replay.recorded_call import RecordedCall, SttScript

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "calls"
CALLS = Path(__file__).resolve().parent / "calls"
FRAME_SECONDS = 0.02

STANDALONE_FIXTURES = (
    "order_status",
    "interruption",
    "false_interruption",
    "hangup_mid_sentence",
    "end_call",
    "max_duration",
)
"""Fixtures that replay with no stand-in service besides their own (``sms_link`` and
``calendly_booking`` need the tests' Twilio and Calendly fakes). The ``sounds_*`` fixtures are
``order_status`` again with other sound settings: same caller audio, same turns."""


def instant(recorded: RecordedCall, *, stt_delay: float = 0.0) -> RecordedCall:
    """``recorded`` with every provider delay removed (LLM, HTTP) and the STT delay set."""
    llm = LLMScript(
        answers=[
            a.model_copy(update={"ttft": 0.0, "token_interval": 0.0}) for a in recorded.llm.answers
        ]
    )
    http = HttpScript(answers=[a.model_copy(update={"delay": 0.0}) for a in recorded.http.answers])
    stt = SttScript(
        utterances=[u.model_copy(update={"delay": stt_delay}) for u in recorded.stt.utterances]
    )
    return dataclasses.replace(recorded, llm=llm, http=http, stt=stt)


def load(folder: str | Path, *, stt_delay: float = 0.0) -> RecordedCall:
    """A recorded call with instant fakes."""
    return instant(RecordedCall.load(folder), stt_delay=stt_delay)


def turns_of(recorded: RecordedCall) -> list[list[int]]:
    """The caller's turns as lists of ``stt.json`` utterance indices.

    ``turns.json`` groups the stretches of speech of one turn (bench recordings with
    mid-sentence pauses); without it every transcript is a whole turn (the fixtures).
    """
    path = recorded.folder / "turns.json"
    if path.is_file():
        turns: list[list[int]] = json.loads(path.read_text())["turns"]
        return turns
    return [[i] for i in range(len(recorded.stt.utterances))]


def distinct_fixtures() -> list[Path]:
    """The standalone fixtures, one per distinct caller recording."""
    seen: set[str] = set()
    folders = []
    for name in STANDALONE_FIXTURES:
        folder = FIXTURES / name
        digest = hashlib.sha1((folder / "caller.wav").read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            folders.append(folder)
    return folders


def latency_calls() -> list[Path]:
    """The recordings the latency benchmark replays: the fixtures and ``bench/calls/pauses_*``."""
    return [*distinct_fixtures(), *sorted(CALLS.glob("pauses_*"))]


# -- CPU and memory ------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass
class Memory:
    """A memory reading, in MiB: resident, proportional (PSS) and unique (USS) set sizes."""

    rss: float = 0.0
    pss: float = 0.0
    uss: float = 0.0

    def peak(self, other: Memory) -> Memory:
        """The larger of each figure."""
        return Memory(max(self.rss, other.rss), max(self.pss, other.pss), max(self.uss, other.uss))

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss + other.rss, self.pss + other.pss, self.uss + other.uss)


def memory(pid: int | None = None) -> Memory | None:
    """The memory of ``pid`` (default: this process) from ``/proc/PID/smaps_rollup``.

    PSS divides each shared page among the processes that map it, so the PSS of all processes
    sums to the physical memory they use; USS counts only the process's private pages (what it
    would give back if it exited). Falls back to psutil (RSS, and USS where it can) elsewhere.
    """
    pid = os.getpid() if pid is None else pid
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except FileNotFoundError:
        return None  # the process has exited
    except OSError:
        return _psutil_memory(pid)
    fields: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(fields.get("Rss", 0) / 1024, fields.get("Pss", 0) / 1024, uss / 1024)


def _psutil_memory(pid: int) -> Memory | None:
    import psutil

    try:
        info = psutil.Process(pid).memory_full_info()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        basic = psutil.Process(pid).memory_info()
        return Memory(basic.rss / 2**20, basic.rss / 2**20, basic.rss / 2**20)
    mib = 2**20
    return Memory(info.rss / mib, getattr(info, "pss", info.rss) / mib, info.uss / mib)


# -- figures -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation), or None without values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None without values."""
    return statistics.fmean(values) if values else None


def ms(value: float | None) -> str:
    """Seconds as milliseconds, for a table cell."""
    return "-" if value is None else f"{value * 1000:.0f} ms"


def num(value: float | None, digits: int = 2, unit: str = "") -> str:
    """A number for a table cell."""
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def ratio(ours: float | None, bare: float | None) -> str:
    """``ours / bare`` for a table cell."""
    if ours is None or not bare:
        return "-"
    return f"{ours / bare:.2f}x"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned columns (the first left-aligned)."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def machine() -> str:
    """A one-line description of this machine, printed with the figures."""
    import platform

    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


class Stopwatch:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Elapsed wall time."""
        return time.perf_counter() - self._start
