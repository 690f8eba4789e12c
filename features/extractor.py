"""A scikit-learn transformer from audio file paths to bank features, through the cache.

It lets a Pipeline start at audio: ``make_pipeline(AudioFeatures(), MinMaxScaler(), SVC())``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from features.bank import FeatureBank
from features.cache import Cache
from features.config import FeatureConfig
from features.parallel import extract


def _paths(X) -> list[str]:
    if hasattr(X, "columns"):
        if "path" not in X.columns:
            raise ValueError("a DataFrame input needs a 'path' column")
        return [str(p) for p in X["path"]]
    arr = np.asarray(X, dtype=object)
    return [str(p) for p in arr.reshape(-1)]


class AudioFeatures(TransformerMixin, BaseEstimator):
    """Map audio paths (a sequence, or a DataFrame with a ``path`` column) to bank features.

    Parameters
    ----------
    config : FeatureConfig, optional
        The bank's parameters (default: :class:`FeatureConfig`'s defaults).
    cache_dir : str, optional
        Cache location (default: ``$SERBENCH_CACHE`` or the user cache directory).
    n_jobs, backend : joblib parallelism for cache misses.
    """

    def __init__(self, config: FeatureConfig | None = None, cache_dir: str | None = None,
                 n_jobs: int = 1, backend: str = "loky", progress: bool = False):
        self.config = config
        self.cache_dir = cache_dir
        self.n_jobs = n_jobs
        self.backend = backend
        self.progress = progress

    def _bank(self) -> FeatureBank:
        return FeatureBank(self.config or FeatureConfig())

    def fit(self, X, y=None):
        self.feature_names_out_ = np.asarray(self._bank().feature_names, dtype=object)
        return self

    def transform(self, X) -> np.ndarray:
        """Features, shape (n_files, n_features). Raises naming every file that failed."""
        values, report = extract(_paths(X), self._bank(), Cache(self.cache_dir),
                                 n_jobs=self.n_jobs, backend=self.backend,
                                 progress=self.progress)
        if report.errors:
            listing = "; ".join(reason for _, reason in report.errors[:10])
            raise ValueError(f"{len(report.errors)} file(s) failed: {listing}")
        return np.stack(values)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self._bank().feature_names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
