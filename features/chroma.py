"""Chroma: the power spectrum folded onto 12 pitch classes (Ellis 2007, librosa's filters)."""

from __future__ import annotations

import numpy as np

from features.config import FeatureConfig
from features.stft import Spectra, chroma_basis

PITCH_CLASSES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")


def chroma(sp: Spectra, cfg: FeatureConfig) -> np.ndarray:
    """Chroma energy per frame, each frame scaled to max 1; shape (n_chroma, n_frames).

    Equals ``librosa.feature.chroma_stft(S=|X|^2, tuning=0)``: tuning is fixed at A440 rather
    than estimated, which keeps the bank deterministic per file and cheap.
    """
    raw = chroma_basis(cfg.sr, cfg.n_fft, cfg.n_chroma) @ sp.power
    peak = raw.max(axis=0, keepdims=True)
    tiny = np.finfo(raw.dtype).tiny
    return np.where(peak > tiny, raw / np.where(peak > tiny, peak, 1.0), raw)


def chroma_names(cfg: FeatureConfig) -> list[str]:
    if cfg.n_chroma == 12:
        return [f"chroma_{p}" for p in PITCH_CLASSES]
    return [f"chroma_{i:02d}" for i in range(cfg.n_chroma)]
