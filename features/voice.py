"""Voice quality: harmonics-to-noise ratio and harmonic differences per voiced frame, jitter
and shimmer per utterance.

Phonation type (breathy, tense, creaky, harsh) is one of the main carriers of emotion in the
voice (Gobl & Ní Chasaide 2003, The role of voice quality in communicating emotion, mood and
attitude, Speech Communication 40, doi:10.1016/S0167-6393(02)00082-1); eGeMAPS keeps these
five for that reason (Eyben et al. 2016). Definitions:

- HNR from the normalised cross-correlation ``r`` of each glottal period with the next,
  ``10 log10(r / (1 - r))`` dB (Boersma 1993; Praat's ``To Harmonicity (cc)`` correlates
  windows one period apart in the same way). The pitch tracker's autocorrelation peak on a
  25 ms frame (three periods of a 120 Hz voice) saturates near 11 dB; period-to-period
  correlation does not, and follows Praat within a few dB from 5 to 25 dB;
- H1-H2 and H1-A3: level of the first harmonic over the second, and over the strongest
  harmonic near F3, dB, read from the shared magnitude spectrum (uncorrected for formants, as
  eGeMAPS); H1-A1 and H1-A2 likewise at F1 and F2, when configured (``formant_levels``:
  eGeMAPS keeps all three, as the level of each formant's harmonic relative to F0's);
- jitter (local, and RAP) and shimmer (local, and local in dB) from glottal periods marked on
  the waveform: one peak per period, each searched within the period the F0 track predicts,
  with Praat's period limits (Boersma & Weenink, Praat manual, "Voice 2. Jitter" and
  "Voice 3. Shimmer"; periods outside 1/f0_max..1/f0_min, or more than 1.3 times their
  neighbour, are not compared).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from features import reductions
from features.stft import Spectra


def frame_names(formant_levels: tuple[int, ...] = (3,)) -> tuple[str, ...]:
    """Frame rows of :func:`voice_frames`, in order: HNR, H1-H2, then H1-A``k`` for each
    formant ``k`` of ``formant_levels``."""
    return ("hnr", "h1_h2", *(f"h1_a{k}" for k in formant_levels))


#: Utterance columns of :func:`perturbation`, in order.
UTTERANCE_NAMES: tuple[str, ...] = ("jitter_local", "jitter_rap", "shimmer_local",
                                    "shimmer_local_db")
_N_UTTERANCE = len(UTTERANCE_NAMES)
#: HNR is clipped to this range, dB: r within 1e-4 of 0 or 1 is noise or a pure tone.
HNR_RANGE_DB = (-40.0, 40.0)
#: Consecutive periods (or amplitudes) whose ratio exceeds this are not compared (Praat's
#: "maximum period factor" and "maximum amplitude factor" would be 1.3 and 1.6).
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
#: A level floor under every dB value (magnitude of a unit-scale signal).
AMIN = 1e-5


def hnr_db(strength: np.ndarray) -> np.ndarray:
    """Harmonics-to-noise ratio (dB) from normalised autocorrelation peaks in [0, 1]."""
    r = np.clip(np.asarray(strength, dtype=np.float64), 1e-4, 1.0 - 1e-4)
    return np.clip(10.0 * np.log10(r / (1.0 - r)), *HNR_RANGE_DB)


@njit(cache=True)
def _harmonic_levels(mag, idx, f0, formant_hz, df, amin):
    """Per voiced frame: levels (dB) of the strongest bin within half an F0 of F0, of 2 F0
    and of the harmonic nearest each row of ``formant_hz`` (NaN where that formant is
    unknown); shape (2 + len(formant_hz), len(idx))."""
    n_bins = mag.shape[0]
    n_out = 2 + formant_hz.shape[0]
    out = np.full((n_out, idx.shape[0]), np.nan)
    for j in range(idx.shape[0]):
        t = idx[j]
        f = f0[t]
        for c in range(n_out):
            if c < 2:
                centre = (c + 1.0) * f
            else:
                fk = formant_hz[c - 2, t]
                centre = np.round(fk / f) * f if np.isfinite(fk) else -1.0
            if centre <= 0:
                continue
            lo = min(max(int(np.floor((centre - 0.5 * f) / df)) + 1, 0), n_bins - 1)
            hi = min(max(int(np.ceil((centre + 0.5 * f) / df)) - 1, lo), n_bins - 1)
            best = 0.0
            for b in range(lo, hi + 1):
                best = max(best, mag[b, t])
            out[c, j] = 20.0 * np.log10(max(best, amin))
    return out


def voice_frames(sp: Spectra, f0: np.ndarray, hnr: np.ndarray, formant_hz: np.ndarray,
                 sr: int, n_fft: int) -> np.ndarray:
    """HNR, H1-H2 and H1-A``k`` for each formant row given (rows of :func:`frame_names`,
    dB) per frame; shape (2 + len(formant_hz), n_frames), NaN on unvoiced frames (and
    H1-A``k`` where that formant is unknown).

    ``f0`` in Hz (0 where unvoiced), ``hnr`` the per-frame HNR of :func:`period_hnr`
    (dB, NaN where unknown), ``formant_hz`` formant rows in Hz, shape (n, n_frames) or
    (n_frames,) for one (NaN where unknown): F3 alone in the default bank.
    """
    formant_hz = np.atleast_2d(np.asarray(formant_hz, np.float64))
    out = np.full((2 + formant_hz.shape[0], sp.n_frames), np.nan)
    idx = np.flatnonzero(f0 > 0)
    if idx.size == 0:
        return out
    levels = _harmonic_levels(sp.mag, idx, np.asarray(f0, np.float64), formant_hz, sr / n_fft,
                              AMIN)
    out[0, idx] = hnr[idx]
    out[1:, idx] = levels[0] - levels[1:]
    return out


@njit(cache=True)
def _pulses(y, f0, hop, sr, min_period, max_period):
    """Glottal pulse times (samples) and peak amplitudes, with the voiced stretch each
    belongs to. Within each stretch of voiced frames, the first pulse is the largest peak of
    the first period; each next one is the largest peak between 0.8 and 1.25 predicted
    periods later (the prediction from the F0 of the frame at the last pulse), refined by
    parabolic interpolation."""
    n = y.shape[0]
    n_frames = f0.shape[0]
    times = np.empty(n // 8 + 1)
    amps = np.empty(n // 8 + 1)
    seg = np.empty(n // 8 + 1, np.int64)
    count = 0
    s = 0
    t = 0
    while t < n_frames:
        if f0[t] <= 0:
            t += 1
            continue
        e = t
        while e < n_frames and f0[e] > 0:
            e += 1
        start = max(t * hop - hop // 2, 1)
        stop = min((e - 1) * hop + hop // 2, n - 2)
        period = sr / f0[t]
        # first pulse: the largest |y| in the first period
        best = start
        hi = min(int(start + period), stop)
        for i in range(start, hi + 1):
            if abs(y[i]) > abs(y[best]):
                best = i
        sign = 1.0 if y[best] >= 0 else -1.0
        pos = float(best)
        while True:
            i = int(pos)
            if count >= times.shape[0]:
                break
            a, b, c = sign * y[i - 1], sign * y[i], sign * y[i + 1]
            den = a - 2.0 * b + c
            shift = 0.5 * (a - c) / den if den < 0.0 else 0.0
            times[count] = i + shift
            amps[count] = b - 0.25 * (a - c) * shift
            seg[count] = s
            count += 1
            frame = min(max(int(round(i / hop)), t), e - 1)
            period = sr / f0[frame] if f0[frame] > 0 else period
            period = min(max(period, min_period), max_period)
            lo = int(i + 0.8 * period)
            hi = int(i + 1.25 * period)
            if hi > stop:
                break
            nxt = lo
            for k in range(lo, hi + 1):
                if sign * y[k] > sign * y[nxt]:
                    nxt = k
            pos = float(nxt)
        s += 1
        t = e
    return times[:count], amps[:count], seg[:count]


def pulses(y: np.ndarray, f0: np.ndarray, hop: int, sr: int, f0_min: float,
           f0_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glottal pulses of the voiced stretches of ``y``: times (samples), peak amplitudes
    (positive) and the index of the voiced stretch each belongs to; each (n_pulses,)."""
    return _pulses(np.asarray(y, dtype=np.float64), np.asarray(f0, dtype=np.float64),
                   int(hop), float(sr), sr / f0_max, sr / f0_min)


@njit(cache=True)
def _period_correlation(y, times, seg, hop, n_frames):
    """Per frame, the mean normalised cross-correlation of each period starting in it with
    the next period (best of shifts -2..2 samples, parabolic peak); NaN where none."""
    total = np.zeros(n_frames)
    count = np.zeros(n_frames)
    n = y.shape[0]
    rs = np.empty(5)
    for i in range(times.shape[0] - 1):
        if seg[i] != seg[i + 1]:
            continue
        a = int(round(times[i]))
        b = int(round(times[i + 1]))
        p = b - a
        if p < 4 or b + p + 2 >= n or a < 0:
            continue
        aa = 0.0
        for k in range(p):
            aa += y[a + k] * y[a + k]
        for j in range(5):
            d = j - 2
            ab = 0.0
            bb = 0.0
            for k in range(p):
                v = y[b + d + k]
                ab += y[a + k] * v
                bb += v * v
            rs[j] = ab / np.sqrt(aa * bb) if aa > 0.0 and bb > 0.0 else 0.0
        j = np.argmax(rs)
        r = rs[j]
        if 0 < j < 4:
            den = rs[j - 1] - 2.0 * r + rs[j + 1]
            if den < 0.0:
                shift = 0.5 * (rs[j - 1] - rs[j + 1]) / den
                r = r - 0.25 * (rs[j - 1] - rs[j + 1]) * shift
        f = min(int(round(times[i] / hop)), n_frames - 1)
        total[f] += min(max(r, 0.0), 1.0)
        count[f] += 1.0
    out = np.full(n_frames, np.nan)
    for f in range(n_frames):
        if count[f] > 0:
            out[f] = total[f] / count[f]
    return out


def period_hnr(y: np.ndarray, times: np.ndarray, seg: np.ndarray, hop: int,
               n_frames: int) -> np.ndarray:
    """HNR (dB) per frame from the correlation of consecutive glottal periods (marked by
    :func:`pulses`); shape (n_frames,), NaN on frames where no period starts."""
    r = _period_correlation(np.asarray(y, dtype=np.float64), times, seg, int(hop), n_frames)
    out = np.full(n_frames, np.nan)
    ok = np.isfinite(r)
    out[ok] = hnr_db(r[ok])
    return out


def perturbation(times: np.ndarray, amps: np.ndarray, seg: np.ndarray, sr: int,
                 f0_min: float, f0_max: float) -> np.ndarray:
    """Jitter and shimmer (:data:`UTTERANCE_NAMES`) of marked pulses; shape (4,), NaN where
    fewer than three comparable periods exist.

    - ``jitter_local``: mean absolute difference of consecutive periods over the mean period;
    - ``jitter_rap``: mean absolute difference of each period and the mean of it and its two
      neighbours, over the mean period (relative average perturbation);
    - ``shimmer_local``: mean absolute difference of consecutive peak amplitudes over the mean
      amplitude; ``shimmer_local_db``: mean absolute ``20 log10`` of their ratio.
    Periods are only formed within a voiced stretch, between 1/f0_max and 1/f0_min.
    """
    a = np.maximum(amps, 1e-12)
    return _perturbation_kernel(np.asarray(times, np.float64), a, 20.0 * np.log10(a[1:] / a[:-1]),
                                np.asarray(seg), float(sr), 1.0 / f0_max, 1.0 / f0_min)


@njit(cache=True)
def _perturbation_kernel(times, a, level_db, seg, sr, min_period, max_period):
    """:func:`perturbation` from pulse times, amplitudes ``a`` (floored at 1e-12), the dB
    ratio of each amplitude to the one before (``level_db``, computed by numpy's ``log10``)
    and the stretch of each pulse; the means in numpy's arithmetic
    (:mod:`features.reductions`), so each value equals its numpy expression to the bit."""
    out = np.full(_N_UTTERANCE, np.nan)
    n = times.shape[0] - 1  # periods
    if n < 1:
        return out
    period = np.empty(n)
    same = np.empty(n, np.bool_)
    ok = np.empty(n, np.bool_)
    for i in range(n):
        period[i] = (times[i + 1] - times[i]) / sr
        same[i] = seg[i + 1] == seg[i]
        ok[i] = same[i] and period[i] >= min_period and period[i] <= max_period
    if ok.sum() < 3:
        return out
    # consecutive pairs of valid periods whose ratio is plausible
    pair = np.empty(n - 1, np.bool_)
    jump = np.empty(n - 1)
    for i in range(n - 1):
        p0, p1 = period[i], period[i + 1]
        pair[i] = ok[i] and ok[i + 1] and max(p0, p1) <= MAX_PERIOD_FACTOR * min(p0, p1)
        jump[i] = abs(p1 - p0)
    if pair.sum() < 2:
        return out
    mean_p = reductions.mean(period[ok])
    out[0] = reductions.mean(jump[pair]) / mean_p
    if n >= 3:
        trip = np.empty(n - 2, np.bool_)
        dev = np.empty(n - 2)
        for i in range(n - 2):
            trip[i] = pair[i] and pair[i + 1]
            mid = period[i + 1]
            dev[i] = abs(mid - (period[i] + mid + period[i + 2]) / 3.0)
        if trip.any():
            out[1] = reductions.mean(dev[trip]) / mean_p
    apair = np.empty(n, np.bool_)
    step = np.empty(n)
    level = np.empty(n)
    for i in range(n):
        a0, a1 = a[i], a[i + 1]
        apair[i] = (same[i] and max(a0, a1) <= MAX_AMPLITUDE_FACTOR * min(a0, a1)
                    and ((i > 0 and ok[i - 1]) or ok[i]))  # amplitudes of marked periods
        step[i] = abs(a1 - a0)
        level[i] = abs(level_db[i])
    if apair.sum() >= 2:
        out[2] = reductions.mean(step[apair]) / reductions.mean(a[:-1][apair])
        out[3] = reductions.mean(level[apair])
    return out
