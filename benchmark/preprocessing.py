"""Per-speaker standardisation: each speaker's features scaled by that speaker's own statistics.

A common normalisation in speaker-independent SER (e.g. Schuller et al. 2010, Cross-corpus
acoustic emotion recognition, doi:10.1109/T-AFFC.2010.8): it removes a speaker's baseline
(pitch level, vocal-tract length, recording gain) and keeps the emotional variation. A
speaker's statistics come from that speaker's rows only, never a training speaker's.

Where the statistics come from is the normalisation mode (:class:`Normalisation`):

- ``none`` (tables: ``global``): no per-speaker statistics;
- ``transductive`` (tables: ``speaker-norm``): all of the test speaker's recordings,
  unlabelled. On acted corpora every speaker records every emotion in fixed proportions, so
  these are the statistics of a known, balanced emotion mix: an optimistic condition no
  deployed system has;
- ``enrol:k``: k of the speaker's recordings drawn at random (seeded by the fold and the
  speaker), which are then never scored; training speakers are normalised the same way, from
  k of their own rows, so the model sees the same noise in its inputs;
- ``enrol_neutral:k``: the same from k *neutral* recordings: a declared use of the neutral
  label of the enrolment recordings only.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

_ENROL = re.compile(r"(enrol|enrol_neutral):([1-9][0-9]*)")


@dataclass(frozen=True)
class Normalisation:
    """A normalisation mode (see the module doc); built by :meth:`parse` from a config value
    (``false``/``"none"``, ``true``/``"transductive"``, ``"enrol:k"``, ``"enrol_neutral:k"``)."""

    kind: str  # "none", "transductive", "enrol", "enrol_neutral"
    k: int = 0

    @classmethod
    def parse(cls, value: bool | str) -> Normalisation:
        if value is False or value == "none":
            return cls("none")
        if value is True or value == "transductive":
            return cls("transductive")
        m = _ENROL.fullmatch(str(value))
        if not m:
            raise ValueError(f"speaker_norm {value!r}: one of false (or \"none\"), true (or "
                             "\"transductive\"), \"enrol:k\", \"enrol_neutral:k\" (k >= 1)")
        return cls(m.group(1), int(m.group(2)))

    @property
    def config_value(self) -> bool | str:
        """As configs and cells hold it: the booleans of the two original modes (so their
        cells keep their ids), the mode's text otherwise."""
        return {"none": False, "transductive": True}.get(self.kind, f"{self.kind}:{self.k}")

    @property
    def label(self) -> str:
        """As tables show it."""
        return {"none": "global", "transductive": "speaker-norm"}.get(
            self.kind, f"{self.kind}:{self.k}")

    @property
    def words(self) -> str:
        """For captions and run notes."""
        return {"none": "global normalisation",
                "transductive": "speaker-norm: transductive (the test speaker's own "
                                "recordings, unlabelled)",
                "enrol": f"standardised per speaker from {self.k} enrolment recording(s) "
                         "drawn at random, never scored",
                "enrol_neutral": f"standardised per speaker from {self.k} neutral enrolment "
                                 "recording(s) (their label read for the draw only), never "
                                 "scored"}[self.kind]

    @property
    def enrols(self) -> bool:
        return self.kind in ("enrol", "enrol_neutral")

    @property
    def per_speaker(self) -> bool:
        """The pipeline standardises per speaker itself (the transductive mode); enrolment
        modes standardise the rows before the pipeline (:func:`enrolment_normalise`)."""
        return self.kind == "transductive"


def norm_label(value: bool | str) -> str:
    """A cell's ``speaker_norm`` value as tables show it."""
    return Normalisation.parse(value).label


def draw_enrolment(speakers: np.ndarray, rows: np.ndarray, k: int, key: str, seed: int = 0,
                   eligible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per speaker among ``rows``, ``k`` of its rows drawn without replacement.

    The draw depends on ``seed``, ``key`` (the fold) and the speaker only: the same on a
    rerun, the same for every cell of the fold (so cells compare on the same rows), another in
    another fold. ``eligible``: a mask over all rows of those that may be drawn (the neutral
    ones, for ``enrol_neutral``); ``None`` reads no label. Raises ``ValueError`` naming a
    speaker with fewer than ``k`` eligible rows.
    """
    out = {}
    for spk in sorted(pd.unique(speakers[rows])):
        own = rows[speakers[rows] == spk]
        pool = own if eligible is None else own[eligible[own]]
        if len(pool) < k:
            what = "neutral recordings" if eligible is not None else "recordings"
            raise ValueError(f"speaker {spk} has {len(pool)} {what}, fewer than the {k} "
                             "enrolment needs")
        rng = np.random.default_rng([seed, zlib.crc32(key.encode()), zlib.crc32(
            str(spk).encode())])
        out[spk] = np.sort(rng.choice(pool, size=k, replace=False))
    return out


def enrolment_prior(X: np.ndarray, speakers: np.ndarray, rows: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """What a speaker's enrolment statistics shrink towards: the mean of ``rows`` and the
    average within-speaker variance of their speakers (training rows only), per column."""
    X = np.asarray(X, dtype=np.float64)
    spk = speakers[rows]
    var = np.mean([X[rows[spk == s]].var(axis=0) for s in pd.unique(spk)], axis=0)
    return X[rows].mean(axis=0), var


def enrolment_normalise(X: np.ndarray, speakers: np.ndarray, rows: np.ndarray,
                        enrolment: dict[str, np.ndarray], prior: tuple[np.ndarray, np.ndarray],
                        strength: float, rtol: float = 1e-10) -> np.ndarray:
    """``X[rows]`` standardised per speaker with statistics of that speaker's enrolment rows
    (:func:`draw_enrolment`), shrunk towards the training speakers' (``prior``, from
    :func:`enrolment_prior`) as a prior worth ``strength`` recordings:

        mean = (k m_k + s m_0) / (k + s),   var = (k v_k + s v_0) / (k + s)

    k enrolment rows of mean m_k and variance v_k. A few recordings estimate a speaker's
    baseline, and even more its spread, with large error (the relative error of a standard
    deviation from k values is about 1/sqrt(2(k-1))): unshrunk, 2 random recordings make every
    feature noisier than no normalisation. With k = 0 this is global standardisation; as k
    grows it tends to the speaker's own statistics (the transductive mode). A constant column,
    as in :func:`standardize_per_speaker`, becomes 0.

    Returns the normalised rows, shape ``(len(rows), n_features)``.
    """
    X = np.asarray(X, dtype=np.float64)
    m0, v0 = prior
    out = np.empty((len(rows), X.shape[1]))
    spk_rows = speakers[rows]
    missing = sorted(set(pd.unique(spk_rows)) - set(enrolment))
    if missing:
        raise ValueError(f"no enrolment rows for speaker(s) {missing[:5]}")
    for spk, enrol in enrolment.items():
        block, k = X[enrol], len(enrol)
        mean = (k * block.mean(axis=0) + strength * m0) / (k + strength)
        var = (k * block.var(axis=0) + strength * v0) / (k + strength)
        out[spk_rows == spk] = _standardise(X[rows[spk_rows == spk]], mean, np.sqrt(var), rtol)
    return out


SPEAKER = "speaker"
#: Row descriptors that travel with the features and are never features themselves.
META_COLUMNS = ("speaker", "path")


def standardize_per_speaker(X: np.ndarray, speakers: np.ndarray, rtol: float = 1e-10
                            ) -> np.ndarray:
    """Z-score every column within each speaker; a constant column becomes 0.

    Constant means a spread below ``rtol`` times the column's mean magnitude (rounding noise),
    never below an absolute threshold: features come in any unit (ComParE has columns of
    order 1e-12), and z-scores must not depend on it (tested: scaling a column by 1e-12
    changes nothing).

    Parameters
    ----------
    X : np.ndarray, shape (n_rows, n_features)
    speakers : np.ndarray, shape (n_rows,)
    """
    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    for spk in pd.unique(speakers):
        rows = speakers == spk
        block = X[rows]
        out[rows] = _standardise(block, block.mean(axis=0), block.std(axis=0), rtol)
    return out


def _standardise(block: np.ndarray, mean: np.ndarray, sd: np.ndarray, rtol: float
                 ) -> np.ndarray:
    """``(block - mean) / sd`` per column; a constant column (spread below ``rtol`` times its
    mean magnitude, or zero) becomes 0, whatever the features' unit."""
    constant = (sd <= rtol * np.abs(mean)) | (sd == 0)
    return np.where(constant, 0.0, (block - mean) / np.where(constant, 1.0, sd))


class SpeakerStandardScaler(TransformerMixin, BaseEstimator):
    """First step of every serbench pipeline: takes a DataFrame whose ``speaker`` column names
    each row's speaker, returns the feature columns as an array, standardised per speaker when
    ``enabled``. Stateless: ``fit`` only records the feature columns."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def fit(self, X: pd.DataFrame, y=None):
        self._check(X)
        self.feature_names_in_ = np.asarray([c for c in X.columns if c not in META_COLUMNS],
                                            dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        self._check(X)
        values = X[list(self.feature_names_in_)].to_numpy(dtype=np.float64)
        if not self.enabled:
            return values
        return standardize_per_speaker(values, X[SPEAKER].to_numpy())

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_in_

    @staticmethod
    def _check(X):
        if not isinstance(X, pd.DataFrame) or SPEAKER not in X.columns:
            raise ValueError("SpeakerStandardScaler needs a DataFrame with a 'speaker' column")
