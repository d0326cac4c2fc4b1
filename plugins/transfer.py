"""``transfer_to_human``: hand the call over to a person (``transfer_phone_number``).

Offered only when the assistant has a transfer number. The agent's short transfer line is
played (uninterruptible), then:

- cold (``human_transfer_mode`` cold): the call is handed over with a SIP REFER to the number,
  and the agent's part ends (``ended_by`` agent, ``end_reason`` transfer). A transfer that does
  not go through is a tool error in words the LLM passes on to the caller, and the
  conversation goes on.
- warm: the caller is put on hold while the agent calls the number and briefs the colleague
  (``call/warm_transfer.py``); the tool returns at once, and the call either connects the
  caller to the colleague or comes back to the caller.
"""

from __future__ import annotations

from livekit.agents import RunContext, llm

from agent_runtime.errors import TransferFailed

from .context import PluginContext

DESCRIPTION = """Transfers the call to a human colleague.

Use it when the person asks to speak to a human, or when you cannot help them any further.
Tell them in a few words that you are transferring them, then call this tool: a short hold
message is played for you. If the transfer does not go through you are told why: tell the
person and keep helping them."""

ON_HOLD = (
    "The caller is on hold while a colleague is asked to take the call. Say nothing now: you "
    "will be told how it went."
)


def tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """The transfer tool, when the assistant has a transfer number."""
    number = ctx.spec.assistant.transfer_phone_number
    mode = ctx.spec.assistant.transfer_mode
    if number is None or mode is None:
        return []

    async def transfer_to_human(run: RunContext) -> llm.ToolResult:
        run.disallow_interruptions()
        await run.wait_for_playout()  # what the agent said before calling the tool
        try:
            if mode == "warm":
                await ctx.control.warm_transfer(number)
                return llm.ToolResult(ON_HOLD, reply_required=False)
            await ctx.control.transfer(number)
        except TransferFailed as failure:
            raise llm.ToolError(
                f"The transfer did not go through: {failure.reason}. Tell the person, and "
                "offer to keep helping them or to have someone call them back."
            ) from None
        return llm.ToolResult("The call was transferred.", reply_required=False)

    return [llm.function_tool(transfer_to_human, name="transfer_to_human", description=DESCRIPTION)]
