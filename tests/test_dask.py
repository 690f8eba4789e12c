"""Extraction through joblib's Dask backend gives the same features as loky."""

import numpy as np
import pytest

from benchmark.corpora import open_corpus
from features import FeatureBank, FeatureConfig
from features.cache import Cache
from features.parallel import extract

pytest.importorskip("distributed")


def test_dask_backend_matches_loky(tmp_path, synth_root):
    paths = list(open_corpus("synth", synth_root).scan().manifest.path[:8])
    bank = FeatureBank(FeatureConfig(groups=("temporal", "mfcc")))
    loky, _ = extract(paths, bank, Cache(tmp_path / "a"), n_jobs=2, progress=False)
    dask, report = extract(paths, bank, Cache(tmp_path / "b"), n_jobs=2, backend="dask",
                           chunk_size=2, progress=False)
    assert report.misses == 8 and not report.errors
    for a, b in zip(loky, dask, strict=True):
        np.testing.assert_array_equal(a, b)
