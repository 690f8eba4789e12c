"""Prosody: utterance-level parameters of the F0 contour, the voicing pattern and loudness.

Intonation range and movement, and the rhythm of voiced and unvoiced stretches, are the
classic correlates of arousal and of several discrete emotions (Scherer 2003, Vocal
communication of emotion, Speech Communication 40, doi:10.1016/S0167-6393(02)00084-5). The
definitions follow eGeMAPS (Eyben et al. 2016) where it has one: F0 in semitones re 27.5 Hz,
its 20th/50th/80th percentiles and their range, rising and falling slopes, voiced and unvoiced
segment lengths, voiced segments and loudness peaks per second.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from features import reductions

#: Column names of :func:`prosody`, in order.
NAMES: tuple[str, ...] = (
    "f0_st_mean", "f0_st_std", "f0_st_p20", "f0_st_p50", "f0_st_p80", "f0_st_range_20_80",
    "f0_rise_mean", "f0_rise_std", "f0_fall_mean", "f0_fall_std",
    "voiced_seg_mean", "voiced_seg_std", "unvoiced_seg_mean", "unvoiced_seg_std",
    "voiced_segs_per_s", "loudness_peaks_per_s",
)
_N_NAMES = len(NAMES)
#: Reference of the semitone scale (A0), as eGeMAPS.
F0_REF_HZ = 27.5


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """F0 in semitones re 27.5 Hz; unvoiced frames (f0 <= 0) are NaN."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    out = np.full(f0.shape, np.nan)
    voiced = f0 > 0
    out[voiced] = 12.0 * np.log2(f0[voiced] / F0_REF_HZ)
    return out


@njit(cache=True)
def _median3_within_segments(st):
    """3-frame running median of a contour, each NaN-delimited segment padded by repeating
    its end values (so a segment's edges are medians of their own values); NaN stays NaN."""
    n = st.shape[0]
    out = np.empty(n)
    for i in range(n):
        x = st[i]
        if np.isnan(x):
            out[i] = x
            continue
        left = st[i - 1] if i > 0 else np.nan
        right = st[i + 1] if i < n - 1 else np.nan
        if np.isnan(left):
            left = x
        if np.isnan(right):
            right = x
        out[i] = min(max(x, min(left, right)), max(left, right))  # the middle one
    return out


@njit(cache=True)
def _movements(st, smooth, hop_s):
    n = st.shape[0]
    rise = np.empty(n)
    fall = np.empty(n)
    n_rise = 0
    n_fall = 0
    t = 0
    while t < n:
        if np.isnan(st[t]):
            t += 1
            continue
        e = t
        while e < n and not np.isnan(st[e]):
            e += 1
        length = e - t
        if length >= 3:  # a one- or two-frame "segment" is a voicing flicker, not a movement
            start = 0  # of the current stretch, within the segment
            d = smooth[t + 1] - smooth[t]
            prev = (d > 0) - (d < 0)
            for i in range(1, length):
                turn = i == length - 1
                if not turn:
                    d = smooth[t + i + 1] - smooth[t + i]
                    sign = (d > 0) - (d < 0)
                    turn = sign != prev
                    prev = sign
                if turn:
                    slope = (smooth[t + i] - smooth[t + start]) / ((i - start) * hop_s)
                    if slope > 0:
                        rise[n_rise] = slope
                        n_rise += 1
                    elif slope < 0:
                        fall[n_fall] = -slope
                        n_fall += 1
                    start = i
        t = e
    return rise[:n_rise], fall[:n_fall]


def movements(st: np.ndarray, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Slopes (semitones/s) of the rising and falling stretches of a semitone contour (NaN
    where unvoiced), each in time order: within each voiced segment, smoothed by a 3-frame
    median (one-frame octave errors vanish), a stretch runs between consecutive turning points
    (where the sign of the frame-to-frame change differs) and its slope is its rise over its
    duration. Segments under 3 frames are flicker and skipped. Falling slopes are returned as
    magnitudes."""
    st = np.asarray(st, dtype=np.float64)
    return _movements(st, _median3_within_segments(st), float(hop_s))


@njit(cache=True)
def _run_lengths(st, voiced):
    """Lengths (frames) of the runs of voiced (``voiced``) or unvoiced frames of ``st``."""
    n = st.shape[0]
    out = np.empty(n, np.int64)
    count = 0
    t = 0
    while t < n:
        if np.isnan(st[t]) == voiced:
            t += 1
            continue
        e = t
        while e < n and np.isnan(st[e]) != voiced:
            e += 1
        out[count] = e - t
        count += 1
        t = e
    return out[:count]


@njit(cache=True)
def _mean_std_into(x, out, at):
    """``out[at], out[at + 1] = mean(x), std(x)`` as numpy computes them; 0, 0 when empty."""
    if x.shape[0]:
        out[at] = reductions.mean(x)
        out[at + 1] = reductions.std(x)


@njit(cache=True)
def _prosody_kernel(st, smooth, hop_s):
    """:func:`prosody` of a semitone contour ``st`` (NaN where unvoiced) and the 3-frame
    moving average ``smooth`` of loudness, in one pass: means, standard deviations,
    percentiles and the median in numpy's arithmetic (:mod:`features.reductions`), so that
    every value equals the numpy expression of it to the bit (tests)."""
    out = np.zeros(_N_NAMES)
    n = st.shape[0]
    v = st[~np.isnan(st)]
    if v.shape[0]:
        s = np.sort(v)
        p20 = reductions.percentile(s, 20.0)
        p50 = reductions.percentile(s, 50.0)
        p80 = reductions.percentile(s, 80.0)
        out[0] = reductions.mean(v)
        out[1] = reductions.std(v)
        out[2], out[3], out[4], out[5] = p20, p50, p80, p80 - p20
        rise, fall = _movements(st, _median3_within_segments(st), hop_s)
        _mean_std_into(rise, out, 6)
        _mean_std_into(fall, out, 8)
    v_len = _run_lengths(st, True)
    _mean_std_into(v_len * hop_s, out, 10)
    _mean_std_into(_run_lengths(st, False) * hop_s, out, 12)
    duration = n * hop_s
    if duration > 0:
        out[14] = v_len.shape[0] / duration
        if smooth.shape[0] >= 3:
            med = reductions.median(np.sort(smooth))
            peaks = 0
            for i in range(1, smooth.shape[0] - 1):
                x = smooth[i]
                if x > smooth[i - 1] and x >= smooth[i + 1] and x > med:
                    peaks += 1
            out[15] = peaks / duration
    return out


def prosody(f0_hz: np.ndarray, loudness: np.ndarray, hop_s: float) -> np.ndarray:
    """The parameters of :data:`NAMES` for one utterance; shape (16,), float64.

    Parameters
    ----------
    f0_hz : np.ndarray, shape (n_frames,)
        F0 per frame, 0 where unvoiced (as :func:`features.pitch.pitch` gives it).
    loudness : np.ndarray, shape (n_frames,)
        Loudness per frame (:func:`features.balance.balance`'s first row).
    hop_s : float
        Frame period, s.

    Rising and falling slopes are those of :func:`movements` (semitones per second, falling
    ones as magnitudes); segment lengths are in seconds;
    a loudness peak is a local maximum of the 3-frame moving average above the utterance's
    median loudness. Undefined parameters (no voiced frame, no rise) are 0, never NaN.
    """
    loudness = np.asarray(loudness, np.float64)
    smooth = np.convolve(loudness, np.ones(3) / 3.0, mode="same") if loudness.size else loudness
    return _prosody_kernel(semitones(f0_hz), smooth, float(hop_s))


def undefined(f0_hz: np.ndarray, hop_s: float) -> list[str]:
    """The parameters of :data:`NAMES` that :func:`prosody` fills with 0 for this contour
    because what they describe is absent (no voiced frame, no rise, no unvoiced stretch)."""
    st = semitones(f0_hz)
    voiced = ~np.isnan(st)
    out: list[str] = []
    if not voiced.any():
        out += [*NAMES[:6], "voiced_seg_mean", "voiced_seg_std"]
    rise, fall = movements(st, hop_s)
    if not rise.size:
        out += ["f0_rise_mean", "f0_rise_std"]
    if not fall.size:
        out += ["f0_fall_mean", "f0_fall_std"]
    if voiced.all():
        out += ["unvoiced_seg_mean", "unvoiced_seg_std"]
    return out

