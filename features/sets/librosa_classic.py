"""The classic librosa recipe of SER tutorials: one ``librosa.feature`` call per descriptor,
each on the waveform at librosa's default framing (2,048-point FFT, 512-sample hop), mean and
standard deviation over time.

It is the historical baseline row, kept plain on purpose: not ours to optimise. Descriptors:
40 MFCCs, 12 chroma bins, 128 mel bands (power), 7 spectral-contrast bands, 6 tonnetz
dimensions, and zero-crossing rate, RMS, spectral centroid, bandwidth, roll-off and
flatness: 199 rows, 398 features.
"""

from __future__ import annotations

import warnings

import numpy as np

from features.sets.base import check_finite, utterance_namespace

ROWS: tuple[tuple[str, int], ...] = (
    ("mfcc", 40), ("chroma", 12), ("mel", 128), ("contrast", 7), ("tonnetz", 6), ("zcr", 1),
    ("rms", 1), ("centroid", 1), ("bandwidth", 1), ("rolloff", 1), ("flatness", 1))
VERSION = "1"  # bump when the recipe changes


class LibrosaClassic:
    """The tutorials' recipe at ``sr`` Hz (default 16 kHz)."""

    def __init__(self, sr: int = 16000):
        self.sr = sr

    def __repr__(self) -> str:
        return f"LibrosaClassic(sr={self.sr})"

    def __eq__(self, other) -> bool:
        return isinstance(other, LibrosaClassic) and other.sr == self.sr

    def __hash__(self) -> int:
        return hash(("librosa_classic", self.sr))

    @property
    def feature_names(self) -> list[str]:
        rows = [f"{name}_{i:03d}" if n > 1 else name for name, n in ROWS for i in range(n)]
        return [f"{r}_{s}" for r in rows for s in ("mean", "std")]

    def cache_namespace(self, kind: str = "features") -> str:
        import librosa

        return utterance_namespace("librosa-classic", kind, VERSION, self.sr,
                                   librosa.__version__)

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Shape (398,), float32: per descriptor row, its mean then its std over frames."""
        y = np.asarray(y, dtype=np.float32)
        with warnings.catch_warnings():  # tonnetz's CQT frames its lowest octaves' short
            # downsampled signals with a larger FFT than they hold, and says so each time
            warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large",
                                    category=UserWarning, module="librosa")
            rows = self._rows(y, sr)
        stats = [np.stack([r.mean(axis=1), r.std(axis=1)], axis=1).ravel() for r in rows]
        return check_finite(np.concatenate(stats), self.feature_names)

    @staticmethod
    def _rows(y: np.ndarray, sr: int) -> list[np.ndarray]:
        import librosa

        f = librosa.feature
        return [f.mfcc(y=y, sr=sr, n_mfcc=40), f.chroma_stft(y=y, sr=sr),
                f.melspectrogram(y=y, sr=sr), f.spectral_contrast(y=y, sr=sr),
                f.tonnetz(y=librosa.effects.harmonic(y), sr=sr), f.zero_crossing_rate(y),
                f.rms(y=y), f.spectral_centroid(y=y, sr=sr), f.spectral_bandwidth(y=y, sr=sr),
                f.spectral_rolloff(y=y, sr=sr), f.spectral_flatness(y=y)]
