"""``send_dtmf`` and ``skip_turn``: how the LLM gets through a phone menu.

Given to the LLM only when an outbound call reached a phone menu and the assistant has
``ivr_navigation_enabled`` (``call/answering.py``). Keys are checked (``0``-``9``, ``*``, ``#``,
``A``-``D``, ``w`` to pause) and sent paced down the line; neither tool asks for a reply, so the
agent stays silent while the menu speaks.
"""

from __future__ import annotations

from livekit.agents import llm

from agent_runtime.errors import CallEnded, TelephonyError
from agent_runtime.telephony.dtmf import check_keys

from .context import PluginContext

SEND_DTMF = """Presses keys on the phone keypad (DTMF tones), to choose in a phone menu.

keys: the keys to press, e.g. "2", or "4711#" for a number the menu asks for; 0-9, * and #
(w waits half a second between keys). Then listen: the menu answers."""

SKIP_TURN = """Stays silent for this turn: the phone menu is still talking, or there is nothing
to press yet."""


def menu_tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """The tools of phone-menu navigation."""

    async def send_dtmf(keys: str) -> llm.ToolResult:
        try:
            checked = check_keys(keys)
        except ValueError as err:
            raise llm.ToolError(f"Nothing was pressed: {err}.") from None
        try:
            await ctx.control.until_ended(ctx.telephony.send_keys(checked))
        except (TelephonyError, CallEnded):
            raise llm.ToolError("The keys could not be sent on this line.") from None
        return llm.ToolResult(f"Pressed {checked}. Listen to the menu.", reply_required=False)

    async def skip_turn() -> llm.ToolResult:
        return llm.ToolResult("You stayed silent.", reply_required=False)

    return [
        llm.function_tool(send_dtmf, name="send_dtmf", description=SEND_DTMF),
        llm.function_tool(skip_turn, name="skip_turn", description=SKIP_TURN),
    ]
