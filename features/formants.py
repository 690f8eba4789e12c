"""Formants F1-F3 and their bandwidths per voiced frame, by linear prediction on the shared
power spectrum.

The vocal-tract resonances move with articulation and with emotional vocal settings (a
raised larynx, spread lips, tension), and eGeMAPS keeps F1-F3 with their bandwidths for that
reason (Eyben et al. 2016). The method is Praat's ``To Formant`` in outline (Boersma &
Weenink, Praat manual, "Sound: To Formant (burg)..."): the signal band-limited to a maximum
formant of 5,500 Hz (a mixed-gender default), pre-emphasised from 50 Hz, an all-pole model of
order 10 (five resonances), and the formants read off the poles. Band-limiting costs nothing
here: the autocorrelation of the signal resampled to twice the maximum formant is the inverse
transform of the frame's power spectrum truncated at that frequency (Wiener-Khinchin), so the
model is fitted by Levinson-Durbin recursion on the few lags of that inverse transform it
needs (one small matrix product)
(Makhoul 1975, Linear prediction: a tutorial review, Proc. IEEE 63(4),
doi:10.1109/PROC.1975.9792), not by a second pass over the waveform. Praat fits by Burg's
method on a Gaussian window; the autocorrelation method on our Hann frame is the textbook
alternative, and the tests hold both to the known resonances of synthetic vowels and to each
other on real speech.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from features import reductions
from features.stft import Spectra

#: Column names of the frame rows :func:`formants` returns.
NAMES: tuple[str, ...] = ("f1", "f2", "f3", "b1", "b2", "b3")
#: Highest formant searched, Hz (Praat's default for a mixed-gender corpus).
MAX_FORMANT_HZ = 5500.0
#: All-pole model order: two poles per formant, five formants below ``MAX_FORMANT_HZ``.
LPC_ORDER = 10
#: Pre-emphasis corner, Hz (Praat's "pre-emphasis from").
PRE_EMPHASIS_HZ = 50.0
#: Poles this close to 0 Hz or to the band edge are not formants (Praat: 50 Hz).
EDGE_HZ = 50.0


@lru_cache(maxsize=16)
def _band(sr: int, n_fft: int) -> tuple[np.ndarray, float]:
    """The operator from a frame's power spectrum (bins 0 .. n_fft / 2) to the first
    ``LPC_ORDER + 1`` autocorrelation lags of the pre-emphasised signal band-limited to
    ``MAX_FORMANT_HZ`` (the inverse real transform of the kept bins, written out for the few
    lags needed), and the rate (Hz) at which the kept band is a full spectrum."""
    df = sr / n_fft
    n_bins = min(int(np.floor(MAX_FORMANT_HZ / df)) + 1, n_fft // 2 + 1)
    n = 2 * (n_bins - 1)
    fs = n * df
    a = np.exp(-2.0 * np.pi * PRE_EMPHASIS_HZ / fs)
    b = np.arange(n_bins)
    emphasis = 1.0 - 2.0 * a * np.cos(2.0 * np.pi * b / n) + a * a  # |1 - a e^{-jw}|^2
    weight = np.where((b == 0) | (b == n_bins - 1), 1.0, 2.0) / n  # irfft's Hermitian sum
    lags = np.arange(LPC_ORDER + 1)[:, None]
    op = np.zeros((LPC_ORDER + 1, n_fft // 2 + 1))
    op[:, :n_bins] = np.cos(2.0 * np.pi * lags * b[None] / n) * (weight * emphasis)[None]
    return op, fs


@njit(cache=True)
def _levinson(r, order):
    """LPC coefficients a[0..order] (a[0] = 1) of each column of autocorrelations r
    (shape (order + 1, n)); a column whose recursion breaks down (silence) stays zero."""
    n = r.shape[1]
    out = np.zeros((n, order + 1))
    a = np.zeros(order + 1)
    tmp = np.zeros(order + 1)
    for t in range(n):
        err = r[0, t]
        if err <= 0.0:
            continue
        a[:] = 0.0
        a[0] = 1.0
        ok = True
        for i in range(1, order + 1):
            acc = r[i, t]
            for j in range(1, i):
                acc += a[j] * r[i - j, t]
            k = -acc / err
            tmp[:] = a
            for j in range(1, i):
                a[j] = tmp[j] + k * tmp[i - j]
            a[i] = k
            err *= 1.0 - k * k
            if err <= 1e-12 * r[0, t]:
                ok = False
                break
        if ok:
            out[t] = a
    return out


def lpc(sp: Spectra, frames: np.ndarray, sr: int, n_fft: int) -> tuple[np.ndarray, float]:
    """All-pole models of the chosen frames, band-limited to ``MAX_FORMANT_HZ`` and
    pre-emphasised; shape (len(frames), LPC_ORDER + 1), and the model's sample rate (Hz)."""
    op, fs = _band(sr, n_fft)
    r = op @ sp.power[:, frames].astype(np.float64)
    return _levinson(np.ascontiguousarray(r), LPC_ORDER), fs


@njit(cache=True)
def _aberth(a, z, max_iter):
    """Roots of the monic polynomial z^m + a[1] z^(m-1) + ... + a[m], refined in place from
    the guesses ``z`` by Aberth-Ehrlich iteration (cubic convergence); False when it did not
    converge within ``max_iter`` sweeps. A root whose last correction fell under the
    tolerance is left alone (it still repels the others): from a warm start most roots are
    done after a sweep or two, and the reciprocals are written out (conj(d) / |d|^2) because
    the general complex division costs several times more."""
    m = z.shape[0]
    done = np.zeros(m, np.bool_)
    worst = np.inf
    for _ in range(max_iter):
        worst = 0.0
        for k in range(m):
            if done[k]:
                continue
            zk = z[k]
            p = 1.0 + 0j
            dp = 0.0 + 0j
            for j in range(1, m + 1):  # Horner: the value and the derivative together
                dp = dp * zk + p
                p = p * zk + a[j]
            if p == 0:
                done[k] = True
                continue
            ratio = p / dp if dp != 0 else p
            sr = 0.0
            si = 0.0
            for j in range(m):
                if j != k:
                    dr = zk.real - z[j].real
                    di = zk.imag - z[j].imag
                    mag2 = dr * dr + di * di
                    if mag2 > 0.0:
                        sr += dr / mag2
                        si -= di / mag2
            den = 1.0 - ratio * complex(sr, si)
            w = ratio / den if den != 0 else ratio
            z[k] = zk - w
            step = w.real * w.real + w.imag * w.imag  # |w|^2: no hypot call per root
            if step < 1e-20:  # |w| < 1e-10, |z| ~ 1: a formant to 1e-6 Hz
                done[k] = True
            worst = max(worst, step)
        if worst < 1e-20:
            return True
    return worst < 1e-16  # rounding keeps some sweeps just above the stop: converged all the same


@njit(cache=True)
def _formant_kernel(a, fs, n, edge):
    """The ``n`` lowest resonances (frequencies, then bandwidths) of each all-pole model
    (rows of ``a``); each frame's roots start from the previous frame's, which are close
    (the vocal tract moves slowly), so a sweep or three suffice; a cold start otherwise."""
    n_models, m = a.shape[0], a.shape[1] - 1
    out = np.full((2 * n, n_models), np.nan)
    z = np.empty(m, np.complex128)
    cold = np.empty(m, np.complex128)
    for k in range(m):  # Aberth's usual start: a circle, rotated off the real axis
        cold[k] = 0.9 * np.exp(1j * (2.0 * np.pi * k / m + 0.4))
    warm = False
    freq = np.empty(m)
    bw = np.empty(m)
    for t in range(n_models):
        if a[t, 0] != 1.0:
            warm = False
            continue
        if not warm:
            z[:] = cold
        ok = _aberth(a[t], z, 8 if warm else 200)
        if not ok and warm:
            z[:] = cold
            ok = _aberth(a[t], z, 200)
        warm = ok
        if not ok:
            continue
        count = 0
        for k in range(m):
            f = np.arctan2(z[k].imag, z[k].real) * fs / (2.0 * np.pi)
            if edge < f < fs / 2.0 - edge:
                freq[count] = f
                bw[count] = -np.log(max(abs(z[k]), 1e-12)) * fs / np.pi
                count += 1
        for i in range(1, count):  # ascending frequency: insertion sort of a few poles,
            f, b = freq[i], bw[i]    # no array allocated per frame as argsort would
            j = i - 1
            while j >= 0 and freq[j] > f:
                freq[j + 1] = freq[j]
                bw[j + 1] = bw[j]
                j -= 1
            freq[j + 1] = f
            bw[j + 1] = b
        for i in range(min(n, count)):
            out[i, t] = freq[i]
            out[n + i, t] = bw[i]
    return out


def poles_to_formants(a: np.ndarray, fs: float, n: int = 3) -> np.ndarray:
    """The ``n`` lowest resonances of each all-pole model.

    Parameters
    ----------
    a : np.ndarray, shape (n_models, order + 1)
        Prediction polynomials, ``a[:, 0] == 1`` (rows of zeros: no model), in time order
        (each model's roots start from the previous one's).
    fs : float
        The models' sample rate, Hz.

    Returns
    -------
    np.ndarray, shape (2 * n, n_models)
        Frequencies then bandwidths (Hz) of the ``n`` lowest poles in the upper half plane
        between ``EDGE_HZ`` and ``fs / 2 - EDGE_HZ``: ``f = arg(z) fs / 2 pi``,
        ``b = -ln|z| fs / pi``; NaN where a model has fewer. The roots are those of
        ``numpy.roots`` (tested), found by Aberth-Ehrlich iteration at a fraction of the
        cost of a companion-matrix eigensolver per frame.
    """
    return _formant_kernel(np.ascontiguousarray(a, dtype=np.float64), float(fs), int(n),
                           EDGE_HZ)


#: F3 of the reference speaker a warped cepstrum reads every voice as, Hz: between adult men's
#: and women's averages (about 2.5 and 3.0 kHz; Peterson & Barney 1952, JASA 24, 175-184).
REFERENCE_F3_HZ = 2750.0
#: The warps allowed: about a child's and a tall man's vocal tract against the reference.
WARP_RANGE = (0.8, 1.25)


def warp_factor(f3: np.ndarray) -> float:
    """Vocal tract length warp of one utterance (Eide & Gish 1996, A parametric approach to
    vocal tract length normalization, ICASSP 1996, vol. 1, 346-349): the median F3
    (Hz) of its frames that have one over :data:`REFERENCE_F3_HZ`, clipped to
    :data:`WARP_RANGE` and rounded to 0.01 (the filterbanks it builds are then few, and
    cached); 1 when no frame has an F3. F3 moves with the length of the tract more than with
    the vowel, which moves F1 and F2."""
    f3 = np.asarray(f3, np.float64)
    f3 = f3[np.isfinite(f3)]
    if f3.size == 0:
        return 1.0
    median = reductions.median(np.sort(f3))  # np.median's value, without its overhead
    return round(float(np.clip(median / REFERENCE_F3_HZ, *WARP_RANGE)), 2)


def formants(sp: Spectra, voiced: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """F1-F3 and B1-B3 (rows of :data:`NAMES`, Hz) per frame; shape (6, n_frames), NaN on
    unvoiced frames (formants of noise or silence are not articulation)."""
    out = np.full((len(NAMES), sp.n_frames), np.nan)
    idx = np.flatnonzero(voiced)
    if idx.size:
        a, fs = lpc(sp, idx, sr, n_fft)
        out[:, idx] = poles_to_formants(a, fs, n=3)
    return out
