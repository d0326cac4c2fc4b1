"""Figure 6: who answered an outbound call, on the held-out callee corpus (``bench/callees.py``).

Every callee recording (people, voicemail greetings with and without a beep, full mailboxes,
phone menus, call screeners, silent lines) becomes a recorded outbound call replayed through
the real runtime on the virtual clock (``run_replay(folder, fast=True)``): a static greeting
with no delay, a voicemail message, no menu navigation (a menu ends the call at once). The
real VAD, end-of-turn model and beep detector hear the corpus audio; speech-to-text is
simulated: the corpus's own words, each released 0.3 s after its utterance ends. The LLM only
answers the conversation ("Sure."): the answering classifier's forced tool calls get HTTP 500,
so the figures are the detector *without* its LLM step: a greeting the other signals cannot
decide is asked of the classifier, which cannot tell, and the callee is then taken for a
person (reason ``unclassified``), or stays undecided (unknown at the detector's timeout, or no
verdict at all when the callee hangs up first, 2 s after the recording ends).

Printed: the confusion matrix with the report's ``result`` and ``end_reason``; the time to the
verdict from the end of the callee's first turn (from the answer on a silent line) and the
verdicts' reasons; the issue's targets, PASS or FAIL; and how long a person waits for the
greeting, against the inbound answer to the same recordings in the same run.

    python -m bench.answering
"""

# The virtual clock must be hooked in before livekit is imported (see replay/clock.py).
from agent_runtime.replay.clock import install_clock_hook

install_clock_hook()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import soundfile  # noqa: E402

from agent_runtime.answering.detector import DetectionOptions  # noqa: E402
from agent_runtime.replay.run import run_replay  # noqa: E402

from .callees import Callee, build_corpus  # noqa: E402
from .common import FIXTURES, Stopwatch, machine, ms, ratio, table  # noqa: E402

LABELS = ("human", "voicemail", "mailbox_full", "ivr", "screener", "silence")
KINDS = ("human", "voicemail", "mailbox_full", "ivr", "screener", "unknown")
MACHINES = ("voicemail", "mailbox_full", "ivr", "screener")
REASONS = (
    "beep",
    "words",
    "short_greeting",
    "llm",
    "unclassified",
    "no_cue",
    "no_speech",
    "timeout",
)
NONE = "none"
"""The column of the calls that ended with no verdict (the callee hung up first)."""
EXPECTED = {label: "unknown" if label == "silence" else label for label in LABELS}

VOICEMAIL_MESSAGE = "Hi, this is Alex from Acme about your delivery. Please call us back. Thanks!"
STT_DELAY = 0.3
"""Seconds from the end of an utterance to its transcript."""
HANGUP_AFTER = 2.0
"""The callee hangs up this long after the recording ends."""
REPLY = {"when": {}, "text": "Sure.", "ttft": 0.3}
"""The LLM's answer to any conversation turn (never to the classifier's forced tool calls)."""
MESSAGE_WITHIN = 0.5
"""Target: the voicemail message starts within this long of the beep's end."""

EOT_NOTE = (
    "note: the inbound reply waits for the end-of-turn decision (docs/turn-taking.md); the"
    " outbound\ngreeting waits for the verdict (a short greeting, then"
    f" {DetectionOptions().human_silence:g} s of silence), not for the end of turn."
)


@dataclasses.dataclass
class Replayed:
    """One replayed recording; times in seconds into the callee's wav."""

    name: str
    label: str
    speech_end: float | None
    beep_end: float | None
    verdicts: list[tuple[str, str, float]]
    """``answered_by`` events: kind, reason, time (the first one, then any revision)."""
    agent_starts: list[float]
    """Starts of the agent's speech segments."""
    slot: float | None
    """When the voicemail message was allowed to start (``voicemail_slot``)."""
    result: str | None
    end_reason: str | None
    classifier_requests: int
    """Requests that forced a tool call (the answering classifier's, answered HTTP 500)."""

    @property
    def verdict(self) -> str:
        """The kind of the first verdict, or ``none``."""
        return self.verdicts[0][0] if self.verdicts else NONE

    @property
    def decided_at(self) -> float | None:
        """Time of the first verdict."""
        return self.verdicts[0][2] if self.verdicts else None

    @property
    def turn_end(self) -> float:
        """End of the callee's first turn (the answer for a silent line)."""
        return self.speech_end or 0.0

    @property
    def first_reply(self) -> float | None:
        """From the end of the callee's first turn to the agent's first speech."""
        return self.agent_starts[0] - self.turn_end if self.agent_starts else None


def call_document(name: str, direction: str) -> dict[str, Any]:
    """The call config: the fixtures' outbound call, or the same assistant answering inbound."""
    document: dict[str, Any] = json.loads((FIXTURES / "answered_person" / "call.json").read_text())
    call = document["call"]
    call["id"] = f"call_{name}"
    assistant = call["assistant"]
    assistant["first_sentence_delay_ms"] = 0
    assistant["ivr_navigation_enabled"] = False
    if direction == "outbound":
        assistant["voicemail_message"] = VOICEMAIL_MESSAGE
    else:
        call["direction"] = "inbound"
        call["from_phone_number"], call["to_phone_number"] = (
            call["to_phone_number"],
            call["from_phone_number"],
        )
        assistant["first_sentence_mode"] = "none"
        del assistant["first_sentence"], assistant["voicemail_message"]
    return document


def write_call(callee: Callee, folder: Path, direction: str) -> None:
    """A recorded-call folder of ``callee`` answering (outbound) or calling (inbound)."""
    folder.mkdir(parents=True)
    shutil.copyfile(callee.wav, folder / "caller.wav")
    utterances = [
        {"start": u.start, "end": u.end, "text": u.text, "delay": STT_DELAY}
        for u in callee.utterances
    ]
    files = {
        "call.json": call_document(callee.name, direction),
        "stt.json": {"utterances": utterances},
        "llm.json": {"answers": [REPLY]},
        "caller.json": {"hangup_at": soundfile.info(str(callee.wav)).duration + HANGUP_AFTER},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2))


def replay(callee: Callee, folder: Path, direction: str) -> Replayed:
    """Write and replay the call of ``callee``; what the report shows."""
    write_call(callee, folder, direction)
    result = run_replay(folder, fast=True)
    report = result.call.report
    shift = result.caller_offset
    events = report.runtime.events

    def at(moment: float) -> float:
        return round(moment - shift, 3)

    return Replayed(
        name=callee.name,
        label=callee.label,
        speech_end=callee.speech_end,
        beep_end=callee.beep_end,
        verdicts=[
            (str(e.detail["kind"]), str(e.detail["reason"]), at(e.at))
            for e in events
            if e.type == "answered_by"
        ],
        agent_starts=[at(s.start) for s in report.runtime.speech if s.role == "assistant"],
        slot=next((at(e.at) for e in events if e.type == "voicemail_slot"), None),
        result=report.result,
        end_reason=report.end_reason,
        classifier_requests=sum(
            r.body.get("tool_choice") not in (None, "auto", "none") for r in result.llm_requests
        ),
    )


# -- figures -------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    """The median, or None without values."""
    return statistics.median(values) if values else None


def counts(values: Sequence[str | None]) -> str:
    """``value n`` pairs, most common first."""
    return ", ".join(f"{value} {n}" for value, n in Counter(values).most_common()) or "-"


def right(calls: Sequence[Replayed]) -> int:
    """How many first verdicts were right."""
    return sum(c.verdict == EXPECTED[c.label] for c in calls)


def left_open(calls: Sequence[Replayed]) -> list[Replayed]:
    """The calls the signals left to the LLM step: taken for a person when it could not tell,
    unknown at the timeout, or no verdict at all."""
    return [c for c in calls if not c.verdicts or c.verdicts[0][1] in ("timeout", "unclassified")]


def by_label(calls: Sequence[Replayed]) -> dict[str, list[Replayed]]:
    """The calls of each true label."""
    return {label: [c for c in calls if c.label == label] for label in LABELS}


def confusion(calls: Sequence[Replayed]) -> str:
    """The confusion matrix, then the reports' results and end reasons per true label."""
    groups = by_label(calls)
    columns = [*KINDS, NONE]
    rows = [
        [label, *(sum(c.verdict == kind for c in group) or "." for kind in columns), len(group)]
        for label, group in groups.items()
    ]
    outcomes = [
        [label, counts([c.result for c in group]), counts([c.end_reason for c in group])]
        for label, group in groups.items()
    ]
    return "\n".join(
        [
            "first verdict (columns) per true label (rows); none: no verdict before the callee"
            " hung up",
            table(["true \\ verdict", *columns, "total"], rows),
            f"right: {right(calls)} of {len(calls)} (silence is right as unknown)",
            "",
            table(["true label", "report result", "end_reason"], outcomes),
        ]
    )


def decisions(calls: Sequence[Replayed]) -> str:
    """Time to the first verdict per true label, and the verdicts' reasons."""
    rows = []
    for label, group in by_label(calls).items():
        times = [c.decided_at - c.turn_end for c in group if c.decided_at is not None]
        reasons = Counter(c.verdicts[0][1] if c.verdicts else NONE for c in group)
        rows.append(
            [
                label,
                f"{len(times)}/{len(group)}",
                ms(median(times)),
                ms(max(times, default=None)),
                *(reasons[r] or "." for r in (*REASONS, NONE)),
            ]
        )
    return "\n".join(
        [
            "time to the first verdict from the end of the callee's first turn (silence: from the"
            " answer; negative: before\nthe turn ended), and its reason",
            table(["true label", "decided", "median", "max", *REASONS, NONE], rows),
        ]
    )


def undecided(calls: Sequence[Replayed]) -> str:
    """What the missing LLM step left open."""
    by_llm = sum(reason == "llm" for c in calls for _, reason, _ in c.verdicts)
    open_ = left_open(calls)
    asked = [c for c in calls if c.classifier_requests]
    timeout = DetectionOptions().timeout
    names = ", ".join(f"{c.name} ({c.verdict})" for c in open_) or "-"
    return "\n".join(
        [
            f"verdicts with reason llm: {by_llm} (the classifier's requests got HTTP 500)",
            f"the classifier was asked on {len(asked)} recordings"
            f" ({sum(c.classifier_requests for c in asked)} requests, retries included)",
            f"left to the LLM step (not available offline): {len(open_)} (unclassified: taken"
            f" for a person; unknown at the {timeout:g} s timeout; none: the callee hung up"
            f" first): {names}",
        ]
    )


@dataclasses.dataclass
class Targets:
    """The issue's targets and the figures behind them."""

    machines_first: bool
    """(a) every machine classified as one before the agent speaks."""
    people_not_machines: bool
    """(b) no person ever classified as a machine."""
    message_at_beep: bool
    """(c) every voicemail message within ``MESSAGE_WITHIN`` after the beep, never over it."""
    message_delays: dict[str, float | None]
    """Message start (the agent's first speech after ``voicemail_slot``) - the beep's end, per
    voicemail recording with a beep and a voicemail verdict."""
    outbound_answer: float | None
    """Median end of a person's first turn -> the outbound greeting."""
    inbound_answer: float | None
    """Median end of a person's first turn -> the inbound reply."""


def spoke_first(call: Replayed) -> float | None:
    """When the agent spoke before the first verdict (or with none), if it did."""
    decided = call.decided_at
    return next((s for s in call.agent_starts if decided is None or s < decided), None)


def message_delay(call: Replayed) -> float | None:
    """The voicemail message's start (after ``voicemail_slot``) - the beep's end; None: none."""
    if call.slot is None or call.beep_end is None:
        return None
    start = next((s for s in call.agent_starts if s >= call.slot), None)
    return None if start is None else round(start - call.beep_end, 3)


def targets(outbound: Sequence[Replayed], inbound: Sequence[Replayed]) -> tuple[Targets, str]:
    """The targets, PASS or FAIL, with their figures and the recordings that failed."""
    machines = [c for c in outbound if c.label in MACHINES]
    late = [c for c in machines if c.verdict not in MACHINES or spoke_first(c) is not None]
    people = [c for c in outbound if c.label == "human"]
    taken = [c for c in people if any(kind in MACHINES for kind, _, _ in c.verdicts)]
    beeps = [c for c in outbound if c.label == "voicemail" and c.beep_end is not None]
    delays = {
        c.name: message_delay(c)
        for c in beeps
        if any(kind == "voicemail" for kind, _, _ in c.verdicts)
    }
    measured = [d for d in delays.values() if d is not None]
    out_times = [t for c in people if (t := c.first_reply) is not None]
    in_times = [t for c in inbound if (t := c.first_reply) is not None]
    figures = Targets(
        machines_first=not late,
        people_not_machines=not taken,
        message_at_beep=bool(delays)
        and all(d is not None and 0 <= d <= MESSAGE_WITHIN for d in delays.values()),
        message_delays=delays,
        outbound_answer=median(out_times),
        inbound_answer=median(in_times),
    )

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    def why(call: Replayed) -> str:
        early = spoke_first(call)
        return f"{call.name}: verdict {call.verdict}" + (
            "" if early is None else f", agent spoke at {early:.2f} s"
        )

    lines = [
        f"(a) {mark(figures.machines_first)}: machines (voicemail, full mailbox, menu, screener)"
        f" classified as a machine before the agent speaks: {len(machines) - len(late)} of"
        f" {len(machines)}",
        *([f"    failed: {'; '.join(why(c) for c in late)}"] if late else []),
        f"(b) {mark(figures.people_not_machines)}: people ever classified as a machine:"
        f" {len(taken)} of {len(people)}"
        + "".join(f"; {c.name}: {' then '.join(k for k, _, _ in c.verdicts)}" for c in taken),
        f"(c) {mark(figures.message_at_beep)}: voicemail message within"
        f" {MESSAGE_WITHIN * 1000:.0f} ms of the beep's end (negative: over the beep), on the"
        f" {len(delays)} of {len(beeps)} beep recordings with a voicemail verdict: median"
        f" {ms(median(measured))}, min {ms(min(measured, default=None))}, max"
        f" {ms(max(measured, default=None))}",
        "    "
        + ", ".join(
            f"{name} {ms(d) if d is not None else 'no message'}" for name, d in delays.items()
        )
        + "".join(
            f"; not counted: {c.name} (verdict {c.verdict})" for c in beeps if c.name not in delays
        ),
        "",
        "person answer time: end of the callee's first turn -> the agent's first speech, human"
        " recordings",
        table(
            ["", "median", "max", "answered", "ratio"],
            [
                [
                    "outbound: greeting once a person is decided",
                    ms(figures.outbound_answer),
                    ms(max(out_times, default=None)),
                    f"{len(out_times)}/{len(people)}",
                    ratio(figures.outbound_answer, figures.inbound_answer),
                ],
                [
                    "inbound today: reply at the end of turn",
                    ms(figures.inbound_answer),
                    ms(max(in_times, default=None)),
                    f"{len(in_times)}/{len(inbound)}",
                    "1.00x",
                ],
            ],
        ),
        "    outbound: "
        + ", ".join(
            f"{c.name} {'no greeting' if c.first_reply is None else ms(c.first_reply)}"
            for c in people
        ),
        "    inbound:  " + ", ".join(f"{c.name} {ms(c.first_reply)}" for c in inbound),
        EOT_NOTE,
    ]
    return figures, "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.answering", description=__doc__)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("livekit.agents").setLevel(logging.CRITICAL)
    logging.getLogger("agent_runtime").setLevel(logging.CRITICAL)
    total = Stopwatch()
    print(
        "answering: who picked up an outbound call, held-out callee corpus (bench/callees.py),"
        f" replayed on the virtual clock; {machine()}\n"
        f"speech-to-text is simulated: the corpus's words, each {STT_DELAY * 1000:.0f} ms after"
        " its utterance ends; the answering classifier has no LLM (HTTP 500): no LLM step"
    )
    with tempfile.TemporaryDirectory(prefix="bench-answering-") as tmp:
        root = Path(tmp)
        callees = build_corpus(root / "corpus")
        built = total.seconds
        outbound = [replay(c, root / "outbound" / c.name, "outbound") for c in callees]
        people = [c for c in callees if c.label == "human"]
        inbound = [replay(c, root / "inbound" / c.name, "inbound") for c in people]
    print(f"{len(callees)} recordings built in {built:.0f} s\n")
    print(confusion(outbound))
    print()
    print(decisions(outbound))
    print(undecided(outbound))
    print()
    figures, text = targets(outbound, inbound)
    print(text)
    print(
        f"total: {total.seconds:.0f} s ({len(outbound)} outbound and {len(inbound)} inbound"
        " replays, one process, sequential)"
    )
    data = {
        "outbound": [dataclasses.asdict(c) for c in outbound],
        "inbound": [dataclasses.asdict(c) for c in inbound],
        "right": right(outbound),
        "undecided": len(left_open(outbound)),
        "targets": dataclasses.asdict(figures),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))
    return data


if __name__ == "__main__":
    main(sys.argv[1:])
