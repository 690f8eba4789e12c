"""F0 and voicing from the shared power spectrum.

The autocorrelation of each windowed frame is the inverse FFT of its power spectrum
(Wiener-Khinchin; for a real, even spectrum that is a DCT-I), so pitch costs one batched
real transform and a numba peak search, not another transform of the waveform. Dividing
by the window's own autocorrelation undoes the taper (Boersma 1993, Accurate short-term
analysis of the fundamental frequency and the harmonics-to-noise ratio of a sampled sound,
IFA Proceedings 17), the method behind Praat's ``To Pitch (ac)``. The normalised peak
height is the voicing strength (its HNR is ``10 log10(r / (1 - r))``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from features.config import FeatureConfig
from features.stft import Spectra, window_autocorrelation

#: Frames more than this many dB below the loudest frame are unvoiced (Praat's silence gate).
SILENCE_DB = 40.0
#: A peak at 1/2..1/5 of the best lag wins when at least this fraction as strong (octave guard).
OCTAVE_RATIO = 0.9


# error_model='numpy': no zero test before each division, so the normalisation loop runs
# without a branch per lag. None divides by zero: r0 is above the floor, den < 0, and the
# window's autocorrelation is positive at every lag searched (FeatureConfig keeps the
# longest period under half the window); the quotients are the same
@njit(cache=True, error_model="numpy")
def _pitch_kernel(ac, wac, lag_min, lag_max, floor, threshold, sr, ratio):
    n_frames = ac.shape[0]
    f0 = np.zeros(n_frames)
    strength = np.zeros(n_frames)
    r = np.empty(lag_max + 2)
    for t in range(n_frames):
        r0 = ac[t, 0]
        if r0 <= floor:
            continue
        for k in range(lag_min - 1, lag_max + 2):
            r[k] = ac[t, k] / r0 / wac[k]
        best = 0.0
        kb = -1
        for k in range(lag_min, lag_max + 1):
            if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] > best:
                best = r[k]
                kb = k
        if kb < 0:
            continue
        # octave guard: a peak at a whole fraction of the best lag that is nearly as strong
        # is the true period (the best peak was a multiple of it)
        for m in range(5, 1, -1):
            lo = max(int(kb / m * 0.96), lag_min)
            hi = min(int(np.ceil(kb / m * 1.04)), lag_max)
            found = -1
            for k in range(lo, hi + 1):
                if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] >= ratio * best:
                    if found < 0 or r[k] > r[found]:
                        found = k
            if found >= 0:
                kb = found
                break
        a, b, c = r[kb - 1], r[kb], r[kb + 1]
        den = a - 2.0 * b + c
        shift = 0.5 * (a - c) / den if den < 0.0 else 0.0
        value = b - 0.25 * (a - c) * shift
        s = min(max(value, 0.0), 1.0)
        strength[t] = s
        if s >= threshold:
            f0[t] = sr / (kb + shift)
    return f0, strength


def pitch(sp: Spectra, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 where unvoiced) and voicing strength (0..1) per frame; each (n_frames,).

    Lags are searched between ``sr / f0_max`` and ``sr / f0_min`` samples; a frame is voiced
    when its normalised autocorrelation peak reaches ``cfg.voicing_threshold`` (Praat's 0.45)
    and it is within :data:`SILENCE_DB` of the loudest frame.
    """
    import scipy.fft  # here, not at the top: see features.stft.spectra
    lag_min = max(int(np.floor(cfg.sr / cfg.f0_max)), 2)
    lag_max = int(np.ceil(cfg.sr / cfg.f0_min))
    n_frames = sp.n_frames
    # the silence gate first, on each frame's energy (what the lag-0 term below is, up to
    # rounding): frames well under it are unvoiced whatever their autocorrelation, and are
    # not transformed (half of a RAVDESS file is silence). The factor 2 covers the rounding,
    # so the frames kept are a superset of those the exact gate passes, the loudest among them
    energy = 2.0 * sp.power[1:-1].sum(axis=0) + sp.power[-1]
    gate = 10 ** (-SILENCE_DB / 10)
    kept = np.flatnonzero(energy > 0.5 * gate * energy.max()) if n_frames else np.zeros(0, int)
    f0, strength = np.zeros(n_frames), np.zeros(n_frames)
    if kept.size == 0:
        return f0, strength
    # irfft of a real, even spectrum is a DCT-I: a real transform, no complex copy; frame-major,
    # so each frame's transform and the kernel's lag search walk contiguous memory
    power = np.square(sp.mag_frames[kept])
    ac = scipy.fft.dct(power, type=1, axis=1, overwrite_x=True)
    ac = np.ascontiguousarray(ac[:, : lag_max + 2])  # the lags searched, at unit stride
    # without the 0 Hz bin (its term of the DCT-I is power[0] at every lag): a frame's mean is
    # not a periodicity, and a DC offset or a constant signal must not read as voiced (Praat
    # removes each frame's mean for the same reason)
    ac -= sp.power[0][kept][:, None]
    wac = window_autocorrelation(cfg.n_fft, cfg.win_length)
    floor = max(float(ac[:, 0].max()) * gate, 1e-20)
    f0[kept], strength[kept] = _pitch_kernel(ac, wac, lag_min, lag_max, floor,
                                             cfg.voicing_threshold, float(cfg.sr),
                                             OCTAVE_RATIO)
    return f0, strength
