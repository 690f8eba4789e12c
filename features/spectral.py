"""Frame-level spectral shape descriptors from the shared magnitude spectrum.

One fused numba pass computes centroid, bandwidth, roll-off and flatness; contrast has its own
kernel. Each matches its ``librosa.feature`` counterpart given the same spectrogram (see
``tests/test_features_equivalence.py`` for the tolerances).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from features.config import FeatureConfig
from features.stft import Spectra, fft_frequencies, power_to_db


@njit(cache=True, fastmath=True)
def _shape_kernel(mag_frames, freqs, roll_percent):
    n_frames, n_bins = mag_frames.shape
    out = np.empty((4, n_frames))
    for t in range(n_frames):
        frame = mag_frames[t]
        total = 0.0
        weighted = 0.0
        for f in range(n_bins):
            s = frame[f]
            total += s
            weighted += freqs[f] * s
        norm = total if total > 1e-30 else 1.0
        centroid = weighted / norm
        spread = 0.0
        for f in range(n_bins):
            d = freqs[f] - centroid
            spread += frame[f] / norm * d * d
        threshold = roll_percent * total
        cum = 0.0
        rolloff = freqs[n_bins - 1]
        for f in range(n_bins):
            cum += frame[f]
            if cum >= threshold:
                rolloff = freqs[f]
                break
        out[0, t] = centroid
        out[1, t] = np.sqrt(spread)
        out[2, t] = rolloff
    return out


def shape(sp: Spectra, cfg: FeatureConfig) -> np.ndarray:
    """Spectral centroid, bandwidth (p=2), roll-off (Hz) and flatness (power, amin 1e-10), of
    the bins up to ``cfg.spectral_fmax`` (librosa's given those bins and their frequencies).

    Returns
    -------
    np.ndarray, shape (4, n_frames)
        Rows in :data:`SHAPE_NAMES` order. Peeters (2004), A large set of audio features for
        sound description, IRCAM; Dubnov (2004) for flatness.
    """
    freqs = fft_frequencies(cfg)
    n = len(freqs) if cfg.spectral_fmax is None else int(np.sum(freqs <= cfg.spectral_fmax))
    out = _shape_kernel(sp.mag_frames[:, :n], freqs[:n], cfg.rolloff_percent)
    # flatness: geometric over arithmetic mean of the power; the logs vectorised in float32
    # (a tenth of the float64 kernel's cost, well inside the tests' tolerance)
    p = np.maximum(sp.power[:n], np.float32(1e-10))
    out[3] = np.exp(np.log(p).mean(axis=0, dtype=np.float64)) / p.mean(axis=0, dtype=np.float64)
    return out


SHAPE_NAMES = ("centroid", "bandwidth", "rolloff", "flatness")


@lru_cache(maxsize=16)
def contrast_bands(sr: int, n_fft: int, fmin: float, n_bands: int, quantile: float,
                   fmax: float | None = None):
    """Bin ranges [start, stop) and quantile counts of the octave bands, as librosa draws them
    (on the bins up to ``fmax``, Hz, when given: the top band then ends there, not at
    Nyquist)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    if fmax is not None:
        freqs = freqs[freqs <= fmax]
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * 2.0 ** np.arange(n_bands + 1)
    if np.any(octa[:-1] >= min(0.5 * sr, freqs[-1])):
        raise ValueError("spectral contrast bands exceed Nyquist or spectral_fmax: lower "
                         "contrast_fmin or n_contrast_bands")
    starts, stops, counts = [], [], []
    for k, (lo, hi) in enumerate(zip(octa[:-1], octa[1:], strict=True)):
        idx = np.flatnonzero((freqs >= lo) & (freqs <= hi))
        first = idx[0] - 1 if k > 0 else idx[0]
        last = len(freqs) - 1 if k == n_bands else idx[-1]
        n_in = last - first + 1
        starts.append(first)
        stops.append(last + 1 if k == n_bands else last)  # librosa drops the top bin below
        counts.append(max(int(np.rint(quantile * n_in)), 1))
    return np.array(starts), np.array(stops), np.array(counts)


@njit(cache=True)
def _contrast_kernel(mag_frames, starts, stops, counts):
    # Only the q smallest and q largest bins of a band matter (q is 1-5 at the default
    # quantile), so two small insertion buffers replace a full sort of every band and frame.
    n_bands = starts.shape[0]
    n_frames = mag_frames.shape[0]
    peak = np.empty((n_bands, n_frames))
    valley = np.empty((n_bands, n_frames))
    lows = np.empty(counts.max())
    highs = np.empty(counts.max())
    for k in range(n_bands):
        q = counts[k]
        for t in range(n_frames):
            frame = mag_frames[t]
            n_low = 0
            n_high = 0
            for f in range(starts[k], stops[k]):
                v = frame[f]
                if n_low < q or v < lows[n_low - 1]:  # keep lows ascending
                    i = min(n_low, q - 1)
                    while i > 0 and lows[i - 1] > v:
                        lows[i] = lows[i - 1]
                        i -= 1
                    lows[i] = v
                    n_low = min(n_low + 1, q)
                if n_high < q or v > highs[n_high - 1]:  # keep highs descending
                    i = min(n_high, q - 1)
                    while i > 0 and highs[i - 1] < v:
                        highs[i] = highs[i - 1]
                        i -= 1
                    highs[i] = v
                    n_high = min(n_high + 1, q)
            lo = 0.0
            hi = 0.0
            for i in range(q):
                lo += lows[i]
                hi += highs[i]
            valley[k, t] = lo / q
            peak[k, t] = hi / q
    return peak, valley


def contrast(sp: Spectra, cfg: FeatureConfig) -> np.ndarray:
    """Octave-band spectral contrast, dB; shape (n_contrast_bands + 1, n_frames).

    Jiang et al. (2002), Music type classification by spectral contrast feature, ICME. As in
    librosa, peaks and valleys are magnitude means converted with ``power_to_db`` (top_db 80).
    With ``spectral_fmax``, librosa's on the bins up to it: the top band then measures the
    voice, not where the recording chain's anti-aliasing filter cut (``tests/test_invariance``).
    """
    starts, stops, counts = contrast_bands(cfg.sr, cfg.n_fft, cfg.contrast_fmin,
                                           cfg.n_contrast_bands, cfg.contrast_quantile,
                                           cfg.spectral_fmax)
    peak, valley = _contrast_kernel(sp.mag_frames, starts, stops, counts)
    return power_to_db(peak) - power_to_db(valley)
