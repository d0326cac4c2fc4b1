"""``agent-runtime console`` in audio mode on a real sound stack: a private PulseAudio server.

The server has no hardware, only virtual devices:

- ``line``, a null sink whose monitor is the console's microphone (the default source);
- ``ear``, a stereo null sink that hears the call: the caller on the left (``caller_ear``) and
  the console's speaker on the right (``speaker``, the default sink);
- ``caller``, where the test plays the caller's speech: it goes to both ``line`` and
  ``caller_ear``, so the recording of ``ear``'s monitor holds both sides on one timeline.

The console runs offline (no key): it reaches the devices through PortAudio and ALSA's pulse
plugin, as it would a desktop's. The test plays recorded caller speech once the greeting was
heard, records what the console played, and measures both from that recording.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from .conftest import FIXTURES, ROOT

RATE = 16000
WINDOW = 0.05
"""Seconds of audio per level measurement."""
SPEECH_DB = -40.0
"""A window louder than this (dBFS) is sound; the line noise and silence are far below."""
GAP = 0.5
"""Quieter stretches shorter than this are pauses within one stretch of sound."""
GREETING = "Hi, Alex here. How can I help you today?"
BUFFERS = 0.5
"""Seconds the sound stack's buffers may add between the console and the line, both ways
(about 0.3 s measured: PulseAudio's sinks and ALSA's pulse plugin)."""
TOOLS = ("pulseaudio", "pactl", "paplay", "parecord")

SERVER_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=ear rate=16000 channels=2 channel_map=front-left,front-right
load-module module-remap-sink sink_name=speaker master=ear channels=1 channel_map=mono \
master_channel_map=front-right remix=no
load-module module-remap-sink sink_name=caller_ear master=ear channels=1 channel_map=mono \
master_channel_map=front-left remix=no
load-module module-null-sink sink_name=line rate=16000 channels=1 channel_map=mono
load-module module-combine-sink sink_name=caller slaves=line,caller_ear channels=1 channel_map=mono
set-default-sink speaker
set-default-source line.monitor
"""

Span = tuple[float, float]


@pytest.fixture
def pulse() -> Iterator[dict[str, str]]:
    """A private PulseAudio server with the virtual devices; the environment that reaches it."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {', '.join(missing)} (apt install pulseaudio; ./dev installs it)")
    home = Path(tempfile.mkdtemp(prefix="pulse-"))  # short: a socket path has ~100 characters
    socket = home / "native"
    config = home / "server.pa"
    config.write_text(SERVER_CONFIG.format(socket=socket))
    env = {
        **os.environ,
        "PULSE_RUNTIME_PATH": str(home / "runtime"),
        "PULSE_STATE_PATH": str(home / "state"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    log = home / "server.log"
    with log.open("wb") as server_log:
        server = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--use-pid-file=no",
                "--exit-idle-time=-1",
                "--disable-shm=yes",
                "-n",
                "-F",
                str(config),
            ],
            env={**env, "HOME": str(home)},  # its cookie and settings stay in the folder
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
    try:
        for _ in range(100):  # the server is up once it answers
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            if server.poll() is not None:
                pytest.fail(f"the PulseAudio server stopped: {log.read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail("the PulseAudio server did not answer")
        yield env
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def _caller_speech(path: Path) -> float:
    """The order_status caller's first sentence (8 kHz telephone audio), as a 16 kHz WAV.

    Returns its length in seconds.
    """
    folder = FIXTURES / "calls" / "order_status"
    first = json.loads((folder / "stt.json").read_text())["utterances"][0]
    audio, rate = soundfile.read(str(folder / "caller.wav"), dtype="float32")
    clip = audio[int((first["start"] - 0.2) * rate) : int((first["end"] + 0.2) * rate)]
    upsampled = np.interp(np.arange(0, clip.size, rate / RATE), np.arange(clip.size), clip)
    soundfile.write(str(path), upsampled.astype(np.float32), RATE, subtype="PCM_16")
    return float(upsampled.size / RATE)


def _levels(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    """dBFS of each ``WINDOW`` of ``samples``."""
    width = int(rate * WINDOW)
    count = samples.size // width
    windows = samples[: count * width].reshape(count, width).astype(np.float64)
    levels: npt.NDArray[np.float64] = 20 * np.log10(np.sqrt((windows**2).mean(axis=1)) + 1e-9)
    return levels


def _sounds(samples: npt.NDArray[np.float32], rate: int) -> list[Span]:
    """Stretches of sound (start, end) in seconds; pauses under ``GAP`` are inside one."""
    loud = _levels(samples, rate) > SPEECH_DB
    spans: list[Span] = []
    start: int | None = None
    for index, is_loud in enumerate([*loud, False]):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            spans.append((start * WINDOW, index * WINDOW))
            start = None
    merged: list[Span] = []
    for begin, end in spans:
        if merged and begin - merged[-1][1] < GAP:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


async def _line_with(stream: asyncio.StreamReader, words: str, shown: list[str]) -> None:
    """Read printed lines until one holds ``words`` (and is complete)."""
    while not any(words in line for line in shown):
        line = await asyncio.wait_for(stream.readline(), 120)
        assert line, f"the console ended before printing {words!r}: {shown}"
        shown.append(line.decode())


def _devices(env: dict[str, str]) -> str:
    """The audio devices PortAudio lists in ``env``."""
    probe = "import sounddevice; print(sounddevice.query_devices())"
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout


async def test_the_console_greets_hears_and_answers_through_pulseaudio(
    pulse: dict[str, str], tmp_path: Path
) -> None:
    assert "default" in _devices(pulse), "PortAudio sees no PulseAudio device (libasound2-plugins)"
    speech = tmp_path / "caller.wav"
    speech_seconds = _caller_speech(speech)
    config = tmp_path / "call.json"
    config.write_text(
        json.dumps(
            {
                "call": {
                    "id": "console_audio",
                    "direction": "inbound",
                    "from_phone_number": "+14155550123",
                    "to_phone_number": "+14155550100",
                    "assistant": {
                        "prompt": "You are Alex.",
                        "first_sentence": GREETING,
                        "first_sentence_mode": "static",
                        "first_sentence_delay_ms": 0,
                    },
                }
            }
        )
    )
    heard = tmp_path / "heard.wav"
    recorder = await asyncio.create_subprocess_exec(
        "parecord",
        "--device=ear.monitor",
        f"--rate={RATE}",
        "--channels=2",
        "--format=s16le",
        "--file-format=wav",
        str(heard),
        env=pulse,
    )
    keyless = {k: v for k, v in pulse.items() if not k.startswith("OPENAI")}
    # the sentence pauses up to 0.4 s: the agent waits out longer pauses than that to answer
    keyless["AGENT_MIN_ENDPOINTING_DELAY"] = "0.8"
    console = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_runtime.cli",
        "console",
        "--call",
        str(config),
        "--offline",
        "--out",
        str(tmp_path / "out"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=keyless,
        cwd=ROOT,
    )
    assert console.stdout is not None and console.stderr is not None
    shown: list[str] = []
    try:
        await _line_with(console.stdout, "help you today?", shown)  # printed as it is spoken
        await asyncio.sleep(1.0)  # the caller answers after the greeting
        played = await asyncio.create_subprocess_exec(
            "paplay", "--device=caller", str(speech), env=pulse
        )
        assert await played.wait() == 0
        await _line_with(console.stdout, "You said: (speech,", shown)
        await _line_with(console.stdout, "s)\n", shown[-1:])  # the answer's row, complete
        await asyncio.sleep(1.5)  # its last words leave the speaker
    finally:
        if console.returncode is None:
            console.send_signal(signal.SIGINT)  # Ctrl-C hangs up
        stdout, stderr = await asyncio.wait_for(console.communicate(), 120)
        recorder.send_signal(signal.SIGINT)
        await asyncio.wait_for(recorder.wait(), 30)
    assert console.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    rows = "".join(shown) + stdout.decode()
    assert rows.count("agent ") >= 2, rows  # the greeting and the answer

    audio, rate = soundfile.read(str(heard), dtype="float32", always_2d=True)
    caller, agent = audio[:, 0], audio[:, 1]
    said = _sounds(caller, rate)
    spoken = _sounds(agent, rate)
    assert len(said) == 1, said  # the caller's one sentence, heard on the line
    assert said[0][1] - said[0][0] == pytest.approx(speech_seconds - 0.4, abs=0.5)
    assert len(spoken) == 2, (spoken, rows)  # the greeting, then the answer
    (greeting, answer) = spoken
    assert greeting[1] <= said[0][0]  # the greeting was heard out before the caller spoke
    assert greeting[1] - greeting[0] > 1.5  # the whole sentence, not a click
    assert said[0][1] < answer[0] < said[0][1] + 6.0  # answered once the caller was done
    assert answer[1] - answer[0] > 1.0
    levels = _levels(agent, rate)
    for begin, end in spoken:
        assert levels[int(begin / WINDOW) : int(end / WINDOW)].max() > -25.0  # audible
    between = levels[int(greeting[1] / WINDOW) + 2 : int(answer[0] / WINDOW) - 2]
    assert between.max() < -50.0  # silence between the two: nothing else was played

    # The console heard the caller when the line had them, not late by the audio that came in
    # while the call was being set up (about 1 s): in its recording, the caller starts after
    # the greeting as long after as on the line, plus the sound stack's buffers both ways.
    recorded, recorded_rate = soundfile.read(
        str(tmp_path / "out" / "recording.wav"), dtype="float32", always_2d=True
    )
    mic = _sounds(recorded[:, 0], recorded_rate)
    voice = _sounds(recorded[:, 1], recorded_rate)
    assert mic and len(voice) == 2, (mic, voice)
    late = (mic[0][0] - voice[0][0]) - (said[0][0] - greeting[0])
    assert -0.1 < late < BUFFERS, late
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    first, *heard_rows, last = report["transcript"]
    assert (first["role"], first["content"]) == ("assistant", GREETING)
    assert heard_rows, report["transcript"]  # the caller's sentence (a pause may split it)
    assert all(r["role"] == "user" and r["content"].startswith("(speech, ") for r in heard_rows)
    assert last["role"] == "assistant" and last["content"].startswith("You said: (speech, ")
    assert (report["ended_by"], report["end_reason"]) == ("user", "user_hangup")
