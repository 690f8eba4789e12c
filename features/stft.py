"""The single STFT per signal, and the projections every descriptor shares.

Everything downstream reads from :class:`Spectra`; no descriptor computes its own transform.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np

from features.config import FeatureConfig


@dataclass(frozen=True)
class Spectra:
    """Shared spectral views of one signal.

    Attributes
    ----------
    mag : np.ndarray, shape (1 + n_fft // 2, n_frames), float32
        STFT magnitude |X|.
    power : np.ndarray, same shape
        |X|^2.
    mel : np.ndarray, shape (n_mels, n_frames)
        Mel power spectrogram (Slaney-normalised filters, as librosa's defaults).
    """

    mag: np.ndarray
    power: np.ndarray
    mel: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.mag.shape[1]


def spectra(y: np.ndarray, cfg: FeatureConfig) -> Spectra:
    """Hann-windowed, centred STFT of ``y`` (mono, ``cfg.sr`` Hz), zero-padded at the edges.

    Same framing as ``librosa.stft(y, n_fft, hop_length, win_length, center=True)``, so frame t
    is centred on sample ``t * hop_length``.
    """
    with warnings.catch_warnings():
        # a signal shorter than n_fft is zero-padded, which is what we want; no warning
        warnings.filterwarnings("ignore", message="n_fft=.*too large", category=UserWarning)
        stft = librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                            win_length=cfg.win_length, window="hann", center=True,
                            pad_mode="constant")
    mag = np.abs(stft)
    power = np.square(mag)
    mel = mel_basis(cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax) @ power
    return Spectra(mag=mag, power=power, mel=mel)


@lru_cache(maxsize=16)
def mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa's mel filterbank, built once per process; shape (n_mels, 1 + n_fft // 2)."""
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                               dtype=np.float32)


@lru_cache(maxsize=16)
def chroma_basis(sr: int, n_fft: int, n_chroma: int) -> np.ndarray:
    """librosa's chroma filterbank at tuning 0 (A440); shape (n_chroma, 1 + n_fft // 2)."""
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=n_chroma, tuning=0.0,
                                  dtype=np.float32)


@lru_cache(maxsize=16)
def window_autocorrelation(n_fft: int, win_length: int) -> np.ndarray:
    """Normalised autocorrelation of the analysis window as the STFT pads it; shape (n_fft,).

    The pitch tracker divides a frame's autocorrelation by this (Boersma 1993).
    """
    window = librosa.filters.get_window("hann", win_length, fftbins=True)
    window = librosa.util.pad_center(window, size=n_fft)
    r = np.fft.irfft(np.abs(np.fft.rfft(window)) ** 2, n=n_fft)
    return (r / r[0]).astype(np.float64)


def fft_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency of each STFT bin, Hz; shape (1 + n_fft // 2,)."""
    return librosa.fft_frequencies(sr=cfg.sr, n_fft=cfg.n_fft)


def power_to_db(x: np.ndarray, top_db: float | None = 80.0) -> np.ndarray:
    """``librosa.power_to_db`` with ref=1 and amin=1e-10: the dB convention every group uses."""
    return librosa.power_to_db(x, ref=1.0, amin=1e-10, top_db=top_db)
