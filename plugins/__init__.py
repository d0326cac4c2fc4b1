"""LLM-facing capabilities, one module per capability, each enabled only by the config.

Installed as ``agent_runtime.plugins``. Each module has ``tools(ctx) -> list`` that returns no
tool when the config does not enable the capability; ``build_tools`` gathers them in a fixed
order so the LLM always sees the same tool list for the same config.
"""

from __future__ import annotations

from livekit.agents import llm

from . import calendly, end_call, http_tools, sms, transfer
from .context import PluginContext

_PLUGINS = (end_call, transfer, sms, calendly, http_tools)


def build_tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """Every tool the config enables for this call."""
    found: list[llm.Tool | llm.Toolset] = []
    for plugin in _PLUGINS:
        found.extend(plugin.tools(ctx))
    return found
