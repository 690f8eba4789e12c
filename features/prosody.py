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

#: Column names of :func:`prosody`, in order.
NAMES: tuple[str, ...] = (
    "f0_st_mean", "f0_st_std", "f0_st_p20", "f0_st_p50", "f0_st_p80", "f0_st_range_20_80",
    "f0_rise_mean", "f0_rise_std", "f0_fall_mean", "f0_fall_std",
    "voiced_seg_mean", "voiced_seg_std", "unvoiced_seg_mean", "unvoiced_seg_std",
    "voiced_segs_per_s", "loudness_peaks_per_s",
)
#: Reference of the semitone scale (A0), as eGeMAPS.
F0_REF_HZ = 27.5


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """F0 in semitones re 27.5 Hz; unvoiced frames (f0 <= 0) are NaN."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    out = np.full(f0.shape, np.nan)
    voiced = f0 > 0
    out[voiced] = 12.0 * np.log2(f0[voiced] / F0_REF_HZ)
    return out


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths (frames) of the runs of True in a boolean row."""
    m = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    return starts, stops - starts


def _median3_within_segments(st: np.ndarray) -> np.ndarray:
    """3-frame running median of a contour, each NaN-delimited segment padded by repeating
    its end values (so a segment's edges are medians of their own values)."""
    left = np.concatenate(([np.nan], st[:-1]))
    right = np.concatenate((st[1:], [np.nan]))
    left = np.where(np.isnan(left), st, left)
    right = np.where(np.isnan(right), st, right)
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    return np.clip(st, lo, hi)  # the median of three is the middle one


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


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    return (float(np.mean(x)), float(np.std(x))) if x.size else (0.0, 0.0)


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
    st = semitones(f0_hz)
    voiced = ~np.isnan(st)
    n = st.size
    out = np.zeros(len(NAMES))
    if voiced.any():
        v = st[voiced]
        p20, p50, p80 = np.percentile(v, (20, 50, 80))
        out[:6] = (v.mean(), v.std(), p20, p50, p80, p80 - p20)
        rise, fall = movements(st, hop_s)
        out[6:8] = _mean_std(rise)
        out[8:10] = _mean_std(fall)
    _, v_len = runs(voiced)
    _, u_len = runs(~voiced)
    out[10:12] = _mean_std(v_len * hop_s)
    out[12:14] = _mean_std(u_len * hop_s)
    duration = n * hop_s
    if duration > 0:
        out[14] = v_len.size / duration
        smooth = np.convolve(np.asarray(loudness, np.float64), np.ones(3) / 3.0, mode="same")
        if smooth.size >= 3:
            mid = smooth[1:-1]
            peaks = (mid > smooth[:-2]) & (mid >= smooth[2:]) & (mid > np.median(smooth))
            out[15] = np.count_nonzero(peaks) / duration
    return out


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

