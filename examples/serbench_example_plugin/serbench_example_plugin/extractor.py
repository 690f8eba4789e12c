"""A plug-in feature set: four utterance features, mean and standard deviation over frames of
the zero-crossing rate and the RMS energy (librosa, 25 ms frames every 10 ms at 16 kHz).

The contract (docs/extending.md): ``sr`` (the rate serbench decodes to), ``feature_names``,
``extract(y, sr)`` -> one float32 row, all finite, and ``cache_namespace(kind)``, which must
change whenever what ``extract`` computes changes (here: a version, the rate, librosa's
version), since serbench caches rows under it.
"""

from __future__ import annotations

import numpy as np

VERSION = "1"  # bump when extract() changes what it computes


class ZcrRms:
    def __init__(self, sr: int = 16000, frame: int = 400, hop: int = 160):
        self.sr, self.frame, self.hop = sr, frame, hop

    @property
    def feature_names(self) -> list[str]:
        return ["zcr_mean", "zcr_std", "rms_mean", "rms_std"]

    def cache_namespace(self, kind: str = "features") -> str:
        import librosa

        from features.sets.base import utterance_namespace

        return utterance_namespace("example-zcr-rms", kind, VERSION, self.sr, self.frame,
                                   self.hop, librosa.__version__)

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        zcr = librosa.feature.zero_crossing_rate(y, frame_length=self.frame,
                                                 hop_length=self.hop)[0]
        rms = librosa.feature.rms(y=y, frame_length=self.frame, hop_length=self.hop)[0]
        row = np.array([zcr.mean(), zcr.std(), rms.mean(), rms.std()], dtype=np.float32)
        if not np.all(np.isfinite(row)):
            raise FloatingPointError("non-finite zcr/rms statistics")
        return row
