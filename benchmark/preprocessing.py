"""Per-speaker standardisation: each speaker's features scaled by that speaker's own statistics.

A common normalisation in speaker-independent SER (e.g. Schuller et al. 2010, Cross-corpus
acoustic emotion recognition, doi:10.1109/T-AFFC.2010.8): it removes a speaker's baseline
(pitch level, vocal-tract length, recording gain) and keeps the emotional variation. It uses no
labels, and a speaker's statistics come from that speaker's rows only, so a test speaker is
normalised with their own (unlabelled) recordings and never with a training speaker's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

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
        mean, sd = block.mean(axis=0), block.std(axis=0)
        constant = (sd <= rtol * np.abs(mean)) | (sd == 0)
        out[rows] = np.where(constant, 0.0, (block - mean) / np.where(constant, 1.0, sd))
    return out


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
