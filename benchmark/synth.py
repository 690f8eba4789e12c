"""The built-in synthetic emotional-speech corpus.

A source-filter synthesiser (glottal pulse train -> spectral-tilt filter -> cascade of formant
resonators, Klatt 1980) speaks vowel-consonant syllables. Each speaker has a base pitch and a
vocal-tract length (formants scale with it); each emotion is a prosody: F0 level and range,
tempo, energy, spectral tilt, jitter and breathiness (after the cue profiles of Juslin & Laukka
2003, doi:10.1037/0033-2909.129.5.770). Strong intensity doubles an emotion's departure from
neutral. Files follow RAVDESS names (``Actor_NN/03-01-EE-II-SS-RR-NN.wav``), so the RAVDESS
convention reads them. Everything is seeded: the same arguments give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from benchmark.corpora.ravdess import EMOTIONS as RAVDESS_CODES


@dataclass(frozen=True)
class Prosody:
    f0_scale: float  # multiplies the speaker's base F0
    f0_range_st: float  # contour excursion, semitones
    rate_syl_s: float  # syllables per second
    gain_db: float
    tilt: float  # 0 = bright (flat source), 1 = dark (steep roll-off)
    jitter: float  # relative cycle-to-cycle F0 perturbation
    breath: float  # aspiration noise relative to voicing
    rise: float = 0.0  # final F0 rise, semitones (questions, surprise)


PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(1.00, 2.0, 4.0, 0.0, 0.50, 0.005, 0.02),
    "calm": Prosody(0.95, 1.5, 3.4, -3.0, 0.65, 0.004, 0.05),
    "happy": Prosody(1.22, 5.0, 4.6, 3.0, 0.35, 0.010, 0.02),
    "sad": Prosody(0.90, 1.0, 3.0, -5.0, 0.75, 0.008, 0.07),
    "angry": Prosody(1.28, 4.0, 4.8, 6.0, 0.15, 0.015, 0.03),
    "fearful": Prosody(1.38, 3.0, 5.3, 1.0, 0.40, 0.025, 0.05),
    "disgust": Prosody(0.92, 3.0, 3.2, 1.0, 0.55, 0.012, 0.06),
    "surprised": Prosody(1.32, 6.0, 4.2, 3.0, 0.35, 0.008, 0.03, rise=5.0),
}

#: Vowel formants (F1, F2, F3) in Hz for an adult male tract (Peterson & Barney 1952).
VOWELS = np.array([
    [730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
    [660, 1720, 2410], [570, 840, 2410], [440, 1020, 2240], [490, 1350, 1690],
], dtype=float)
STATEMENTS = {1: [0, 3, 5, 1, 6, 4, 2, 7], 2: [4, 1, 6, 0, 3, 7, 5, 2]}


@dataclass(frozen=True)
class Speaker:
    actor: int
    f0: float  # Hz
    tract: float  # formant scale: >1 = shorter tract (higher formants)


def speakers(n: int, seed: int = 0) -> list[Speaker]:
    """``n`` speakers, odd actor numbers male (as in RAVDESS)."""
    rng = np.random.default_rng([seed, 7919])
    out = []
    for actor in range(1, n + 1):
        male = actor % 2 == 1
        f0 = rng.normal(115.0, 12.0) if male else rng.normal(205.0, 18.0)
        tract = rng.normal(1.0, 0.04) if male else rng.normal(1.16, 0.04)
        out.append(Speaker(actor, float(f0), float(tract)))
    return out


def _blend(neutral: float, target: float, strength: float) -> float:
    return neutral + strength * (target - neutral)


def utterance(spk: Speaker, emotion: str, strong: bool, statement: int, rng: np.random.Generator,
              sr: int = 16000) -> np.ndarray:
    """One synthetic utterance, float32 in [-1, 1], shape (n_samples,)."""
    neu, emo = PROSODY["neutral"], PROSODY[emotion]
    k = 2.0 if strong else 1.0
    p = Prosody(*(_blend(a, b, k) for a, b in zip(
        (neu.f0_scale, neu.f0_range_st, neu.rate_syl_s, neu.gain_db, neu.tilt, neu.jitter,
         neu.breath, neu.rise),
        (emo.f0_scale, emo.f0_range_st, emo.rate_syl_s, emo.gain_db, emo.tilt, emo.jitter,
         emo.breath, emo.rise), strict=True)))
    vowels = STATEMENTS[statement]
    n_syl = len(vowels)
    syl_s = 1.0 / max(p.rate_syl_s * rng.uniform(0.92, 1.08), 1.5)
    lead = int(sr * rng.uniform(0.15, 0.3))
    parts = [np.zeros(lead)]
    base = spk.f0 * p.f0_scale * rng.uniform(0.97, 1.03)
    for i, v in enumerate(vowels):
        n_cons = int(sr * syl_s * 0.25)
        n_vow = int(sr * syl_s * 0.75)
        # consonant: a short fricative noise burst
        cons = lfilter([1, -0.9], [1], rng.standard_normal(n_cons))
        # F0 contour: declination, accent, emotional range and final rise (in semitones)
        t = np.linspace(0.0, 1.0, n_vow)
        pos = (i + t) / n_syl
        st = (p.f0_range_st * np.sin(np.pi * (i % 3 + t) / 1.5) * rng.uniform(0.7, 1.3)
              - 2.0 * pos + p.rise * np.clip(pos - 0.7, 0, None) / 0.3)
        f0 = base * 2.0 ** (st / 12.0)
        f0 *= 1.0 + p.jitter * rng.standard_normal(n_vow).cumsum() / np.sqrt(n_vow) * 3.0
        f0 = np.clip(f0, 50.0, 700.0)
        phase = np.cumsum(f0 / sr)
        src = np.diff(np.floor(phase), prepend=0.0)  # one impulse per glottal cycle
        src = src * (1.0 + 0.1 * p.jitter * 20 * rng.standard_normal(n_vow))  # shimmer
        # glottal roll-off: a one-pole low-pass, steeper for darker voices
        a = 0.80 + 0.17 * np.clip(p.tilt, 0.0, 1.2)
        src = lfilter([1.0 - a], [1.0, -a], src)
        src = src + p.breath * rng.standard_normal(n_vow) * 0.03
        voiced = src
        formants = VOWELS[v] * spk.tract * rng.uniform(0.97, 1.03, 3)
        for j, fc in enumerate(formants):
            bw = 60.0 + 40.0 * j
            r = np.exp(-np.pi * bw / sr)
            theta = 2 * np.pi * min(fc, sr / 2 - 200) / sr
            voiced = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], voiced)
        voiced = voiced / (np.sqrt(np.mean(voiced**2)) + 1e-12)  # unit-RMS vowel
        env = np.sin(np.pi * np.linspace(0, 1, n_vow)) ** 0.5
        parts += [cons / (np.sqrt(np.mean(cons**2)) + 1e-12) * 0.12, voiced * env]
    parts.append(np.zeros(int(sr * rng.uniform(0.15, 0.3))))
    y = np.concatenate(parts)
    y = y / (np.max(np.abs(y)) + 1e-9) * 0.2 * 10 ** (p.gain_db / 20.0)
    y += rng.standard_normal(y.size) * 3e-4  # room noise: never digital silence
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def write_corpus(out_dir: str | Path, n_speakers: int = 8, seed: int = 0, sr: int = 16000,
                 emotions: tuple[str, ...] | None = None) -> list[Path]:
    """Write the corpus under ``out_dir`` and return the file paths.

    Per speaker: every emotion x intensity (neutral: normal only, as in RAVDESS) x 2 statements
    x 2 repetitions, so 60 files per speaker with all eight emotions.
    """
    out_dir = Path(out_dir)
    emotions = emotions or tuple(PROSODY)
    code = {name: c for c, name in RAVDESS_CODES.items()}
    written = []
    for spk in speakers(n_speakers, seed):
        folder = out_dir / f"Actor_{spk.actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in emotions:
            for intensity in (1,) if emotion == "neutral" else (1, 2):
                for statement in (1, 2):
                    for rep in (1, 2):
                        rng = np.random.default_rng(
                            [seed, spk.actor, int(code[emotion]), intensity, statement, rep])
                        y = utterance(spk, emotion, intensity == 2, statement, rng, sr)
                        name = (f"03-01-{code[emotion]}-{intensity:02d}-{statement:02d}-"
                                f"{rep:02d}-{spk.actor:02d}.wav")
                        path = folder / name
                        sf.write(path, y, sr, subtype="PCM_16")
                        written.append(path)
    return written
