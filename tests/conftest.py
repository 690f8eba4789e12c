"""Shared fixtures: a small synthetic corpus and helpers that write real audio files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark.synth import write_corpus

DATA = os.environ.get("SERBENCH_DATA")


def tone(seconds: float = 1.0, sr: int = 16000, f0: float = 220.0, channels: int = 1,
         seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise: a real, non-silent signal."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.2
    y = y + 0.01 * rng.standard_normal(t.size)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    return y.astype(np.float32)


def write_tone(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1,
               fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sr, channels=channels, **kw), sr, format=fmt)
    return path


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A data root holding ``synth/``: 6 speakers x 60 files, RAVDESS names."""
    root = tmp_path_factory.mktemp("data")
    write_corpus(root / "synth", n_speakers=6, seed=0)
    return root


def real_corpus(name: str) -> Path:
    if not DATA or not (Path(DATA) / name).is_dir():
        pytest.skip(f"real corpus {name!r} not available (set SERBENCH_DATA)")
    return Path(DATA) / name
