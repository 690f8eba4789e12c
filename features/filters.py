"""The fixed linear operators of the bank: window, mel and chroma filterbanks, Savitzky-Golay
derivative filters, the RASTA filter, the dB conversion.

Each equals its librosa 0.11 counterpart (``tests/test_features_equivalence.py`` holds them to
it), written here (numpy, and a numba loop for the derivative) because importing librosa
pulls in ``scipy.signal`` and compiles librosa's own numba ufuncs: about 0.8 s per process,
more than a CLI command may spend before its first file. They are built once per process
(``lru_cache``) and are tiny.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np
from numba import njit


@lru_cache(maxsize=16)
def hann(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window centred in ``n_fft`` samples; shape (n_fft,), float64.

    As ``librosa.util.pad_center(librosa.filters.get_window('hann', win_length), size=n_fft)``
    (the DFT-even window, Harris 1978, doi:10.1109/PROC.1978.10837).
    """
    if win_length > n_fft:
        raise ValueError(f"win_length={win_length} exceeds n_fft={n_fft}")
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))


def fft_frequencies(sr: int, n_fft: int) -> np.ndarray:
    """Centre frequency of each STFT bin, Hz; shape (1 + n_fft // 2,)."""
    return np.fft.rfftfreq(n_fft, d=1.0 / sr)


# Slaney's mel scale (Auditory Toolbox, 1998): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Hz to Slaney mels (``librosa.hz_to_mel(htk=False)``)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    high = hz >= _MIN_LOG_HZ
    return np.where(high, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ)
                    / _LOGSTEP, mel)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Slaney mels to Hz (``librosa.mel_to_hz(htk=False)``)."""
    mel = np.asarray(mel, dtype=np.float64)
    high = mel >= _MIN_LOG_MEL
    return np.where(high, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


@lru_cache(maxsize=64)
def mel(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0,
        fmax: float | None = None, warp: float = 1.0) -> np.ndarray:
    """Triangular mel filterbank, Slaney area-normalised; shape (n_mels, 1 + n_fft // 2), float32.

    As ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')``.
    ``warp`` scales every filter's edges in Hz (a vocal tract length warp: a speaker whose
    resonances sit ``warp`` times higher is read where the reference speaker's are; Lee &
    Rose 1998, IEEE Trans. Speech Audio Process. 6, 49-60); 1 is librosa's filterbank.
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    edges = warp * mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    ramps = edges[:, None] - fft_frequencies(sr, n_fft)[None, :]
    width = np.diff(edges)
    lower = -ramps[:-2] / width[:-1, None]
    upper = ramps[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=16)
def chroma(sr: int, n_fft: int, n_chroma: int = 12, ctroct: float = 5.0,
           octwidth: float = 2.0) -> np.ndarray:
    """Chroma filterbank at A440, C first; shape (n_chroma, 1 + n_fft // 2), float32.

    Gaussian bumps on the log-frequency circle, each bin's weights L2-normalised, then weighted
    by a Gaussian over octaves centred on ``ctroct`` (Ellis 2007, chromagram_E). As
    ``librosa.filters.chroma(sr, n_fft, n_chroma, tuning=0)``.
    """
    freqs = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    bins = n_chroma * np.log2(freqs / (440.0 / 16))
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))  # 0 Hz: 1.5 octaves below bin 1
    bin_width = np.concatenate((np.maximum(np.diff(bins), 1.0), [1.0]))
    half = np.round(n_chroma / 2)
    d = np.subtract.outer(bins, np.arange(n_chroma, dtype=float)).T
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    w = np.exp(-0.5 * (2 * d / bin_width[None, :]) ** 2)
    norm = np.sqrt(np.sum(w**2, axis=0, keepdims=True))
    w = w / np.where(norm < np.finfo(w.dtype).tiny, 1.0, norm)
    w *= np.exp(-0.5 * ((bins / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    w = np.roll(w, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(w[:, : 1 + n_fft // 2], dtype=np.float32)


@lru_cache(maxsize=32)
def savgol(width: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Savitzky-Golay weights for the ``order``-th derivative by a degree-``order`` local
    polynomial over ``width`` (odd) frames (Savitzky & Golay 1964, doi:10.1021/ac60214a047).

    Returns ``(centre, edge)``, each shape (width,): the weights around an interior frame, and
    those over the first (or last) ``width`` frames that give the edge frames' derivative, the
    polynomial fitted to the whole edge window ("interp" mode of ``scipy.signal.savgol_filter``,
    which ``librosa.feature.delta`` calls). The polynomial has degree ``order``, so its
    ``order``-th derivative, ``order! * c_order``, is one number per window.
    """
    if width % 2 != 1 or width <= order:
        raise ValueError(f"need an odd width > order, got width={width}, order={order}")
    half = width // 2

    def top_coefficient(x):
        return factorial(order) * np.linalg.pinv(np.vander(x, order + 1, increasing=True))[order]

    weights = top_coefficient(np.arange(-half, half + 1.0)), top_coefficient(np.arange(width + 0.0))
    for w in weights:
        w.setflags(write=False)  # cached and shared
    return weights


@njit(cache=True)
def _savgol_inner(x, centre, out):
    """``out[:, half:n - half]`` of :func:`derivative`: each sum of ``width`` products is
    taken in float64 and stored in ``out``'s type after each term, as numpy's
    ``out += centre[k] * x[shifted]`` over the whole row would, so both give the same bits."""
    n_rows, n = x.shape
    width = centre.shape[0]
    half = width // 2
    m = n - width + 1
    for r in range(n_rows):
        row, dst = x[r], out[r, half:half + m]
        for j in range(m):
            dst[j] = row[j] * centre[0]
        for k in range(1, width):  # term by term along the row: contiguous, vectorised
            c = centre[k]
            for j in range(m):
                dst[j] = dst[j] + c * row[j + k]


def derivative(x: np.ndarray, width: int, order: int) -> np.ndarray:
    """``order``-th Savitzky-Golay derivative along the last axis; shape as ``x``.

    As ``librosa.feature.delta(x, width=width, order=order, axis=-1)``; ``x.shape[-1]`` must be
    at least ``width``.
    """
    centre, edge = savgol(width, order)
    half, n = width // 2, x.shape[-1]
    out = np.empty(x.shape, dtype=np.result_type(x.dtype, np.float32))
    _savgol_inner(np.ascontiguousarray(x.reshape(-1, n)), centre, out.reshape(-1, n))
    out[..., :half] = (x[..., :width] @ edge)[..., None]
    out[..., n - half:] = (x[..., n - width:] @ edge)[..., None]
    return out


#: The RASTA filter (Hermansky & Morgan 1994, IEEE Trans. Speech Audio Process. 2, 578-589),
#: as rastamat's ``rastafilt``: a regression slope over five frames (a zero at 0 Hz) and a
#: pole at 0.94, a band-pass of about 1 to 12 Hz of modulation at a 10 ms hop.
RASTA_NUMERATOR = (0.2, 0.1, 0.0, -0.1, -0.2)
RASTA_POLE = 0.94


def rasta(x: np.ndarray) -> np.ndarray:
    """RASTA-filter each row of ``x`` (log-spectral or cepstral trajectories, frames last);
    shape as ``x``, float64.

    A stationary channel (a microphone's or room's fixed frequency response, a level) adds a
    constant to each log band, hence to each cepstral row: the filter's zero at 0 Hz removes
    it exactly, and its pass band keeps the syllable-rate changes of speech. As rastamat's
    ``rastafilt`` (D. Ellis, after ``rasta_filt.c``): the first four frames prime the
    filter's FIR state and are output as 0; a row of four frames or fewer is all 0. Because
    both the filter and the DCT are linear, filtering the cepstrum equals taking the cepstrum
    of the filtered log-mel bands, as RASTA-PLP does.

    Computed as ``scipy.signal.lfilter`` does, to the bit (its FIR priming is
    ``np.convolve``, its recursion the transposed direct form II of :func:`_rasta_kernel`;
    ``tests/test_filters.py``), without importing ``scipy.signal`` (~0.3 s per process).
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)  # C order, so that the kernel writes through the reshape below
    n = x.shape[-1]
    if n > 4:
        b = np.asarray(RASTA_NUMERATOR)
        rows = np.ascontiguousarray(x.reshape(-1, n))
        state = np.zeros((len(rows), 4))
        for i, row in enumerate(rows):  # lfilter's FIR priming, as lfilter computes it
            state[i] = np.convolve(b, row[:4])[4:]
        _rasta_kernel(rows, b, -RASTA_POLE, state, out.reshape(-1, n))
    return out


@njit(cache=True)
def _rasta_kernel(x, b, a1, state, out):
    """The recursion of ``lfilter(b, [1, a1], x[:, 4:], zi=state)`` into ``out[:, 4:]``,
    with scipy's operations in scipy's order (``a`` padded with zeros to ``b``'s length)."""
    m = b.shape[0]
    z = np.empty(m - 1)
    for r in range(x.shape[0]):
        z[:] = state[r]
        for k in range(4, x.shape[1]):
            xn = x[r, k]
            y = z[0] + b[0] * xn
            z[0] = z[1] + xn * b[1] - y * a1
            for i in range(1, m - 2):
                z[i] = z[i + 1] + xn * b[i + 1] - y * 0.0
            z[m - 2] = xn * b[m - 1] - y * 0.0
            out[r, k] = y


def power_to_db(x: np.ndarray, top_db: float | None = 80.0, amin: float = 1e-10) -> np.ndarray:
    """Power to dB re 1, floored ``top_db`` below the maximum (``librosa.power_to_db`` with
    ``ref=1.0``)."""
    x = np.asarray(x)
    # 10 log10(x) as (10 / ln 10) ln(x): numpy's float32 natural log is vectorised, its log10
    # three times slower (the two agree to an ulp)
    ftype = x.dtype.type if x.dtype.kind == "f" else np.float64
    db = ftype(10.0 / np.log(10.0)) * np.log(np.maximum(ftype(amin), x))
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)
    return db
