"""``end_call``: the LLM hangs up when the conversation is over.

With ``end_of_call_sentence`` set, that sentence is spoken exactly and to the end (it cannot be
interrupted), then the call is hung up: ``ended_by`` agent, ``end_reason`` tool_end_call.
"""

from __future__ import annotations

from livekit.agents import RunContext, llm

from .context import PluginContext

DESCRIPTION = """Ends the call and hangs up.

Call it when the conversation is over: the person said goodbye, or has nothing more to ask.
Do not call it when they ask to hold, to be transferred, or when their intent is unclear."""

WITH_SENTENCE = """
A closing sentence is spoken for you when you call this tool: do not say goodbye yourself."""


def tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """The end_call tool (every call can end)."""
    farewell = ctx.spec.end_of_call_sentence or None

    async def end_call(run: RunContext) -> llm.ToolResult:
        ctx.control.end_after(run.speech_handle, farewell=farewell)
        return llm.ToolResult("The call is ending.", reply_required=False)

    description = DESCRIPTION + (WITH_SENTENCE if farewell else "")
    return [llm.function_tool(end_call, name="end_call", description=description)]
