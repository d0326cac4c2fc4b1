"""The wheel ships every package, with ``plugins/`` and ``audio/`` inside ``agent_runtime``."""

from __future__ import annotations

import tomllib

from .conftest import ROOT


def test_every_package_directory_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {v: k for k, v in config["package-dir"].items()}
    found = set()
    for init in ROOT.glob("agent_runtime/**/__init__.py"):
        found.add(".".join(init.parent.relative_to(ROOT).parts))
    for top in ("plugins", "audio"):
        for init in ROOT.glob(f"{top}/**/__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            found.add(".".join([mapped[rel[0]], *rel[1:]]))
    assert found == listed
    assert "plugins" not in listed and "audio" not in listed
