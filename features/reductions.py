"""numpy's reductions of a 1-D float64 array, to the bit, for use inside numba kernels.

numba's ``np.sum`` and ``np.mean`` add left to right; numpy adds pairwise (blocks of up to
128 values in eight interleaved partial sums, halves above that; ``pairwise_sum`` in
numpy's ``loops_utils.h.src``), so the two differ in the last bits. A kernel that replaces a
chain of numpy calls calls these instead, and its output keeps every bit the numpy chain gave
(tests/test_reductions.py holds each to numpy on random arrays of every length up to 300):
the feature cache and every committed table stay valid when a descriptor moves into numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: numpy's block size for pairwise summation (``PW_BLOCKSIZE``).
_BLOCK = 128


@njit(cache=True)
def _block(a, lo, n):
    """Sum of ``a[lo:lo + n]``, ``n <= 128``, in numpy's order: left to right under 8
    values, else eight interleaved partial sums combined as a tree, then the remainder."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _half(n):
    """Where numpy splits ``n`` values: half of them, rounded down to a multiple of 8."""
    half = n // 2
    return half - half % 8


@njit(cache=True)
def _pairwise(a, lo, n):
    """Sum of ``a[lo:lo + n]`` in numpy's pairwise order: blocks of at most 128 values
    (:func:`_block`), halves above that, each sum ``left + right``. numpy recurses; numba
    cannot cache a recursive function, so the halves are walked with a stack here."""
    if n <= _BLOCK:
        return _block(a, lo, n)
    seg_lo = np.empty(64, np.int64)  # 64 halvings: any array numpy can hold
    seg_n = np.empty(64, np.int64)
    left = np.empty(64)
    has_left = np.zeros(64, np.bool_)
    top = 0
    seg_lo[0], seg_n[0] = lo, n
    while True:
        if seg_n[top] > _BLOCK:  # descend into the left half
            seg_lo[top + 1], seg_n[top + 1] = seg_lo[top], _half(seg_n[top])
            has_left[top + 1] = False
            top += 1
            continue
        v = _block(a, seg_lo[top], seg_n[top])
        while top > 0:  # hand the finished sum to its parent
            p = top - 1
            if not has_left[p]:  # it was the left half: the right one is next
                has_left[p] = True
                left[p] = v
                h = _half(seg_n[p])
                seg_lo[top], seg_n[top] = seg_lo[p] + h, seg_n[p] - h
                has_left[top] = False
                break
            v = left[p] + v  # it was the right half: the parent is done
            top = p
        else:
            return v


@njit(cache=True)
def total(a):
    """``np.sum(a)`` of a 1-D float64 array (0.0 when empty)."""
    return 0.0 + _pairwise(a, 0, a.shape[0])


@njit(cache=True)
def mean(a):
    """``np.mean(a)`` of a non-empty 1-D float64 array."""
    return total(a) / a.shape[0]


@njit(cache=True)
def std(a):
    """``np.std(a)`` (ddof 0) of a non-empty 1-D float64 array: the mean, then the pairwise
    sum of squared deviations, as numpy's ``_var``."""
    m = mean(a)
    d = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        x = a[i] - m
        d[i] = x * x
    return np.sqrt(total(d) / a.shape[0])


@njit(cache=True)
def percentile(s, q):
    """``np.percentile(x, q)`` (linear method) from ``s``, ``x`` sorted; ``q`` in [0, 100].
    numpy's interpolation: ``a + (b - a) t``, or ``b - (b - a) (1 - t)`` from ``t = 0.5``
    (``numpy.lib._function_base_impl._lerp``)."""
    n = s.shape[0]
    pos = (n - 1) * (q / 100.0)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    t = pos - lo
    a, b = s[lo], s[hi]
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


@njit(cache=True)
def median(s):
    """``np.median(x)`` from ``s``, ``x`` sorted and non-empty (the mean of the two middle
    values when their count is even, summed from 0 as numpy's mean)."""
    n = s.shape[0]
    h = n // 2
    if n % 2:
        return s[h]
    return (0.0 + s[h - 1] + s[h]) / 2.0
