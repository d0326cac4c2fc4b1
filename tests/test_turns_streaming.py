"""Speech over the agent on a whole call, with a streaming STT's interim words.

The recorded calls' STT sends final transcripts only; a live one sends words as they are
spoken. Here the turn benchmark's streaming stand-in (interim words 0.2 s after each word, the
final transcript 0.3 s after the speech) hears two voices over the agent's long answers, on one
call through the production runtime with the worker's defaults: an acknowledgement said in a
phrase ("That makes sense.") and an interruption that opens like one ("Okay, but I already
paid that.").
"""

from __future__ import annotations

import pytest

from bench.callees import _Speaker
from bench.turn_calls import ANSWER_WAIT
from bench.turn_form import write
from bench.turn_set import render_line
from bench.turn_stt import FINAL_DELAY, INTERIM_DELAY
from bench.turn_texts import Line
from bench.turns import ImplResult, TurnResult, run

pytestmark = pytest.mark.replay

LINES = (
    Line("statement", ("I have a question about my last bill.",)),
    Line("backchannel", ("That makes sense.",), "backchannel"),
    Line("statement", ("I want to check on my refund please.",)),
    Line("interruption", ("Okay, but I already paid that.",), "interruption"),
)


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> ImplResult:
    """The call, played once."""
    folder = tmp_path_factory.mktemp("turns")
    speaker = _Speaker()
    write(folder, [render_line(line, "tune", i, speaker, folder) for i, line in enumerate(LINES)])
    (result,) = run(
        folder,
        ["ours"],
        calls=1,
        gap=7.0,
        interim_delay=INTERIM_DELAY,
        final_delay=FINAL_DELAY,
    )
    assert not result.errors
    return result


@pytest.fixture
def played(call: ImplResult) -> dict[str, TurnResult]:
    """Each overlap's figures, by kind."""
    return {t.kind: t for t in call.turns if t.kind != "turn"}


def test_an_acknowledging_phrase_lets_the_agents_answer_go_on(
    played: dict[str, TurnResult],
) -> None:
    backchannel = played["backchannel"]
    assert backchannel.over_speech
    # the answer went on to its end: through it, or after holding for the caller's sound
    assert backchannel.stopped_after is None or backchannel.held_for is not None


def test_an_interruption_that_opens_with_okay_stops_the_answer(
    played: dict[str, TurnResult],
) -> None:
    interruption = played["interruption"]
    assert interruption.over_speech
    assert interruption.stopped_after is not None
    assert interruption.held_for is None  # the rest of the answer never came


def test_the_interruption_is_answered(call: ImplResult) -> None:
    (played,) = call.calls
    plan, voice = played["plan"], played["voice"]
    assert isinstance(plan, dict) and isinstance(voice, list)
    (said_at,) = [t["segments"][-1][1] for t in plan["turns"] if t["kind"] == "interruption"]
    assert any(said_at < start < said_at + ANSWER_WAIT for start, _ in voice)
