"""The voicemail beep: one steady tone that starts, lasts a moment and stops.

The audio is cut into hops of ``HOP_SECONDS``. A hop is *tonal* when the peak of its
Hann-windowed spectrum (± ``PEAK_BINS`` bins) holds at least ``CONCENTRATION`` of the telephone
band's energy, lies in ``PITCH``, is loud (``MIN_LEVEL_DB`` and ``FLOOR_MARGIN_DB`` above the
quietest hop of the last ``FLOOR_SECONDS``) and keeps a steady envelope across the hop. A run of
tonal hops at one frequency (within ``FREQUENCY_TOLERANCE``) lasting ``MIN_SECONDS`` to
``MAX_SECONDS`` is a beep, reported at the first hop after it. Speech vowels are too short or too
unsteady; DTMF splits its energy between two bands and ringback (440 + 480 Hz) beats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HOP_SECONDS = 0.02
"""Length of the analysed hops (bins of 50 Hz)."""
BLOCKS = 4
"""Parts of a hop whose energies must be alike (a steady envelope; also the edge resolution)."""
STEADY = 0.6
"""Least energy of a hop's quietest part, relative to its loudest, in a tonal hop."""
BAND = (250.0, 3400.0)
"""The telephone band (Hz) whose energy the peak must hold."""
PITCH = (300.0, 2600.0)
"""Where a beep's frequency may lie (Hz)."""
PEAK_BINS = 2
"""Bins either side of the peak that count as the tone (a Hann window's main lobe)."""
CONCENTRATION = 0.9
"""Least share of the band's energy that the peak holds in a tonal hop."""
MIN_LEVEL_DB = -40.0
"""Least level (dBFS RMS) of a tonal hop."""
FLOOR_MARGIN_DB = 10.0
"""How far above the noise floor (the quietest recent hop) a tonal hop is."""
FLOOR_SECONDS = 3.0
"""How far back the noise floor looks (longer than a beep, so a beep never lifts it)."""
FREQUENCY_TOLERANCE = 0.04
"""Largest relative distance of a hop's frequency from the run's mean."""
MIN_SECONDS = 0.12
"""Shortest beep (tonal vowels of speech are shorter)."""
MAX_SECONDS = 2.5
"""Longest beep (a longer tone is a dial tone, a fax or a hold tone)."""

Samples = npt.NDArray[np.int16] | npt.NDArray[np.float32]


@dataclass(frozen=True)
class Beep:
    """A beep heard on the line: times in seconds since the first sample fed."""

    start: float
    end: float
    frequency: float
    """Hz."""


@dataclass(slots=True)
class _Run:
    """Consecutive tonal hops at one frequency."""

    start: float
    end: float
    frequency_sum: float
    hops: int
    energy: float
    """Mean energy of the parts of the latest hop."""

    @property
    def frequency(self) -> float:
        return self.frequency_sum / self.hops

    @property
    def seconds(self) -> float:
        return self.end - self.start


class BeepDetector:
    """Finds beeps in mono audio fed in pieces of any length."""

    def __init__(self, sample_rate: int) -> None:
        self._hop = round(sample_rate * HOP_SECONDS)
        self._hop_seconds = self._hop / sample_rate
        self._block = self._hop // BLOCKS
        self._block_seconds = self._block / sample_rate
        self._bin_hz = sample_rate / self._hop
        # The Hann-windowed DFT of the band's bins and one more either side (for the peak's
        # interpolation): a matrix product, cheaper than a whole FFT for so few bins.
        self._first_bin = math.ceil(BAND[0] / self._bin_hz) - 1
        bins = np.arange(self._first_bin, math.floor(BAND[1] / self._bin_hz) + 2)
        phase = 2 * np.pi * np.outer(bins, np.arange(self._hop)) / self._hop
        window = np.hanning(self._hop)
        self._dft = np.concatenate((np.cos(phase) * window, np.sin(phase) * window)).astype(
            np.float32
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self._hops = 0
        self._levels = np.full(round(FLOOR_SECONDS / HOP_SECONDS), np.inf)  # no floor yet: no tone
        self._previous = [0.0] * BLOCKS
        self._run: _Run | None = None

    @property
    def tone_started(self) -> bool:
        """Whether a beep-like tone is sounding now, long enough to count and not too long."""
        return self._run is not None and MIN_SECONDS <= self._run.seconds <= MAX_SECONDS

    def push(self, samples: Samples) -> Beep | None:
        """Feed int16 (or float32 in [-1, 1]) mono samples; the beep whose end they hold, if any.

        Each beep is returned once, by the push that holds the hop after its end (if one push holds
        several ends, the first).
        """
        floats = samples.astype(np.float32)  # a copy: the caller may reuse its buffer
        if samples.dtype == np.int16:
            floats /= 32768
        audio = np.concatenate((self._pending, floats)) if self._pending.size else floats
        found = None
        end = audio.size - audio.size % self._hop
        for start in range(0, end, self._hop):
            beep = self._step(audio[start : start + self._hop])
            found = found or beep
        self._pending = audio[end:]
        return found

    def _step(self, hop: npt.NDArray[np.float32]) -> Beep | None:
        """Take in one hop: the beep it ends, if any."""
        tonal, frequency, blocks = self._analyse(hop)
        start = self._hops * self._hop_seconds
        self._hops += 1
        previous, self._previous = self._previous, blocks
        run = self._run
        energy = sum(blocks) / BLOCKS
        if tonal and run and abs(frequency - run.frequency) <= FREQUENCY_TOLERANCE * run.frequency:
            run.end = start + self._hop_seconds
            run.frequency_sum += frequency
            run.hops += 1
            run.energy = energy
            return None
        beep = None
        if run:
            # The tone also sounds in the first parts of this hop, unless another one took over.
            end = run.end + (0.0 if tonal else self._edge(blocks, run.energy))
            if MIN_SECONDS <= end - run.start <= MAX_SECONDS:
                beep = Beep(start=run.start, end=end, frequency=run.frequency)
        self._run = None
        if tonal:
            edge = 0.0 if run else self._edge(reversed(previous), energy)
            self._run = _Run(start - edge, start + self._hop_seconds, frequency, 1, energy)
        return beep

    def _analyse(self, hop: npt.NDArray[np.float32]) -> tuple[bool, float, list[float]]:
        """Whether ``hop`` is tonal, its frequency and the energies of its parts.

        Also adds its level to the noise floor's history.
        """
        parts = hop[: BLOCKS * self._block].reshape(BLOCKS, self._block)
        blocks: list[float] = np.einsum("ij,ij->i", parts, parts).tolist()
        level = 10 * math.log10(max(sum(blocks) / (BLOCKS * self._block), 1e-12))
        floor = float(self._levels.min())
        self._levels[self._hops % self._levels.size] = level
        if level < max(MIN_LEVEL_DB, floor + FLOOR_MARGIN_DB) or min(blocks) < STEADY * max(blocks):
            return False, 0.0, blocks
        spectrum = self._dft @ hop
        spectrum *= spectrum
        power = spectrum[: spectrum.size // 2] + spectrum[spectrum.size // 2 :]
        band = power[1:-1]
        peak = int(band.argmax())
        share = float(band[max(peak - PEAK_BINS, 0) : peak + PEAK_BINS + 1].sum() / band.sum())
        # The peak's offset within its bin, from a parabola through the log power around it.
        left, centre, right = (math.log(value + 1e-20) for value in power[peak : peak + 3].tolist())
        offset = 0.5 * (left - right) / min(left - 2 * centre + right, -1e-9)
        frequency = (self._first_bin + 1 + peak + offset) * self._bin_hz
        tonal = share >= CONCENTRATION and PITCH[0] <= frequency <= PITCH[1]
        return tonal, frequency, blocks

    def _edge(self, blocks: Iterable[float], energy: float) -> float:
        """Seconds the tone (parts of ``energy``) lasts into the hop of ``blocks``, in order."""
        parts = 0
        for block in blocks:
            if block < energy / 2:
                break
            parts += 1
        return parts * self._block_seconds
