"""The after-call steps that ask the call's LLM: the real openai plugin and a local server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from livekit.agents import llm
from livekit.plugins import openai

from agent_runtime.config.assistant import FaqItem, FieldSpec
from agent_runtime.config.attempt import TranscriptRow
from agent_runtime.post_call.extraction import EXTRACTION_TOOL, extract
from agent_runtime.post_call.faq import FAQ_TOOL, faq_candidates
from agent_runtime.post_call.llm_json import transcript_text
from agent_runtime.post_call.outcome import OUTCOME_TOOL, OUTCOMES, decide_outcome
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.llm_server import (
    ChatRequest,
    LLMScript,
    ScriptedAnswer,
    ScriptedLLMServer,
    ScriptedToolCall,
    When,
)
from agent_runtime.replay.local_server import serve
from agent_runtime.report.model import CallReport

TRANSCRIPT = "Caller: I'm Ana, 42, call me on May 1st at 2:30 pm.\nAgent: Noted."
VARIABLES = {
    "call_direction": "outbound",
    "user_phone_number": "+33600000001",
    "agent_phone_number": "+33100000002",
}
FIELDS = [
    FieldSpec(name="name", type="string", required=True, description="The caller's first name"),
    FieldSpec(name="age", type="number"),
    FieldSpec(name="vip", type="boolean"),
    FieldSpec(name="plan", type="enum", enum_options=["basic", "pro"]),
    FieldSpec(name="birthday", type="date"),
    FieldSpec(name="callback_at", type="datetime"),
    FieldSpec(name="email", type="string", required=True),
]
RETRIED = "still invalid after a corrective retry: "
GOOD = {
    "name": "Ana",
    "age": 42,
    "vip": True,
    "plan": "pro",
    "birthday": "1984-02-29",
    "callback_at": "2026-05-01T14:30:00+02:00",
    "email": None,
}


class RawArgumentsServer(ScriptedLLMServer):
    """Sends a tool call's ``raw`` argument as the whole arguments text (e.g. not an object)."""

    @staticmethod
    def _deltas(answer: ScriptedAnswer) -> list[tuple[dict[str, Any], str | None]]:
        deltas = ScriptedLLMServer._deltas(answer)
        for delta, _ in deltas:
            for call in delta.get("tool_calls", []):
                arguments = json.loads(call["function"]["arguments"])
                if "raw" in arguments:
                    call["function"]["arguments"] = arguments["raw"]
        return deltas


def saves(tool: str, **arguments: Any) -> ScriptedAnswer:
    """An answer calling ``tool`` with ``arguments``, to requests that offer it."""
    return ScriptedAnswer(
        when=When(offers_tool=tool),
        tool_calls=[ScriptedToolCall(name=tool, arguments=arguments)],
        ttft=0,
        token_interval=0,
    )


def server(*answers: ScriptedAnswer) -> ScriptedLLMServer:
    return RawArgumentsServer(LLMScript(answers=list(answers)))


@asynccontextmanager
async def text_llm(scripted: ScriptedLLMServer) -> AsyncIterator[llm.LLM]:
    """The real openai plugin pointed at ``scripted``, closed afterwards."""
    async with serve(scripted.app) as base:
        model = openai.LLM(model="m", base_url=f"{base}/v1", api_key="k")
        try:
            yield model
        finally:
            await model.aclose()


def said(request: ChatRequest, role: str) -> list[str]:
    return [m["content"] for m in request.messages if m["role"] == role]


# -- structured output ------------------------------------------------------------------------


async def test_every_field_type_is_extracted_and_unknown_ones_stay_null() -> None:
    scripted = server(saves(EXTRACTION_TOOL, **GOOD, extra="dropped"))
    async with text_llm(scripted) as model:
        result = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert result.problem is None
    assert result.data == GOOD
    (request,) = scripted.requests
    assert request.body["tool_choice"] == "required"
    assert request.tool_names == [EXTRACTION_TOOL]
    schema = request.body["tools"][0]["function"]["parameters"]
    assert schema["required"] == ["name", "email"]
    assert schema["properties"]["name"] == {
        "type": ["string", "null"],
        "description": "The caller's first name",
    }
    assert schema["properties"]["age"]["type"] == ["number", "null"]
    assert schema["properties"]["vip"]["type"] == ["boolean", "null"]
    assert schema["properties"]["plan"]["enum"] == ["basic", "pro", None]
    assert schema["properties"]["birthday"]["format"] == "date"
    assert schema["properties"]["callback_at"]["format"] == "date-time"
    (system,) = said(request, "system")
    assert "null" in system and "never guess, infer or invent" in system
    assert TRANSCRIPT in said(request, "user")[0]


async def test_a_missing_optional_field_and_a_blank_text_are_null() -> None:
    answer = {"name": "  ", "email": None, "age": 3}
    scripted = server(saves(EXTRACTION_TOOL, **answer))
    async with text_llm(scripted) as model:
        result = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert result.data == {field.name: None for field in FIELDS} | {"age": 3}


def changed(**changes: Any) -> ScriptedAnswer:
    """The good extraction answer with ``changes``."""
    return saves(EXTRACTION_TOOL, **GOOD | changes)


WITHOUT_EMAIL = saves(EXTRACTION_TOOL, **{k: v for k, v in GOOD.items() if k != "email"})
TEXT_ONLY = ScriptedAnswer(when=When(offers_tool=EXTRACTION_TOOL), text="Ana, 42.", ttft=0)
BAD_FIRST_ANSWERS = [
    pytest.param(changed(age="42"), "age must be a number", id="type"),
    pytest.param(changed(age=float("nan")), "age must be a number", id="nan"),
    pytest.param(changed(plan="gold"), "plan must be one of basic, pro", id="enum"),
    pytest.param(changed(birthday="29/02/1984"), "birthday must be a date", id="date"),
    pytest.param(changed(callback_at="2026-05-01"), "callback_at must be an ISO 8601", id="time"),
    pytest.param(WITHOUT_EMAIL, "email is missing", id="required"),
    pytest.param(saves(EXTRACTION_TOOL, raw="[1, 2]"), "were not a JSON object", id="not-object"),
    pytest.param(saves(EXTRACTION_TOOL, raw="{broken"), "were not a JSON object", id="not-json"),
    pytest.param(TEXT_ONLY, "did not call save_extracted_data", id="no-tool-call"),
]


@pytest.mark.parametrize(("first", "words"), BAD_FIRST_ANSWERS)
async def test_a_bad_answer_is_corrected_once_by_telling_what_was_wrong(
    first: ScriptedAnswer, words: str
) -> None:
    scripted = server(first, saves(EXTRACTION_TOOL, **GOOD))
    async with text_llm(scripted) as model:
        result = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert result == type(result)(data=GOOD, problem=None)
    first_request, retry = scripted.requests
    assert said(retry, "user")[:-1] == said(first_request, "user")
    assert words in said(retry, "user")[-1]
    assert "Call save_extracted_data again" in said(retry, "user")[-1]


@pytest.mark.parametrize(("first", "words"), BAD_FIRST_ANSWERS)
async def test_a_bad_answer_after_the_retry_is_a_problem(first: ScriptedAnswer, words: str) -> None:
    scripted = server(first)  # served again to the retry
    async with text_llm(scripted) as model:
        result = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert result.data is None
    assert result.problem is not None
    assert result.problem.startswith(RETRIED)
    assert words in result.problem
    assert "Ana" not in result.problem and "gold" not in result.problem
    assert len(scripted.requests) == 2


async def test_the_prompt_variables_are_rendered_once_in_the_request() -> None:
    prompt = (
        "A {{call_direction}} call from {{ user_phone_number }} to {{agent_phone_number}}"
        "{{not_given}}.\n{{transcript}}\nEnd."
    )
    scripted = server(saves(EXTRACTION_TOOL, **GOOD))
    async with text_llm(scripted) as model:
        await extract(
            model,
            FIELDS,
            prompt=prompt,
            variables=VARIABLES | {"call_direction": "{{agent_phone_number}}"},
            transcript=TRANSCRIPT,
            timeout=30,
        )
    (user,) = said(scripted.requests[0], "user")
    assert user == (
        "A {{agent_phone_number}} call from +33600000001 to +33100000002.\n" + TRANSCRIPT + "\nEnd."
    )


async def test_a_prompt_without_the_transcript_gets_it_appended() -> None:
    scripted = server(saves(EXTRACTION_TOOL, **GOOD))
    async with text_llm(scripted) as model:
        await extract(
            model,
            FIELDS,
            prompt="Fill in the fields ({{call_direction}}).",
            variables=VARIABLES,
            transcript=TRANSCRIPT,
            timeout=30,
        )
    (user,) = said(scripted.requests[0], "user")
    assert user == f"Fill in the fields (outbound).\n\nTranscript:\n{TRANSCRIPT}"


async def test_an_http_error_is_a_problem_without_retry() -> None:
    failing = ScriptedAnswer(when=When(offers_tool=EXTRACTION_TOOL), status=500, ttft=0)
    scripted = server(failing)
    async with text_llm(scripted) as model:
        result = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert result.data is None
    assert result.problem == "the LLM answered HTTP 500"
    assert len(scripted.requests) == 1


async def test_no_fields_ask_nothing() -> None:
    scripted = server()
    async with text_llm(scripted) as model:
        result = await extract(
            model, [], prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert (result.data, result.problem, scripted.requests) == (None, None, [])


# -- outcome ----------------------------------------------------------------------------------


async def test_the_outcome_and_its_summary_clipped() -> None:
    summary = 'The caller said "call me on my work phone instead". ' + "More words. " * 40
    scripted = server(saves(OUTCOME_TOOL, outcome="requested_callback_new_number", summary=summary))
    async with text_llm(scripted) as model:
        result = await decide_outcome(model, transcript=TRANSCRIPT, timeout=30)
    assert result.outcome == "requested_callback_new_number"
    assert result.problem is None
    assert result.summary is not None
    assert len(result.summary) <= 300
    kept = result.summary.removesuffix("…")
    assert kept != result.summary  # clipped, and marked so
    assert summary.startswith(kept) and summary[len(kept)] == " "  # at a word
    (request,) = scripted.requests
    parameters = request.body["tools"][0]["function"]["parameters"]
    assert parameters["properties"]["outcome"]["enum"] == list(OUTCOMES)
    (system,) = said(request, "system")
    assert all(f"- {outcome}: " in system for outcome in OUTCOMES)
    assert said(request, "user") == [f"Transcript:\n{TRANSCRIPT}"]


async def test_an_outcome_outside_the_six_is_retried_then_a_problem() -> None:
    scripted = server(saves(OUTCOME_TOOL, outcome="maybe", summary="The caller hesitated."))
    async with text_llm(scripted) as model:
        result = await decide_outcome(model, transcript=TRANSCRIPT, timeout=30)
    assert (result.outcome, result.summary) == (None, None)
    assert result.problem == f"{RETRIED}outcome must be one of {', '.join(OUTCOMES)}"
    retry = scripted.requests[1]
    assert "outcome must be one of not_interested, interested" in said(retry, "user")[-1]


async def test_an_outcome_corrected_on_the_retry_is_kept() -> None:
    scripted = server(
        saves(OUTCOME_TOOL, outcome="callback", summary=""),
        saves(OUTCOME_TOOL, outcome="do_not_contact", summary='"Never call me again."'),
    )
    async with text_llm(scripted) as model:
        result = await decide_outcome(model, transcript=TRANSCRIPT, timeout=30)
    assert (result.outcome, result.summary) == ("do_not_contact", '"Never call me again."')
    assert "summary must be a short text" in said(scripted.requests[1], "user")[-1]


def test_a_hung_llm_is_a_problem_after_the_timeout() -> None:
    async def main() -> tuple[Any, float]:
        scripted = server(ScriptedAnswer(when=When(offers_tool=OUTCOME_TOOL), hang=True))
        async with text_llm(scripted) as model:
            loop = asyncio.get_running_loop()
            start = loop.time()
            result = await decide_outcome(model, transcript=TRANSCRIPT, timeout=20)
            return result, loop.time() - start

    result, waited = run_virtual(main)
    assert (result.outcome, result.problem) == (None, "the LLM did not answer within 20 s")
    assert 20 <= waited < 21  # virtual seconds: one request, never retried


# -- FAQ candidates ---------------------------------------------------------------------------


async def test_faq_candidates_are_new_distinct_and_at_most_five() -> None:
    asked = [
        "what are your opening hours",
        "Do you deliver to Lyon?",
        "do you deliver to  lyon ?!",
        " ",
        "Can I pay by cheque?",
        "Is there parking?",
        "Do you sell gift cards?",
        "Can I return an opened item?",
        "Is the shop open on Sundays?",
    ]
    faq = [FaqItem(question="What are your opening hours?", answer="9 to 5, Monday to Friday.")]
    scripted = server(saves(FAQ_TOOL, questions=asked))
    async with text_llm(scripted) as model:
        result = await faq_candidates(
            model, transcript=TRANSCRIPT, instructions="You sell shoes.", faq=faq, timeout=30
        )
    assert result.problem is None
    assert result.questions == [
        "Do you deliver to Lyon?",
        "Can I pay by cheque?",
        "Is there parking?",
        "Do you sell gift cards?",
        "Can I return an opened item?",
    ]
    (user,) = said(scripted.requests[0], "user")
    assert "You sell shoes." in user
    assert "Q: What are your opening hours?\nA: 9 to 5, Monday to Friday." in user
    assert user.endswith(TRANSCRIPT)


async def test_faq_questions_that_are_not_texts_are_retried_then_a_problem() -> None:
    scripted = server(saves(FAQ_TOOL, questions="Is there parking?"))
    async with text_llm(scripted) as model:
        result = await faq_candidates(
            model, transcript=TRANSCRIPT, instructions="", faq=[], timeout=30
        )
    assert result.questions == []
    assert result.problem == f"{RETRIED}questions must be a list of texts"


# -- the scripted server and the transcript ---------------------------------------------------


async def test_offers_tool_picks_the_answer_for_the_tool_the_request_offers() -> None:
    scripted = server(
        saves(FAQ_TOOL, questions=["Is there parking?"]),
        saves(OUTCOME_TOOL, outcome="completed", summary='"Thanks, that is all."'),
    )
    async with text_llm(scripted) as model:
        outcome = await decide_outcome(model, transcript=TRANSCRIPT, timeout=30)
        faq = await faq_candidates(
            model, transcript=TRANSCRIPT, instructions="", faq=[], timeout=30
        )
        fields = await extract(
            model, FIELDS, prompt=None, variables=VARIABLES, transcript=TRANSCRIPT, timeout=30
        )
    assert outcome.outcome == "completed"
    assert faq.questions == ["Is there parking?"]
    assert fields.problem == "the LLM answered HTTP 500"  # no answer offers save_extracted_data
    assert [r.answered_with for r in scripted.requests] == [1, 0, None]


def test_the_transcript_reads_as_lines_of_speech_and_tool_calls() -> None:
    report = CallReport(
        id="attempt-1",
        transcript=[
            TranscriptRow(role="assistant", content="Hello, this is Acme."),
            TranscriptRow(role="user", content=" Where is my order? "),
            TranscriptRow(role="assistant", content=""),
            TranscriptRow(
                role="tool",
                tool_name="lookup",
                tool_arguments='{"id": "A1"}',
                tool_output="shipped",
            ),
            TranscriptRow(
                role="tool",
                tool_name="book",
                tool_arguments={},
                tool_output="slot taken",
                tool_is_error=True,
            ),
            TranscriptRow(role="assistant", content="It has shipped."),
        ],
    )
    assert transcript_text(report) == (
        "Agent: Hello, this is Acme.\n"
        "Caller: Where is my order?\n"
        '[tool lookup({"id": "A1"}) → shipped]\n'
        "[tool book() → error: slot taken]\n"
        "Agent: It has shipped."
    )
    assert transcript_text(CallReport(id="attempt-2")) == ""
