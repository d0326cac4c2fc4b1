"""Shared test helpers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


@pytest.fixture
def full_call() -> dict[str, Any]:
    """A call document where every field is set to a valid value."""
    return copy.deepcopy(load_fixture("configs/full_call.json"))


@pytest.fixture
def minimal_assistant() -> dict[str, Any]:
    return {"prompt": "You are a helpful agent."}
