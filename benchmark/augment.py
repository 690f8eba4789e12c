"""Data augmentation for training folds: noise, gain, pitch shift, time stretch.

Copies are made from a file's own audio with a seed derived from its *content* and the copy
number, so a copy is the same whichever fold asks for it and its features are cached like any
other (the cache namespace names the augmentation). Which rows may receive copies is decided
in :func:`training_rows`, the only place augmented rows join a training set: copies of test
speakers, or of an inner validation fold, never get there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Each copy draws every enabled transform's amount uniformly from its range."""

    copies: int = 0  # copies per training file; 0 = off
    snr_db: tuple[float, float] | None = (10.0, 30.0)  # additive noise
    gain_db: tuple[float, float] | None = (-6.0, 6.0)
    pitch_semitones: tuple[float, float] | None = (-2.0, 2.0)
    stretch: tuple[float, float] | None = (0.9, 1.1)  # rate: >1 faster
    noise_dir: str | None = None  # real noise recordings; white noise when unset
    seed: int = 0
    compare: bool = True  # also run every cell without augmentation (the ablation row)

    def __post_init__(self):
        if self.copies < 0:
            raise ValueError("augmentation.copies must be >= 0")
        for name in ("snr_db", "gain_db", "pitch_semitones", "stretch"):
            v = getattr(self, name)
            if v is not None:
                if len(v) != 2 or v[0] > v[1]:
                    raise ValueError(f"augmentation.{name} must be [low, high]")
                object.__setattr__(self, name, (float(v[0]), float(v[1])))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _noise_files(noise_dir: str | None) -> list[Path]:
    if not noise_dir:
        return []
    from benchmark.audio import AUDIO_EXTENSIONS

    return sorted(p for p in Path(noise_dir).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)


def augment(y: np.ndarray, sr: int, cfg: AugmentConfig, content_key: str, copy: int
            ) -> np.ndarray:
    """Copy number ``copy`` of signal ``y`` (mono float32); deterministic per content+copy."""
    import librosa

    seed = int.from_bytes(hashlib.blake2b(f"{content_key}:{copy}:{cfg.seed}".encode(),
                                          digest_size=8).digest(), "little")
    rng = np.random.default_rng(seed)
    out = np.asarray(y, dtype=np.float32)
    if cfg.stretch is not None:
        out = librosa.effects.time_stretch(out, rate=float(rng.uniform(*cfg.stretch)))
    if cfg.pitch_semitones is not None:
        out = librosa.effects.pitch_shift(out, sr=sr, n_steps=float(rng.uniform(
            *cfg.pitch_semitones)), res_type="soxr_hq")
    if cfg.gain_db is not None:
        out = out * np.float32(10 ** (rng.uniform(*cfg.gain_db) / 20))
    if cfg.snr_db is not None:
        noise = _noise(out.size, sr, cfg, rng)
        signal_power = float(np.mean(out**2)) + 1e-12
        noise_power = float(np.mean(noise**2)) + 1e-12
        snr = rng.uniform(*cfg.snr_db)
        out = out + noise * np.sqrt(signal_power / noise_power / 10 ** (snr / 10))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _noise(n: int, sr: int, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    files = _noise_files(cfg.noise_dir)
    if not files:
        return rng.standard_normal(n).astype(np.float32)
    from benchmark import audio

    noise = audio.load(files[int(rng.integers(len(files)))], sr)
    reps = int(np.ceil(n / noise.size)) + 1
    noise = np.tile(noise, reps)
    start = int(rng.integers(0, noise.size - n + 1))
    return noise[start:start + n]


@dataclass(frozen=True)
class Copy:
    """One augmented copy as a transform :func:`features.parallel.extract` applies before the
    bank: its ``name`` keeps its cache entries apart from the originals'."""

    config: AugmentConfig
    index: int

    @property
    def name(self) -> str:
        return f"aug{self.config.digest()}c{self.index}"

    def __call__(self, y: np.ndarray, sr: int, content_key: str) -> np.ndarray:
        return augment(y, sr, self.config, content_key, self.index)


def training_rows(train: np.ndarray, n_rows: int, copies: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a training set with its augmented copies.

    Augmented features are stored after the originals: copy ``c`` of row ``i`` is row
    ``n_rows * (1 + c) + i`` of the stacked matrix. Returns ``(rows, source)``: the rows to
    train on and, for each, the original row it comes from, so callers (and tests) can see
    that every copy's source is itself a training row.
    """
    train = np.asarray(train)
    rows = [train] + [n_rows * (1 + c) + train for c in range(copies)]
    return np.concatenate(rows), np.tile(train, copies + 1)
