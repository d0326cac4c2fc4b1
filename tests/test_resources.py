"""A call closes everything it opened: no task left running, no socket left open.

Each recorded call is replayed on the virtual clock; when the replay returns, nothing of it
may still run on the loop, and collecting garbage must find no unclosed socket or transport.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import warnings
from pathlib import Path

import pytest

from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import ReplayResult, replay

from .conftest import FIXTURES

pytestmark = pytest.mark.replay


@pytest.mark.parametrize("name", ["order_status", "max_duration", "sms_link"])
def test_a_call_leaves_no_pending_task_and_no_unclosed_socket(name: str) -> None:
    recorded = RecordedCall.load(FIXTURES / "calls" / name)
    output = Path(tempfile.mkdtemp(prefix=f"resources-{name}-"))

    async def main() -> tuple[ReplayResult, list[str]]:
        result = await replay(recorded, inline_inference=True, output_dir=output)
        await asyncio.sleep(0)  # let callbacks scheduled by the last close run
        me = asyncio.current_task()
        running = [t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done()]
        return result, running

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, running = run_virtual(main)
        gc.collect()
    assert result.call.report.end_reason is not None
    assert running == []
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
