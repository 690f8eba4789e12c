"""The feature bank's one typed configuration; its digest keys the cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from features.schema import build

#: Bump when a change to the feature code alters any output value: it invalidates the cache.
# 8: dB by ln, flux and formant-root kernels (ulp-level); 7: voiced envelope stats;
# 6: voice, formants; 5: pitch ignores 0 Hz
FEATURE_CODE_VERSION = "8"

#: Descriptor groups, in column order. An ablation selects a subset of these names.
GROUPS: tuple[str, ...] = (
    "temporal",  # zcr, rms
    "spectral",  # centroid, bandwidth, rolloff, flatness
    "contrast",  # spectral contrast, n_contrast_bands + 1 rows
    "chroma",  # 12 pitch classes
    "mfcc",  # n_mfcc coefficients (+ deltas)
    "logmel",  # n_mels log-mel bands
    "pitch",  # F0 (voiced frames) and voicing strength
    "balance",  # loudness, alpha ratio, Hammarberg, slopes, band energies, flux (voicing-aware)
    "prosody",  # F0 in semitones, its range and slopes, voicing rhythm, loudness peaks
    "voice",  # HNR, H1-H2, H1-A3 (voiced frames); jitter and shimmer (utterance)
    "formants",  # F1-F3 and their bandwidths (voiced frames)
)

#: The utterance functionals ``functionals()`` computes, in its column order; "percentiles"
#: stands for one column per configured percentile.
STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "percentiles", "skew", "kurt",
                               "slope")

#: The default bank (439 columns): the source-filter families eGeMAPS keeps (F0 and voicing,
#: spectral balance and loudness, prosody, voice quality, formants) and 20 MFCCs read through
#: mel filters warped by the vocal tract (``vtln``) and RASTA-filtered (``rasta``), their
#: statics by mean and spread, their deltas by every default functional. Chosen on RAVDESS
#: and TESS, by the worst margin over eGeMAPS and ComParE across the transfer criteria (both
#: cross-corpus directions, both corpora's LOSO, both corpora together; both normalisations;
#: features/README.md, "The default"): 40 cepstra and the spectral shape and contrast rows
#: fit the training corpus's speakers and sentences (TESS -> RAVDESS fell 0.06 below eGeMAPS
#: with them); zero crossings count the recording chain's band limit and rms is the level,
#: which loudness has (test_invariance); chroma adds nothing once MFCCs are there, the 64
#: log-mel bands are the MFCCs' own information again, and min / max (one frame each) and
#: skewness / kurtosis (unstable on a few hundred frames) give way to percentiles. The mel
#: filters end at 6.4 kHz (``fmax``), as the spectral shape rows do: above it a recording
#: chain shows, not the voice.
DEFAULT_GROUPS: tuple[str, ...] = ("mfcc", "pitch", "balance", "prosody", "voice", "formants")
DEFAULT_FUNCTIONALS: tuple[str, ...] = ("mean", "std", "percentiles", "slope")
DEFAULT_MFCC_FUNCTIONALS: tuple[str, ...] = ("mean", "std")
#: Groups of frame rows (one row per frame, summarised by every functional).
FRAME_GROUPS: tuple[str, ...] = ("temporal", "spectral", "contrast", "chroma", "mfcc", "logmel")
#: The spectral-envelope rows (shape, contrast, MFCCs) are summarised over voiced frames: a
#: vowel's envelope is where articulation and phonation show, while pauses, breaths and
#: fricatives, whose share of an utterance varies with its length and tempo, would otherwise
#: dominate a mean and a spread (eGeMAPS summarises MFCCs over voiced frames for the same
#: reason). Energy and zero crossings (``temporal``) stay over all frames: their pauses are
#: prosody.
DEFAULT_VOICED_GROUPS: tuple[str, ...] = ("spectral", "contrast", "mfcc")


#: Parameters added after configs were first stored, each with the value that computes what the
#: code did before it: a stored config without one means that value (FeatureConfig.from_stored).
ADDED: dict[str, object] = {"spectral_fmax": None, "mfcc_functionals": None, "rasta": False,
                            "formant_levels": (3,), "vtln": False}

#: The parameters the frame-level log-mel reads (a spectrogram model's input): any other may
#: change, and the cached log-mels and the cells of models on them stay what they are.
LOGMEL_PARAMETERS: tuple[str, ...] = ("sr", "win_ms", "hop_ms", "n_fft", "n_mels", "fmin",
                                      "fmax", "top_db")

#: Parameters that must be above zero, and those that are fractions in (0, 1): checked when a
#: config is made, so that a bad value is one line naming it, not a traceback from a kernel.
_POSITIVE = ("sr", "win_ms", "hop_ms", "n_fft", "n_mels", "n_mfcc", "n_contrast_bands",
             "contrast_fmin", "n_chroma", "top_db")
_FRACTIONS = ("contrast_quantile", "rolloff_percent", "voicing_threshold")


@dataclass(frozen=True)
class FeatureConfig:
    """All parameters of the bank. Times in ms, frequencies in Hz.

    The defaults follow common SER practice: 16 kHz, 25 ms Hann window (zero-padded to a
    512-point FFT), 10 ms hop. The pitch tracker reads its autocorrelation from the same power
    spectrum; the circular aliasing of a 512-point transform is negligible there because the
    Hann window's own autocorrelation beyond 300 lags is below 0.5 % of its peak (measured
    against pYIN on RAVDESS: the same accuracy as a 1024-point transform at 60 % of the cost).
    """

    sr: int = 16000
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_mels: int = 64
    fmin: float = 0.0
    #: the top of the mel filters (MFCCs, log-mel, loudness), Hz (None: Nyquist, as librosa):
    #: 6.4 kHz for the reason of ``spectral_fmax``; the cepstrum of speech from a 44.1 kHz
    #: source then moves half as far (tests/test_invariance.py, features/README.md)
    fmax: float | None = 6400.0
    n_mfcc: int = 20  # librosa's default; 40 fit the training corpus (see DEFAULT_GROUPS)
    delta_order: int = 2  # 0: none, 1: deltas, 2: deltas and delta-deltas
    #: RASTA-filter the cepstral trajectories (then take their deltas): a stationary channel
    #: (a microphone's or room's response, a level) is removed exactly
    #: (``features.filters.rasta``); with the warp below, taken by the worst margin over the
    #: transfer criteria (features/README.md, "How the default was chosen")
    rasta: bool = True
    #: read the cepstrum through mel filters warped by the utterance's median F3 (vocal tract
    #: length normalisation, ``features.formants.warp_factor``): a speaker's tract length moves
    #: every resonance, which a model trained on other speakers reads as timbre; with the
    #: RASTA filter above, taken by the worst margin over the transfer criteria
    #: (features/README.md, "How the default was chosen")
    vtln: bool = True
    delta_width: int = 9  # frames, odd
    n_contrast_bands: int = 5
    contrast_fmin: float = 200.0
    #: the highest frequency the spectral shape and contrast rows read, Hz (None: Nyquist, as
    #: librosa): above it, a corpus's spectrum shows where its recording chain's anti-aliasing
    #: filter cut, not the voice (tests/test_invariance.py)
    spectral_fmax: float | None = 6400.0
    contrast_quantile: float = 0.02
    rolloff_percent: float = 0.85
    n_chroma: int = 12
    f0_min: float = 80.0
    f0_max: float = 600.0
    voicing_threshold: float = 0.45
    #: the formants (1-3) whose harmonic's level below H1 the voice group gives (H1-A3 by
    #: default; eGeMAPS keeps all three): measured on the transfer criteria
    #: (features/README.md, "How the default was chosen")
    formant_levels: tuple[int, ...] = (3,)
    top_db: float = 80.0
    percentiles: tuple[float, ...] = (10.0, 50.0, 90.0)
    functionals: tuple[str, ...] = DEFAULT_FUNCTIONALS  # which of STATISTICS summarise a row
    #: which of STATISTICS summarise the MFCC statics (None: ``functionals``); their deltas
    #: take ``functionals``. A static cepstrum's level and spread are its envelope; its
    #: percentiles and slope repeat them on one corpus's sentences (features/README.md)
    mfcc_functionals: tuple[str, ...] | None = DEFAULT_MFCC_FUNCTIONALS
    groups: tuple[str, ...] = field(default=DEFAULT_GROUPS)
    #: frame-row groups summarised over voiced frames only (all frames if none is voiced)
    voiced_groups: tuple[str, ...] = DEFAULT_VOICED_GROUPS

    def __post_init__(self):
        bad = [f"{k} = {getattr(self, k)}" for k in _POSITIVE if not getattr(self, k) > 0]
        bad += [f"{k} = {getattr(self, k)}" for k in _FRACTIONS if not 0 < getattr(self, k) < 1]
        bad += [f"percentile {p}" for p in self.percentiles if not 0 <= p <= 100]
        if self.delta_order not in (0, 1, 2):
            bad.append(f"delta_order = {self.delta_order} (0, 1 or 2)")
        if self.n_mfcc > self.n_mels:
            bad.append(f"n_mfcc = {self.n_mfcc} above n_mels = {self.n_mels}")
        if not 0 <= self.fmin < (self.fmax or self.sr / 2) <= self.sr / 2:
            bad.append(f"fmin = {self.fmin}, fmax = {self.fmax} (need 0 <= fmin < fmax <= sr/2)")
        top = self.contrast_fmin * 2.0 ** (self.n_contrast_bands - 1)  # the top band's start
        if self.spectral_fmax is not None and not top < self.spectral_fmax <= self.sr / 2:
            bad.append(f"spectral_fmax = {self.spectral_fmax} (need {top:g} < spectral_fmax <= "
                       f"sr/2: above the top contrast band's lower edge)")
        if not self.formant_levels or not set(self.formant_levels) <= {1, 2, 3}:
            bad.append(f"formant_levels = {list(self.formant_levels)} (a non-empty subset of "
                       "1, 2, 3)")
        if bad:
            raise ValueError("out of range: " + "; ".join(bad))
        unknown = [g for g in self.groups if g not in GROUPS]
        if unknown:
            raise ValueError(f"unknown feature group(s) {unknown}; known: {list(GROUPS)}")
        if not self.groups:
            raise ValueError("at least one feature group is needed")
        # keep the canonical order, so that the digest and the columns do not depend on it
        object.__setattr__(self, "groups", tuple(g for g in GROUPS if g in self.groups))
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        object.__setattr__(self, "formant_levels", tuple(sorted(set(self.formant_levels))))
        bad = [g for g in self.voiced_groups if g not in FRAME_GROUPS]
        if bad:
            raise ValueError(f"voiced_groups must be frame-row groups {list(FRAME_GROUPS)}; "
                             f"got {bad}")
        object.__setattr__(self, "voiced_groups",
                           tuple(g for g in FRAME_GROUPS if g in self.voiced_groups))
        for key in ("functionals", "mfcc_functionals"):
            chosen = getattr(self, key)
            if chosen is None and key == "mfcc_functionals":
                continue
            bad = [f for f in chosen if f not in STATISTICS]
            if bad or not chosen:
                raise ValueError(f"{key} must be a non-empty subset of {list(STATISTICS)}; "
                                 f"unknown: {bad}")
            object.__setattr__(self, key, tuple(f for f in STATISTICS if f in chosen))
        if self.win_length > self.n_fft:
            raise ValueError(f"window {self.win_length} samples exceeds n_fft {self.n_fft}")
        if self.delta_width % 2 == 0 or self.delta_width < 3:
            raise ValueError("delta_width must be odd and >= 3")
        if not 0 < self.f0_min < self.f0_max <= self.sr / 2:
            raise ValueError("need 0 < f0_min < f0_max <= sr/2")
        if self.sr / self.f0_min > self.win_length / 2:
            raise ValueError(
                f"f0_min {self.f0_min} Hz has a period longer than half the {self.win_ms} ms "
                "window; raise f0_min or win_ms")

    @property
    def win_length(self) -> int:
        return int(round(self.sr * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sr * self.hop_ms / 1000.0))

    @property
    def statistics(self) -> tuple[str, ...]:
        """Names of the utterance-level functionals, in column order (``p50`` for a
        percentile)."""
        return self.statistics_of(self.functionals)

    @property
    def statistic_index(self) -> list[int]:
        """Positions of :attr:`statistics` among the columns ``functionals()`` returns."""
        return self.statistic_index_of(self.functionals)

    @property
    def mfcc_statistics(self) -> tuple[str, ...]:
        """:attr:`statistics` of the MFCC statics."""
        return self.statistics_of(self.mfcc_functionals or self.functionals)

    @property
    def mfcc_statistic_index(self) -> list[int]:
        """:attr:`statistic_index` of the MFCC statics."""
        return self.statistic_index_of(self.mfcc_functionals or self.functionals)

    def statistics_of(self, functionals: tuple[str, ...]) -> tuple[str, ...]:
        """Column names of some functionals (in ``STATISTICS`` order), as :attr:`statistics`."""
        return tuple(name for f in functionals for name in (
            [f"p{p:g}" for p in self.percentiles] if f == "percentiles" else [f]))

    def statistic_index_of(self, functionals: tuple[str, ...]) -> list[int]:
        """Positions of some functionals' columns among those ``functionals()`` returns."""
        n_pct = len(self.percentiles)
        start = {"mean": [0], "std": [1], "min": [2], "max": [3],
                 "percentiles": list(range(4, 4 + n_pct)), "skew": [4 + n_pct],
                 "kurt": [5 + n_pct], "slope": [6 + n_pct]}
        return [i for f in functionals for i in start[f]]

    def with_groups(self, groups) -> FeatureConfig:
        return replace(self, groups=tuple(groups))

    def full(self) -> FeatureConfig:
        """This config with every group and every functional: the ``bank_full`` set."""
        return replace(self, groups=GROUPS, functionals=STATISTICS, mfcc_functionals=None)

    def to_dict(self) -> dict:
        """Every parameter, but one added later (:data:`ADDED`) that holds the value which
        computes what the code did before it existed: so a config's digest, the key of its
        cached features, stays what it was."""
        return {k: v for k, v in asdict(self).items() if k not in ADDED or v != ADDED[k]}

    @classmethod
    def from_dict(cls, values: dict, where: str = "features") -> FeatureConfig:
        """From plain values (a TOML table); keys and types checked."""
        return build(cls, values, where)

    @classmethod
    def from_stored(cls, values: dict, where: str = "features") -> FeatureConfig:
        """From a config stored whole by :meth:`to_dict` (a run's ``config.resolved.json``, a
        model's ``meta.json``): a parameter it lacks was added later, or holds its former
        behaviour (:data:`ADDED`), and takes that value, not today's default."""
        return build(cls, {**ADDED, **values}, where)

    def digest(self) -> str:
        """A stable 16-hex-digit hash of the config and the feature-code version."""
        return _digest({"v": FEATURE_CODE_VERSION, **self.to_dict()})

    def logmel_digest(self) -> str:
        """As :meth:`digest`, of the :data:`LOGMEL_PARAMETERS` alone: the key of the log-mels
        (``FeatureBank.cache_namespace("logmel")``) and of the cells of models that read them."""
        return _digest({"v": FEATURE_CODE_VERSION, "kind": "logmel",
                        **{k: getattr(self, k) for k in LOGMEL_PARAMETERS}})


def _digest(values: dict) -> str:
    """16 hex digits of SHA-256 over ``values`` as sorted JSON."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
