"""``send_sms``: a text message to the person on the call (``sms_enabled``).

With ``sms_template`` set, exactly that text (its ``{{variables}}`` rendered) is sent and the
LLM only decides when: the tool takes no argument. Otherwise the LLM writes the ``message``.
The tool is offered only when the config enables it, an SMS provider is configured and the
call has the person's number. Sending goes through the call's ``SmsOutbox``: the same text is
never sent twice in a call, and each outcome is an ``sms_*`` event in the report.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import RunContext, llm

from agent_runtime.errors import ProviderConfigError, ToolError
from agent_runtime.integrations.sms import SmsOutbox, plain_text
from agent_runtime.integrations.sms_setup import sms_outbox
from agent_runtime.log import logger

from .context import PluginContext

WRITTEN = """Sends a text message (SMS) to the phone of the person on this call.

Use it when they ask for something in writing (a link, an address, a reference) or agree to
receive it. Write the whole message in `message`: short plain text, no markdown, links as full
URLs. An identical message is never sent twice in a call."""

TEMPLATED = """Sends the prepared text message (SMS) to the phone of the person on this call.

Call it when they ask for it or agree to receive it. Its text is fixed; it reads:
"""

MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string", "description": "The full text of the message."}},
    "required": ["message"],
}

SENT = "Text message sent."
NOT_RESENT = "This exact text message was already sent earlier in this call; not sent again."


def _build(outbox: SmsOutbox, to: str, template: str | None) -> llm.Tool:
    async def send_sms(raw_arguments: dict[str, Any], context: RunContext) -> str:
        if template is not None:
            body = template
        else:
            message = raw_arguments.get("message")
            if not isinstance(message, str) or not message.strip():
                raise llm.ToolError("Write the text of the message in `message`.")
            body = plain_text(message)
        try:
            receipt = await outbox.send(to, body, purpose="tool")
        except ToolError as err:
            raise llm.ToolError(err.message) from None
        return NOT_RESENT if receipt.repeated else SENT

    schema = {
        "name": "send_sms",
        "description": WRITTEN if template is None else TEMPLATED + template,
        "parameters": MESSAGE_SCHEMA
        if template is None
        else {"type": "object", "properties": {}, "required": []},
    }
    return llm.function_tool(send_sms, raw_schema=schema)


def tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """The ``send_sms`` tool, when SMS is enabled and can work on this call."""
    assistant = ctx.spec.assistant
    if not assistant.sms_enabled:
        return []
    to = ctx.spec.call.user_phone_number
    try:
        if to is None:
            raise ProviderConfigError("the call has no phone number of the person to text")
        outbox = sms_outbox(ctx.spec, ctx.integrations, ctx.control.event)
    except ProviderConfigError as err:
        logger.warning("send_sms is not offered: %s", err)
        ctx.control.event("sms_unavailable", reason=str(err))
        return []
    ctx.control.own(outbox)
    template = ctx.spec.render(assistant.sms_template).text if assistant.sms_template else None
    return [_build(outbox, to, template)]
