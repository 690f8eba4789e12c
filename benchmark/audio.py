"""The one way serbench reads audio.

Files are opened by *content* through libsndfile (an AIFF stream inside a ``.wav`` file loads),
resampled with soxr and downmixed to mono. Every failure raises :class:`AudioError`, whose
message names the file and the reason, so callers can report it and carry on.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3", ".au", ".w64"})

#: Peak amplitude (full scale = 1) below which a file counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4
#: Shortest usable recording, in seconds: below it no utterance-level statistic means much.
MIN_DURATION_S = 0.25
#: ``predict`` reads a file longer than ``LONG_WINDOWS`` windows window by window: windows of
#: ``WINDOW_S`` seconds, the length of an acted corpus's utterances (RAVDESS's run 3-5 s),
#: every ``HOP_S`` seconds; shorter files whole, as the training utterances were.
WINDOW_S, HOP_S, LONG_WINDOWS = 4.0, 2.0, 2


class AudioError(ValueError):
    """A file that cannot be used as audio; ``str(err)`` says which file and why."""

    def __init__(self, path: os.PathLike | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of a readable audio file."""

    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _source(path: os.PathLike | str, data: bytes | None):
    return io.BytesIO(data) if data is not None else str(path)


def info(path: os.PathLike | str, data: bytes | None = None) -> AudioInfo:
    """Read the header of ``path`` (or of its bytes ``data``) by content.

    Raises :class:`AudioError` for a missing, empty or unreadable file.
    """
    if data is None:
        _check_exists(path)
    try:
        i = sf.info(_source(path, data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(path, f"not readable as audio ({_short(exc)})") from exc
    _check_complete(path, data)
    return AudioInfo(int(i.samplerate), int(i.channels), int(i.frames), str(i.format))


def load(
    path: os.PathLike | str,
    sr: int | None = 16000,
    *,
    data: bytes | None = None,
    min_duration_s: float = MIN_DURATION_S,
    reject_silent: bool = True,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 signal at ``sr`` Hz, refusing unusable audio.

    The one validation every path shares (corpus scans, extraction, ``predict``, the app):
    unreadable, truncated, empty, non-finite, too short or silent audio raises
    :class:`AudioError`. Pass ``min_duration_s=0, reject_silent=False`` for raw decoding.

    Parameters
    ----------
    path : path-like
        The file; also used in error messages when ``data`` is given.
    sr : int or None
        Target sample rate in Hz; ``None`` keeps the file's rate.
    data : bytes, optional
        The file's bytes, when the caller has read them already (to hash them, say).
    min_duration_s : float
        Raise if the decoded signal is shorter than this many seconds
        (default :data:`MIN_DURATION_S`).
    reject_silent : bool
        Raise if the peak amplitude is below :data:`SILENCE_PEAK` (default on).

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32
        Channels are averaged; resampling uses soxr's HQ setting.
    """
    y, native_sr = _decode(path, data)
    if y.ndim == 2:
        y = y.mean(axis=1, dtype=np.float32)
    if y.size == 0:
        raise AudioError(path, "no audio samples (empty file)")
    if not np.all(np.isfinite(y)):
        raise AudioError(path, "non-finite samples (NaN or inf)")
    if sr is not None and native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="HQ").astype(np.float32, copy=False)
    rate = sr or native_sr
    duration = y.size / rate
    if duration < min_duration_s:
        raise AudioError(path, f"too short: {duration:.3f} s < minimum {min_duration_s:g} s")
    if reject_silent and float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(path, f"silent: peak amplitude below {SILENCE_PEAK:g}")
    return np.ascontiguousarray(y, dtype=np.float32)


def segments(path: os.PathLike | str, window_s: float, hop_s: float
             ) -> Iterator[tuple[float, float, bytes]]:
    """Windows of a long file, read one at a time, so memory is bounded by the window however
    long the file is (an hour's full decode would take gigabytes).

    Windows of ``window_s`` seconds start every ``hop_s`` seconds; the last one ends at the
    file's end, so every sample is in some window. Each is ``(start_s, end_s, wav)``, ``wav``
    the window as a WAV file's bytes at the file's own rate and channels, for :func:`load`
    (and its validation) to decode like any file.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window and hop must be positive, given {window_s} and {hop_s}")
    _check_exists(path)
    _check_complete(path, None)
    try:
        fh = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(path, f"not readable as audio ({_short(exc)})") from exc
    with fh:
        sr, total = fh.samplerate, fh.frames
        window, hop = max(1, round(window_s * sr)), max(1, round(hop_s * sr))
        starts = list(range(0, max(total - window, 0) + 1, hop))
        if starts[-1] + window < total:
            starts.append(total - window)
        for start in starts:
            fh.seek(start)
            block = fh.read(min(window, total - start), dtype="float32", always_2d=True)
            buf = io.BytesIO()
            sf.write(buf, block, sr, format="WAV", subtype="FLOAT")
            yield start / sr, (start + len(block)) / sr, buf.getvalue()


def load_with_rate(path: os.PathLike | str, data: bytes | None = None) -> tuple[np.ndarray, int]:
    """Decode without resampling; returns ``(y, sr)`` with ``y`` shaped (n_samples, channels)."""
    return _decode(path, data)


def _decode(path: os.PathLike | str, data: bytes | None) -> tuple[np.ndarray, int]:
    if data is None:
        _check_exists(path)
    try:
        y, native_sr = sf.read(_source(path, data), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(path, f"not readable as audio ({_short(exc)})") from exc
    _check_complete(path, data)
    return y, int(native_sr)


def _check_complete(path: os.PathLike | str, data: bytes | None) -> None:
    """Refuse a WAV or AIFF file cut off inside its sample data.

    libsndfile reads such a file silently as a shorter clip; the header still says how many
    bytes of samples were written, so a shortfall is a truncated file (a failed copy or
    download), whose end, and maybe its label, is lost.
    """
    with (io.BytesIO(data) if data is not None else open(path, "rb")) as fh:
        head = fh.read(12)
        size = fh.seek(0, io.SEEK_END)
        if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
            big, name, pos = head[:4] == b"RIFX", b"data", 12
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            big, name, pos = True, b"SSND", 12
        else:
            return
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            length = int.from_bytes(chunk[4:], "big" if big else "little")
            if chunk[:4] == name:
                available = size - pos - 8
                if 0 < length < 0xFFFFFFFF and length > available:  # 0 / ~0: streamed, unknown
                    raise AudioError(path, f"truncated: the header declares {length} bytes of "
                                     f"samples, the file holds {available}")
                return
            pos += 8 + length + (length & 1)

def _check_exists(path: os.PathLike | str) -> None:
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise AudioError(path, f"dangling symbolic link (to {os.readlink(p)})")
    if p.is_dir():
        raise AudioError(path, "a folder named like an audio file, not a file")
    if p.exists() and not p.is_file():  # a FIFO would block its reader, a device never end
        raise AudioError(path, "not a regular file (a FIFO, socket or device)")
    if not p.is_file():
        raise AudioError(path, "file not found")
    if p.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:200]
