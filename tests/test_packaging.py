"""The wheel ships every package, with ``plugins/`` and ``audio/`` inside ``agent_runtime``."""

from __future__ import annotations

import tomllib

from .conftest import ROOT


def test_every_package_directory_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.glob("agent_runtime/**/__init__.py")
    }
    for linked in ("plugins", "audio"):  # glob does not follow the symlinks
        found |= {
            ".".join(("agent_runtime", *init.parent.relative_to(ROOT).parts))
            for init in ROOT.glob(f"{linked}/**/__init__.py")
        }
    assert found == listed
    assert "agent_runtime.plugins" in listed and "agent_runtime.audio" in listed
    # plugins/ and audio/ are the package's own folders, reached through symlinks
    assert (ROOT / "agent_runtime/plugins").resolve() == ROOT / "plugins"
    assert (ROOT / "agent_runtime/audio").resolve() == ROOT / "audio"
