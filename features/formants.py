"""Formants F1-F3 and their bandwidths per voiced frame, by linear prediction on the shared
power spectrum.

The vocal-tract resonances move with articulation and with emotional vocal settings (a
raised larynx, spread lips, tension), and eGeMAPS keeps F1-F3 with their bandwidths for that
reason (Eyben et al. 2016). The method is Praat's ``To Formant`` in outline (Boersma &
Weenink, Praat manual, "Sound: To Formant (burg)..."): the signal band-limited to a maximum
formant of 5,500 Hz (a mixed-gender default), pre-emphasised from 50 Hz, an all-pole model of
order 10 (five resonances), and the formants read off the poles. Band-limiting costs nothing
here: the autocorrelation of the signal resampled to twice the maximum formant is the inverse
transform of the frame's power spectrum truncated at that frequency (Wiener-Khinchin), so the
model is fitted by Levinson-Durbin recursion on a few lags of one small real transform
(Makhoul 1975, Linear prediction: a tutorial review, Proc. IEEE 63(4),
doi:10.1109/PROC.1975.9792), not by a second pass over the waveform. Praat fits by Burg's
method on a Gaussian window; the autocorrelation method on our Hann frame is the textbook
alternative, and the tests hold both to the known resonances of synthetic vowels and to each
other on real speech.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numba import njit

from features.stft import Spectra

#: Column names of the frame rows :func:`formants` returns.
NAMES: tuple[str, ...] = ("f1", "f2", "f3", "b1", "b2", "b3")
#: Highest formant searched, Hz (Praat's default for a mixed-gender corpus).
MAX_FORMANT_HZ = 5500.0
#: All-pole model order: two poles per formant, five formants below ``MAX_FORMANT_HZ``.
LPC_ORDER = 10
#: Pre-emphasis corner, Hz (Praat's "pre-emphasis from").
PRE_EMPHASIS_HZ = 50.0
#: Poles this close to 0 Hz or to the band edge are not formants (Praat: 50 Hz).
EDGE_HZ = 50.0


@lru_cache(maxsize=16)
def _band(sr: int, n_fft: int) -> tuple[int, float, np.ndarray]:
    """Bins kept (0 Hz up to ``MAX_FORMANT_HZ``), the equivalent sample rate, and the
    pre-emphasis filter's power response on those bins."""
    df = sr / n_fft
    n_bins = min(int(np.floor(MAX_FORMANT_HZ / df)) + 1, n_fft // 2 + 1)
    fs = 2.0 * (n_bins - 1) * df  # the rate at which the kept band is a full spectrum
    a = np.exp(-2.0 * np.pi * PRE_EMPHASIS_HZ / fs)
    w = 2.0 * np.pi * np.arange(n_bins) * df / fs
    emphasis = 1.0 - 2.0 * a * np.cos(w) + a * a  # |1 - a e^{-jw}|^2
    return n_bins, fs, emphasis.astype(np.float64)


@njit(cache=True)
def _levinson(r, order):
    """LPC coefficients a[0..order] (a[0] = 1) of each column of autocorrelations r
    (shape (order + 1, n)); a column whose recursion breaks down (silence) stays zero."""
    n = r.shape[1]
    out = np.zeros((n, order + 1))
    a = np.zeros(order + 1)
    tmp = np.zeros(order + 1)
    for t in range(n):
        err = r[0, t]
        if err <= 0.0:
            continue
        a[:] = 0.0
        a[0] = 1.0
        ok = True
        for i in range(1, order + 1):
            acc = r[i, t]
            for j in range(1, i):
                acc += a[j] * r[i - j, t]
            k = -acc / err
            tmp[:] = a
            for j in range(1, i):
                a[j] = tmp[j] + k * tmp[i - j]
            a[i] = k
            err *= 1.0 - k * k
            if err <= 1e-12 * r[0, t]:
                ok = False
                break
        if ok:
            out[t] = a
    return out


def lpc(sp: Spectra, frames: np.ndarray, sr: int, n_fft: int) -> tuple[np.ndarray, float]:
    """All-pole models of the chosen frames, band-limited to ``MAX_FORMANT_HZ`` and
    pre-emphasised; shape (len(frames), LPC_ORDER + 1), and the model's sample rate (Hz)."""
    n_bins, fs, emphasis = _band(sr, n_fft)
    power = sp.power[:n_bins, frames].astype(np.float64) * emphasis[:, None]
    r = scipy.fft.irfft(power, n=2 * (n_bins - 1), axis=0)[: LPC_ORDER + 1]
    return _levinson(np.ascontiguousarray(r), LPC_ORDER), fs


def poles_to_formants(a: np.ndarray, fs: float, n: int = 3) -> np.ndarray:
    """The ``n`` lowest resonances of each all-pole model.

    Parameters
    ----------
    a : np.ndarray, shape (n_models, order + 1)
        Prediction polynomials, ``a[:, 0] == 1`` (rows of zeros: no model).
    fs : float
        The models' sample rate, Hz.

    Returns
    -------
    np.ndarray, shape (2 * n, n_models)
        Frequencies then bandwidths (Hz) of the ``n`` lowest poles in the upper half plane
        between ``EDGE_HZ`` and ``fs / 2 - EDGE_HZ``: ``f = arg(z) fs / 2 pi``,
        ``b = -ln|z| fs / pi``; NaN where a model has fewer.
    """
    n_models, m = a.shape[0], a.shape[1] - 1
    out = np.full((2 * n, n_models), np.nan)
    valid = a[:, 0] == 1.0
    if not valid.any():
        return out
    companion = np.zeros((int(valid.sum()), m, m))
    companion[:, 0, :] = -a[valid, 1:]
    companion[:, np.arange(1, m), np.arange(m - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    freq = np.angle(roots) * fs / (2.0 * np.pi)
    bw = -np.log(np.maximum(np.abs(roots), 1e-12)) * fs / np.pi
    keep = (freq > EDGE_HZ) & (freq < fs / 2.0 - EDGE_HZ)
    freq = np.where(keep, freq, np.inf)
    order = np.argsort(freq, axis=1)[:, :n]
    f = np.take_along_axis(freq, order, axis=1)
    b = np.take_along_axis(bw, order, axis=1)
    b[~np.isfinite(f)] = np.nan
    f[~np.isfinite(f)] = np.nan
    out[:n, valid] = f.T
    out[n:, valid] = b.T
    return out


def formants(sp: Spectra, voiced: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """F1-F3 and B1-B3 (rows of :data:`NAMES`, Hz) per frame; shape (6, n_frames), NaN on
    unvoiced frames (formants of noise or silence are not articulation)."""
    out = np.full((len(NAMES), sp.n_frames), np.nan)
    idx = np.flatnonzero(voiced)
    if idx.size:
        a, fs = lpc(sp, idx, sr, n_fft)
        out[:, idx] = poles_to_formants(a, fs, n=3)
    return out
