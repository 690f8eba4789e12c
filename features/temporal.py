"""Energy and zero-crossing descriptors.

RMS comes from the shared spectrum (Parseval); ZCR needs the waveform and runs as one numba
pass over it with the STFT's framing, so no frame matrix is ever materialised.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from features.config import FeatureConfig
from features.stft import Spectra


@njit(cache=True)
def _zcr_kernel(y, frame_length, hop_length, n_frames, threshold):
    half = frame_length // 2
    n = y.shape[0]
    out = np.empty(n_frames)
    for t in range(n_frames):
        start = t * hop_length - half
        count = 0
        prev = False
        for i in range(frame_length):
            j = min(max(start + i, 0), n - 1)  # edge padding, as librosa's centred ZCR
            v = y[j]
            neg = v < -threshold  # |v| <= threshold counts as zero, zero as positive
            if i > 0 and neg != prev:
                count += 1
            prev = neg
        out[t] = count / frame_length
    return out


def zcr(y: np.ndarray, n_frames: int, cfg: FeatureConfig) -> np.ndarray:
    """Zero-crossing rate per frame (fraction of samples); shape (n_frames,).

    Frames are ``win_length`` samples centred on ``t * hop_length`` with edge padding, as
    ``librosa.feature.zero_crossing_rate(y, frame_length=win_length, hop_length, center=True)``.
    """
    return _zcr_kernel(np.asarray(y, dtype=np.float32), cfg.win_length, cfg.hop_length, n_frames,
                       1e-10)


@njit(cache=True)
def _rms_kernel(power, n_fft):
    n_bins, n_frames = power.shape
    out = np.empty(n_frames)
    last = n_bins - 1
    for t in range(n_frames):
        s = 0.5 * power[0, t]
        for f in range(1, last):
            s += power[f, t]
        s += 0.5 * power[last, t] if n_fft % 2 == 0 else power[last, t]
        out[t] = np.sqrt(2.0 * s / (n_fft * n_fft))
    return out


def rms(sp: Spectra, cfg: FeatureConfig) -> np.ndarray:
    """Root-mean-square energy per frame from the power spectrum; shape (n_frames,).

    librosa's spectral convention (``librosa.feature.rms(S=|X|, frame_length=n_fft)``): the
    energy of the windowed frame divided by ``n_fft``, by Parseval's theorem.
    """
    return _rms_kernel(sp.power, cfg.n_fft)
