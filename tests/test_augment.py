"""Augmentation: deterministic copies, cached like features, and never outside training."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

import benchmark.fitting as fitting
import benchmark.tuning as tuning_module
from benchmark.augment import AugmentConfig, Copy, augment, training_rows
from benchmark.cells import Cell
from benchmark.config import ExperimentConfig, ProtocolConfig, TuningConfig
from benchmark.corpora import open_corpus
from benchmark.protocols import make_folds
from features import FeatureBank, FeatureConfig
from features.cache import Cache
from features.parallel import extract
from tests.conftest import tone

CFG = AugmentConfig(copies=2)


def test_copies_are_deterministic_per_content_and_distinct():
    y = tone(1.0)
    a0, a0b, a1 = (augment(y, 16000, CFG, "k", 0), augment(y, 16000, CFG, "k", 0),
                   augment(y, 16000, CFG, "k", 1))
    np.testing.assert_array_equal(a0, a0b)
    assert a0.shape != a1.shape or not np.allclose(a0, a1)
    assert np.isfinite(a0).all() and np.abs(a0).max() <= 1.0
    only_noise = AugmentConfig(copies=1, snr_db=(20.0, 20.0), gain_db=None,
                               pitch_semitones=None, stretch=None)
    noisy = augment(y, 16000, only_noise, "k", 0)
    snr = 10 * np.log10(np.mean(y**2) / np.mean((noisy - y) ** 2))
    assert abs(snr - 20.0) < 0.5


def test_augmented_features_are_cached_under_their_own_namespace(tmp_path, synth_root):
    m = open_corpus("synth", synth_root).scan().manifest.iloc[:4]
    bank, cache = FeatureBank(FeatureConfig(groups=("mfcc",))), Cache(tmp_path / "c")
    orig, _ = extract(list(m.path), bank, cache, progress=False)
    copy, r1 = extract(list(m.path), bank, cache, progress=False, transform=Copy(CFG, 0))
    again, r2 = extract(list(m.path), bank, cache, progress=False, transform=Copy(CFG, 0))
    assert r1.misses == 4 and r2.hits == 4
    np.testing.assert_array_equal(copy[0], again[0])
    assert not np.allclose(copy[0], orig[0])


def test_training_rows_only_copy_training_rows():
    train = np.array([0, 2, 5])
    rows, source = training_rows(train, n_rows=10, copies=2)
    assert list(rows) == [0, 2, 5, 10, 12, 15, 20, 22, 25]
    assert set(source) == set(train)


class Spy(ClassifierMixin, BaseEstimator):
    """Records what it is fitted on and asked to predict."""

    log: list = []

    def fit(self, X, y, **kw):
        Spy.log.append(("fit", X["speaker"].to_numpy(), X["marker"].to_numpy()))
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        Spy.log.append(("predict", X["speaker"].to_numpy(), X["marker"].to_numpy()))
        return np.full(len(X), self.classes_[0])


def test_no_copy_of_a_test_or_validation_speaker_is_ever_trained_on(monkeypatch):
    rng = np.random.default_rng(0)
    rows = [{"speaker": f"s{s}", "emotion": ["a", "b"][i % 2], "f": rng.normal()}
            for s in range(6) for i in range(10)]
    t = pd.DataFrame(rows)
    Spy.log = []
    monkeypatch.setattr(fitting, "build_pipeline", lambda *a, **k: Spy())
    monkeypatch.setattr(tuning_module, "build_pipeline", lambda *a, **k: Spy())
    cfg = ExperimentConfig(name="t", models=("logreg",), tuning=TuningConfig(n_trials=2),
                           protocol=ProtocolConfig("loso", inner_k=2),
                           augmentation=AugmentConfig(copies=2))
    cell = Cell("d", "bank", "bank", "logreg", False, "loso", augmented=True)
    X = np.c_[t["f"].to_numpy(), np.zeros(len(t))].astype(np.float32)
    copies = [np.c_[t["f"].to_numpy() + 1, np.ones(len(t))].astype(np.float32)
              for _ in range(2)]  # marker column = 1 on every augmented row
    y = pd.factorize(t["emotion"])[0]
    speakers = t["speaker"].to_numpy()
    for fold in make_folds(cfg.protocol, t):
        Spy.log = []
        out = fitting.fit_fold(X, ["f", "marker"], speakers, y, fold.train, fold.test, cell,
                                  cfg, None, None, False, X_aug=copies)
        test_speakers = set(speakers[fold.test])
        fits = [e for e in Spy.log if e[0] == "fit"]
        predicts = [e for e in Spy.log if e[0] == "predict"]
        assert len(fits) == 2 * 2 + 1  # 2 trials x 2 inner folds, then the refit
        for _, spk, marker in fits:
            copied, originals = set(spk[marker == 1]), set(spk[marker == 0])
            assert copied and copied <= originals  # copies only of this fit's own rows
            assert not copied & test_speakers
        for _, _spk, marker in predicts:  # validation and test rows are never copies
            assert (marker == 0).all()
        inner_val = [set(p[1]) for p in predicts[:-1]]
        inner_fit = [set(f[1][f[2] == 1]) for f in fits[:-1]]
        for fitted, validated in zip(inner_fit, inner_val, strict=True):
            assert not fitted & validated
        assert out["n_train_fitted"] == 3 * len(fold.train)


def test_config_rejects_bad_ranges():
    with pytest.raises(ValueError, match="low, high"):
        AugmentConfig(copies=1, snr_db=(30.0, 10.0))
