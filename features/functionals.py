"""Frame matrix -> utterance statistics: one numba pass per row for moments and slope, and
numpy's vectorised sort (SIMD on x86) for the order statistics."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _functionals_kernel(frames, ordered, percentiles, dt):
    n_rows, n = frames.shape
    n_pct = percentiles.shape[0]
    out = np.zeros((n_rows, 7 + n_pct))
    if n == 0:
        return out
    t_mean = 0.5 * (n - 1) * dt
    t_var = 0.0
    for i in range(n):
        t_var += (i * dt - t_mean) ** 2
    for r in range(n_rows):
        x = frames[r]
        mean = 0.0
        for i in range(n):
            mean += x[i]
        mean /= n
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        cov = 0.0
        for i in range(n):
            d = x[i] - mean
            m2 += d * d
            m3 += d * d * d
            m4 += d * d * d * d
            cov += d * (i * dt - t_mean)
        m2 /= n
        m3 /= n
        m4 /= n
        s = ordered[r]
        out[r, 0] = mean
        out[r, 1] = np.sqrt(m2)
        out[r, 2] = s[0]
        out[r, 3] = s[n - 1]
        for j in range(n_pct):  # linear interpolation, as numpy's default percentile
            pos = percentiles[j] / 100.0 * (n - 1)
            lo = int(np.floor(pos))
            hi = min(lo + 1, n - 1)
            out[r, 4 + j] = s[lo] + (s[hi] - s[lo]) * (pos - lo)
        if m2 > 1e-12 * (1.0 + mean * mean):
            out[r, 4 + n_pct] = m3 / m2**1.5
            out[r, 5 + n_pct] = m4 / (m2 * m2) - 3.0
        if t_var > 0.0:
            out[r, 6 + n_pct] = cov / t_var
    return out


def width(percentiles: tuple[float, ...]) -> int:
    """Columns per row that :func:`functionals` returns with these percentiles."""
    return 7 + len(percentiles)


def functionals(frames: np.ndarray, percentiles: tuple[float, ...], hop_s: float) -> np.ndarray:
    """Utterance statistics of each row of ``frames``.

    Parameters
    ----------
    frames : np.ndarray, shape (n_rows, n_frames)
    percentiles : tuple of float
        In [0, 100], linear interpolation between order statistics.
    hop_s : float
        Frame period in seconds, the time unit of the slope.

    Returns
    -------
    np.ndarray, shape (n_rows, 7 + len(percentiles))
        mean, std, min, max, the percentiles, skewness and excess kurtosis (biased moment
        estimators, as ``scipy.stats.skew``/``kurtosis``; 0 for a constant row, not NaN), and
        the least-squares slope per second. A row with no frames gives zeros.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.float32:
        frames = frames.astype(np.float64)
    frames = np.ascontiguousarray(frames)
    return _functionals_kernel(frames, np.sort(frames, axis=1),
                               np.asarray(percentiles, dtype=np.float64), float(hop_s))
