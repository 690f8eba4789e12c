"""openSMILE functionals (audEERING's ``opensmile`` package) as an extractor.

The signal comes from serbench's one loader (same decoding, resampling, downmix and bad-file
handling as every other set) and is handed to openSMILE as an array, so openSMILE never opens
a file. Reference: Eyben et al. (2016), The Geneva Minimalistic Acoustic Parameter Set
(GeMAPS), IEEE Trans. Affective Computing 7(2), doi:10.1109/TAFFC.2015.2457417; Schuller et al.
(2016), The INTERSPEECH 2016 ComParE challenge, doi:10.21437/Interspeech.2016-129.
"""

from __future__ import annotations

import functools
from functools import cached_property

import numpy as np

from features.sets.base import check_finite, utterance_namespace


@functools.lru_cache(maxsize=4)
def _smile(feature_set: str):
    """One openSMILE process handle per feature set and process (workers build their own)."""
    import opensmile

    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=opensmile.FeatureLevel.Functionals)


def smile_version() -> str:
    from importlib.metadata import version

    return version("opensmile")


class OpenSmile:
    """Functionals of one openSMILE feature set (``eGeMAPSv02``, ``ComParE_2016``, ...).

    Parameters
    ----------
    feature_set : name of an ``opensmile.FeatureSet`` member.
    sr : the rate, in Hz, signals are resampled to before openSMILE sees them.
    """

    def __init__(self, feature_set: str, sr: int = 16000):
        self.feature_set = feature_set
        self.sr = sr

    def __repr__(self) -> str:
        return f"OpenSmile({self.feature_set!r}, sr={self.sr})"

    def __eq__(self, other) -> bool:
        return isinstance(other, OpenSmile) and (self.feature_set, self.sr) == (
            other.feature_set, other.sr)

    def __hash__(self) -> int:
        return hash((self.feature_set, self.sr))

    @cached_property
    def feature_names(self) -> list[str]:
        return list(_smile(self.feature_set).feature_names)

    def cache_namespace(self, kind: str = "features") -> str:
        return utterance_namespace(self.feature_set.lower(), kind, self.feature_set, self.sr,
                                   smile_version())

    def extract(self, y: np.ndarray, sr: int) -> np.ndarray:
        """The set's functionals; shape (len(feature_names),), float32."""
        if sr != self.sr:
            raise ValueError(f"expected a signal at {self.sr} Hz, got {sr} Hz")
        try:
            frame = _smile(self.feature_set).process_signal(np.asarray(y, np.float32), sr)
        except RuntimeError as exc:  # openSMILE's own failures: a named, per-file error
            raise ValueError(f"openSMILE {self.feature_set} failed ({exc})") from exc
        return check_finite(frame.to_numpy()[0], self.feature_names)
