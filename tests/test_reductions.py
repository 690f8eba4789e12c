"""The numba kernels that replaced numpy expressions give numpy's values to the bit: the
reductions they share (features.reductions), and jitter/shimmer against the numpy expression
of its definition (prosody's: tests/test_balance_prosody.py). Equal bits keep every cached
feature and committed table valid."""

from __future__ import annotations

import numpy as np
import pytest

from features import reductions, voice


def _arrays(rng, lengths):
    for n in lengths:
        for _ in range(4):
            a = rng.standard_normal(n) * 10 ** rng.uniform(-3, 3) + rng.uniform(-50, 50)
            yield np.round(a, 1) if rng.random() < 0.3 else a  # ties, for the order statistics


@pytest.mark.parametrize("lengths", [range(1, 140), range(140, 300), (517, 1024, 2049, 40001)])
def test_sum_mean_std_percentiles_and_median_are_numpys_to_the_bit(lengths):
    """Lengths cover numpy's left-to-right sums (< 8), its eight partial sums (<= 128) and
    its halving above; the percentiles both sides of numpy's t = 0.5 switch."""
    rng = np.random.default_rng(0)
    for a in _arrays(rng, lengths):
        s = np.sort(a)
        assert reductions.total(a) == np.sum(a), a.size
        assert reductions.mean(a) == np.mean(a), a.size
        assert reductions.std(a) == np.std(a), a.size
        assert reductions.median(s) == np.median(a), a.size
        for q in (0.0, 10.0, 20.0, 33.3, 50.0, 80.0, 90.0, 100.0):
            assert reductions.percentile(s, q) == np.percentile(a, q), (a.size, q)


def test_a_left_to_right_sum_would_fail_this_test():
    """The check above can fail: numba's own np.sum (left to right) differs from numpy's."""
    from numba import njit

    plain = njit(lambda a: np.sum(a))
    rng = np.random.default_rng(1)
    assert any(plain(a) != np.sum(a) for a in _arrays(rng, range(100, 140)))


def _perturbation_reference(times, amps, seg, sr, f0_min, f0_max):
    """jitter and shimmer as numpy expressions of voice.perturbation's definitions."""
    out = np.full(4, np.nan)
    same = seg[1:] == seg[:-1]
    period = np.diff(times) / sr
    ok = same & (period >= 1.0 / f0_max) & (period <= 1.0 / f0_min)
    if ok.sum() < 3:
        return out
    p0, p1 = period[:-1], period[1:]
    pair = ok[:-1] & ok[1:] & (np.maximum(p0, p1) <= voice.MAX_PERIOD_FACTOR * np.minimum(p0, p1))
    if pair.sum() < 2:
        return out
    mean_p = period[ok].mean()
    out[0] = np.abs(p1 - p0)[pair].mean() / mean_p
    trip = pair[:-1] & pair[1:]
    if trip.any():
        mid = period[1:-1]
        out[1] = np.abs(mid - (period[:-2] + mid + period[2:]) / 3.0)[trip].mean() / mean_p
    a = np.maximum(amps, 1e-12)
    a0, a1 = a[:-1], a[1:]
    apair = same & (np.maximum(a0, a1) <= voice.MAX_AMPLITUDE_FACTOR * np.minimum(a0, a1))
    apair &= np.concatenate(([False], ok[:-1])) | ok
    if apair.sum() >= 2:
        out[2] = np.abs(a1 - a0)[apair].mean() / a[:-1][apair].mean()
        out[3] = np.abs(20.0 * np.log10(a1 / a0))[apair].mean()
    return out


def test_jitter_and_shimmer_equal_their_numpy_definitions_to_the_bit():
    rng = np.random.default_rng(3)
    for _ in range(600):
        n = int(rng.integers(0, 300))
        times = np.cumsum(rng.uniform(20, 240, n))
        amps = rng.uniform(0, 1, n) * (rng.random(n) > 0.05)  # some zero amplitudes
        seg = np.cumsum(rng.random(n) < 0.05)
        got = voice.perturbation(times, amps, seg, 16000, 75.0, 600.0)
        want = _perturbation_reference(times, amps, seg, 16000, 75.0, 600.0)
        assert got.tobytes() == want.tobytes(), n
