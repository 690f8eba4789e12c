"""Frame matrix -> utterance statistics: one numba pass per row for moments and slope, and
numpy's vectorised sort (SIMD on x86) for the order statistics."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _row(x, s, percentiles, dt, out):
    """The statistics of one row ``x`` (``s``: its values sorted) into ``out``."""
    n = x.shape[0]
    n_pct = percentiles.shape[0]
    if n == 0:
        return
    t_mean = 0.5 * (n - 1) * dt
    t_var = 0.0
    for i in range(n):
        t_var += (i * dt - t_mean) ** 2
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
    out[0] = mean
    out[1] = np.sqrt(m2)
    out[2] = s[0]
    out[3] = s[n - 1]
    for j in range(n_pct):  # linear interpolation, as numpy's default percentile
        pos = percentiles[j] / 100.0 * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        out[4 + j] = s[lo] + (s[hi] - s[lo]) * (pos - lo)
    if m2 > 1e-12 * (1.0 + mean * mean):
        out[4 + n_pct] = m3 / m2**1.5
        out[5 + n_pct] = m4 / (m2 * m2) - 3.0
    if t_var > 0.0:
        out[6 + n_pct] = cov / t_var


@njit(cache=True)
def _functionals_kernel(frames, ordered, percentiles, dt):
    out = np.zeros((frames.shape[0], 7 + percentiles.shape[0]))
    for r in range(frames.shape[0]):
        _row(frames[r], ordered[r], percentiles, dt, out[r])
    return out


#: Which frames of a row :func:`functionals_where` summarises: all of them, those where the
#: mask is true, those where it is false, or those with a finite value.
ALL, WHERE, WHERE_NOT, FINITE = 0, 1, 2, 3


@njit(cache=True)
def _choose(matrix, rows, modes, mask):
    """Row ``r`` of the output: the chosen frames of ``matrix[rows[r]]`` (by ``modes[r]``), in
    order, then NaN; and how many were chosen."""
    out = np.full((rows.shape[0], matrix.shape[1]), np.nan, matrix.dtype)
    counts = np.zeros(rows.shape[0], np.intp)
    for r in range(rows.shape[0]):
        row = matrix[rows[r]]
        mode = modes[r]
        n = 0
        for t in range(row.shape[0]):
            v = row[t]
            if (mode == ALL or (mode == WHERE and mask[t]) or (mode == WHERE_NOT and not mask[t])
                    or (mode == FINITE and np.isfinite(v))):
                out[r, n] = v
                n += 1
        counts[r] = n
    return out, counts


@njit(cache=True)
def _chosen_kernel(chosen, ordered, counts, percentiles, dt):
    out = np.zeros((chosen.shape[0], 7 + percentiles.shape[0]))
    for r in range(chosen.shape[0]):
        n = counts[r]
        _row(chosen[r, :n], ordered[r, :n], percentiles, dt, out[r])
    return out


def width(percentiles: tuple[float, ...]) -> int:
    """Columns per row that :func:`functionals` returns with these percentiles."""
    return 7 + len(percentiles)


def _as_rows(x: np.ndarray) -> np.ndarray:
    """float32 stays float32 (its order statistics interpolate in float32); the rest float64."""
    x = np.asarray(x)
    return x if x.dtype == np.float32 else x.astype(np.float64)


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
    frames = np.ascontiguousarray(_as_rows(frames))
    return _functionals_kernel(frames, np.sort(frames, axis=1),
                               np.asarray(percentiles, dtype=np.float64), float(hop_s))


def functionals_where(matrix: np.ndarray, rows, modes, mask: np.ndarray | None,
                      percentiles: tuple[float, ...], hop_s: float) -> np.ndarray:
    """:func:`functionals` of some rows of ``matrix``, each over some of its frames, in one call
    (no row copied out first).

    Parameters
    ----------
    matrix : np.ndarray, shape (n_rows, n_frames)
        float32 rows stay float32 (their order statistics interpolate in float32).
    rows, modes : sequences of int, one entry per output row
        The row of ``matrix``, and which of its frames: :data:`ALL`, :data:`WHERE` /
        :data:`WHERE_NOT` (``mask`` true / false), :data:`FINITE`. A row may appear twice.
    mask : np.ndarray of bool, shape (n_frames,), or None when no mode reads it

    Returns
    -------
    np.ndarray, shape (len(rows), width(percentiles)); each row exactly what
    :func:`functionals` gives for that row's chosen frames alone, zeros for none.
    """
    matrix = np.ascontiguousarray(_as_rows(matrix))
    modes = np.asarray(modes, np.intp)
    if mask is None:
        if np.isin(modes, (WHERE, WHERE_NOT)).any():
            raise ValueError("a row summarised where a mask is (or is not) true needs the mask")
        mask = np.zeros(matrix.shape[1], np.bool_)
    chosen, counts = _choose(matrix, np.asarray(rows, np.intp), modes, np.asarray(mask, np.bool_))
    # numpy's sort, not numba's: vectorised, far faster on these rows; the NaN after each row's
    # chosen frames sort after them
    return _chosen_kernel(chosen, np.sort(chosen, axis=1), counts,
                          np.asarray(percentiles, np.float64), float(hop_s))
