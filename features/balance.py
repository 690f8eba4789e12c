"""Spectral balance and loudness per frame, from the shared power spectrum.

Where the energy sits between low and high frequencies tracks vocal effort and voice quality
(tense, breathy, pressed phonation), which carry arousal and much of valence: these are the
parameters eGeMAPS keeps for that reason (Eyben et al. 2016, The Geneva Minimalistic Acoustic
Parameter Set, IEEE Trans. Affective Computing 7(2), doi:10.1109/TAFFC.2015.2457417). Each is a
weighted sum over bins of one frame, so all of them cost a few matrix products.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from features.config import FeatureConfig
from features.filters import fft_frequencies, power_to_db
from features.stft import Spectra

#: Frame rows, in order.
NAMES: tuple[str, ...] = ("loudness", "alpha_ratio", "hammarberg", "slope_0_500",
                          "slope_500_1500", "energy_250_650", "energy_1k_4k", "flux")
#: Rows that eGeMAPS summarises separately over voiced and unvoiced frames; the rest over all.
SPLIT: tuple[str, ...] = ("alpha_ratio", "hammarberg", "slope_0_500", "slope_500_1500")
#: Power floor (|X|^2 of a unit-scale signal) under every ratio and dB value: silence gives 0 dB
#: ratios and a -100 dB level, never inf.
AMIN = 1e-10
#: Stevens' power law exponent for loudness from intensity (Stevens 1957, On the
#: psychophysical law, Psychological Review 64(3), doi:10.1037/h0046162).
LOUDNESS_EXPONENT = 0.3


@lru_cache(maxsize=16)
def _operators(sr: int, n_fft: int):
    freqs = fft_frequencies(sr, n_fft)

    def band(lo, hi):
        return (freqs >= lo) & (freqs < hi)

    def slope_weights(lo, hi):
        """Least-squares slope of y over the band's bins as one dot product, per kHz."""
        f = freqs[band(lo, hi)] / 1000.0
        w = np.zeros_like(freqs)
        w[band(lo, hi)] = (f - f.mean()) / np.sum((f - f.mean()) ** 2)
        return w

    sums = np.stack([band(50, 1000), band(1000, 5000), band(250, 650), band(1000, 4000)])
    slopes = np.stack([slope_weights(0, 500), slope_weights(500, 1500)])
    slopes = slopes[:, : int(np.count_nonzero(freqs < 1500))]  # only these bins need dB
    def bins(lo, hi):  # the band's bins (contiguous) as a slice: a view, not a copy
        idx = np.flatnonzero(band(lo, hi))
        return slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0)
    return sums.astype(np.float32), slopes.astype(np.float32), bins(0, 2000), bins(2000, 5000)


@njit(cache=True)
def _flux(mag):
    """Squared change of each frame's L1-normalised magnitudes from the previous frame's
    (0 for the first); mag (n_bins, n_frames) -> (n_frames,). Each frame's sums run over
    its bins in order, the frames side by side: one pass down the bins, across frames."""
    n_bins, n = mag.shape
    total = np.zeros(n)
    for f in range(n_bins):
        for t in range(n):
            total[t] += mag[f, t]
    scale = np.empty(n)
    for t in range(n):
        scale[t] = 1.0 / max(total[t], AMIN)
    acc = np.zeros(n)
    for f in range(n_bins):
        for t in range(1, n):
            d = mag[f, t] * scale[t] - mag[f, t - 1] * scale[t - 1]
            acc[t] += d * d
    return acc.astype(np.float32)


def balance(sp: Spectra, cfg: FeatureConfig) -> np.ndarray:
    """Spectral balance rows of :data:`NAMES`; shape (8, n_frames), float32.

    - ``loudness``: sum over mel bands of band power ** 0.3 (Stevens' law), a cheap stand-in
      for Zwicker loudness that follows perceived intensity; not calibrated in sones.
    - ``alpha_ratio``: energy 1-5 kHz over energy 50-1000 Hz, dB (negative for most speech).
    - ``hammarberg``: strongest bin 0-2 kHz over strongest bin 2-5 kHz, dB (Hammarberg et al.
      1980, Perceptual and acoustic correlates of abnormal voice qualities, Acta Otolaryngol 90).
    - ``slope_0_500``, ``slope_500_1500``: least-squares slope of the power spectrum in dB
      against frequency within the band, dB/kHz.
    - ``energy_250_650``, ``energy_1k_4k``: band energy, dB re 1 (ComParE's two bands).
    - ``flux``: squared change of the L1-normalised magnitude spectrum from the previous frame
      (0 for the first), scale-free so it follows timbre, not level.
    """
    sums, slopes, low, high = _operators(cfg.sr, cfg.n_fft)
    power = sp.power
    n = power.shape[1]
    e = sums @ power  # (4, n): 50-1k, 1-5k, 250-650, 1-4k
    db = power_to_db(power[: slopes.shape[1]], top_db=None, amin=AMIN)
    peak_lo = power[low].max(axis=0) if n else np.zeros(0, np.float32)
    peak_hi = power[high].max(axis=0) if n else np.zeros(0, np.float32)
    flux = _flux(sp.mag)
    rows = [
        np.sum(np.power(np.maximum(sp.mel, 0.0), LOUDNESS_EXPONENT), axis=0),
        10.0 * np.log10((e[1] + AMIN) / (e[0] + AMIN)),
        10.0 * np.log10((peak_lo + AMIN) / (peak_hi + AMIN)),
        *(slopes @ db),
        10.0 * np.log10(e[2] + AMIN),
        10.0 * np.log10(e[3] + AMIN),
        flux,
    ]
    return np.stack(rows).astype(np.float32)
