"""Log-mel and MFCC (with deltas) from the shared mel spectrogram."""

from __future__ import annotations

import numpy as np

from features import filters
from features.config import FeatureConfig
from features.filters import derivative, rasta
from features.stft import Spectra, power_to_db


def logmel(sp: Spectra, cfg: FeatureConfig, warp: float = 1.0) -> np.ndarray:
    """Log-mel power, dB re 1, floored ``top_db`` below the utterance's peak; (n_mels, n_frames).
    ``warp`` != 1: through filters whose edges are scaled by it (``features.filters.mel``), a
    vocal tract length warp (``features.formants.warp_factor``)."""
    if warp == 1.0:
        return power_to_db(sp.mel, top_db=cfg.top_db)
    basis = filters.mel(cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, warp)
    return power_to_db(basis @ sp.power, top_db=cfg.top_db)


def mfcc(log_mel: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """MFCC: orthonormal DCT-II of the log-mel bands; shape (n_mfcc, n_frames).

    As ``librosa.feature.mfcc(S=log_mel, n_mfcc, dct_type=2, norm='ortho', lifter=0)``.
    Davis & Mermelstein (1980), doi:10.1109/TASSP.1980.1163420.
    """
    import scipy.fft  # here, not at the top: see features.stft.spectra
    return scipy.fft.dct(log_mel, axis=0, type=2, norm="ortho")[: cfg.n_mfcc]


def cepstrum(log_mel: np.ndarray, cfg: FeatureConfig) -> list[np.ndarray]:
    """The MFCC rows of the bank: the cepstrum (RASTA-filtered if ``cfg.rasta``), then its
    ``cfg.delta_order`` deltas."""
    m = mfcc(log_mel, cfg)
    if cfg.rasta:
        m = rasta(m)
    return [m, *deltas(m, cfg)]


def deltas(x: np.ndarray, cfg: FeatureConfig) -> list[np.ndarray]:
    """Delta and delta-delta (``cfg.delta_order`` of them) of each row by Savitzky-Golay
    filtering, as ``librosa.feature.delta``; utterances shorter than the window use the widest
    odd window that fits, and a one- or two-frame utterance has zero deltas."""
    n = x.shape[1]
    width = min(cfg.delta_width, n if n % 2 else n - 1)
    out = []
    for order in range(1, cfg.delta_order + 1):
        if width < 3 or order >= width:
            out.append(np.zeros_like(x))
        else:
            out.append(derivative(x, width, order))
    return out
