"""The log-mel CNN learns on the synthetic corpus, deterministically, on CPU."""

import numpy as np
import pytest
from sklearn.base import clone

from benchmark.corpora import open_corpus
from benchmark.metrics import uar

torch = pytest.importorskip("torch")
from benchmark.cnn import LogMelCNN  # noqa: E402


@pytest.fixture(scope="module")
def split(synth_root, tmp_path_factory):
    m = open_corpus("synth", synth_root).scan().manifest
    test_spk = {"synth:05", "synth:06"}
    test = m["speaker"].isin(test_spk).to_numpy()
    cache = str(tmp_path_factory.mktemp("cache"))
    return m[~test], m[test], cache


def _model(cache, **kw):
    params = dict(n_frames=150, width=8, n_blocks=3, max_epochs=20, patience=20, lr=3e-3,
                  batch_size=16, cache_dir=cache, seed=0)
    params.update(kw)
    return LogMelCNN(**params)


@pytest.mark.parametrize("arch, width", [
    pytest.param("2d", 8, marks=pytest.mark.slow),  # make test-slow: 25 s of training
    ("1d", 16)])
def test_cnn_learns_well_above_chance(split, arch, width):
    train, test, cache = split
    model = _model(cache, arch=arch, width=width).fit(train[["path", "speaker"]],
                                                      train["emotion"])
    pred = model.predict(test[["path", "speaker"]])
    score = uar(test["emotion"], pred)
    assert score > 0.4, f"UAR {score:.3f} (chance 0.125)"
    proba = model.predict_proba(test[["path", "speaker"]])
    assert proba.shape == (len(test), 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert model.n_epochs_ >= 1 and len(model.history_) == model.n_epochs_


def test_cnn_is_deterministic_and_sklearn_compatible(split):
    train, test, cache = split
    a = _model(cache, max_epochs=2).fit(train[["path", "speaker"]], train["emotion"])
    b = clone(a).fit(train[["path", "speaker"]], train["emotion"])
    np.testing.assert_array_equal(a.predict_proba(test[["path", "speaker"]]),
                                  b.predict_proba(test[["path", "speaker"]]))
    assert clone(a).get_params()["width"] == 8
    # stored without pickle (skops), loaded back, the same predictions
    from skops.io import dumps, loads

    restored = loads(dumps(a), trusted=["benchmark.cnn.estimator.LogMelCNN"])
    np.testing.assert_array_equal(restored.predict_proba(test[["path", "speaker"]]),
                                  a.predict_proba(test[["path", "speaker"]]))


def test_normalisation_and_early_stopping_use_training_speakers_only(split):
    train, test, cache = split
    model = _model(cache, max_epochs=1, val_fraction=0.2).fit(train[["path", "speaker"]],
                                                              train["emotion"])
    from features import FeatureBank
    from features.cache import Cache
    from features.parallel import extract

    mels, _ = extract(list(train["path"]), FeatureBank(), Cache(cache), kind="logmel",
                      progress=False)
    tr, val = model._split(train["speaker"].to_numpy(), np.zeros(len(train), int))
    assert len(val) and not set(train["speaker"].iloc[tr]) & set(train["speaker"].iloc[val])
    # per-band statistics are exactly those of the fitting speakers' frames (no test rows)
    frames = np.concatenate([mels[i] for i in tr], axis=1)
    np.testing.assert_allclose(model.band_mean_[:, 0], frames.mean(axis=1), rtol=1e-4,
                               atol=1e-3)


@pytest.mark.slow  # make test-slow: several trainings
def test_cnn_tunes_with_optuna_and_prunes_per_epoch(split, monkeypatch, tmp_path):
    """The CNN goes through the same nested tuning as the classical models; its trials report
    the inner fold's UAR after every epoch, for the pruner, once there are more trials than
    the pruner's startup ones (before, the reports would cost a pass per epoch for nothing)."""
    import dataclasses

    import optuna

    import benchmark.models as models
    from benchmark.config import TuningConfig
    from benchmark.tuning import STARTUP_TRIALS, tune

    train, _, cache = split
    monkeypatch.setenv("SERBENCH_CACHE", cache)
    spec = dataclasses.replace(models.MODELS["cnn"], space=lambda t: {
        "lr": t.suggest_float("lr", 1e-3, 5e-3, log=True), "width": 8, "dropout": 0.2,
        "max_epochs": 2, "n_frames": 100})
    seen = []
    real = models.MODELS["cnn"].make

    def make(p, seed, balanced):
        seen.append(p)
        return real({**p, "max_epochs": 2}, seed, balanced)

    spec = dataclasses.replace(spec, make=make)
    X, y, spk = train[["path", "speaker"]], train["emotion"].to_numpy(), train["speaker"]
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    for n_trials in (2, STARTUP_TRIALS + 1):
        result = tune(spec, X, y, spk.to_numpy(), speaker_norm=False,
                      budget=TuningConfig(n_trials=n_trials), inner_k=2, seed=0,
                      storage_url=url, study_name=f"s{n_trials}")
        assert result.n_trials + result.n_pruned == n_trials and result.inner_uar is not None
        assert "lr" in result.params
        trials = optuna.load_study(study_name=f"s{n_trials}", storage=url).trials
        steps = [sorted(t.intermediate_values) for t in trials]
        if n_trials <= STARTUP_TRIALS:
            assert steps == [[]] * n_trials  # nothing to prune: no per-epoch pass
        else:  # every epoch of both inner folds reported (fold 1's steps start at 1000)
            assert all(s == [0, 1, 1000, 1001] for s, t in zip(steps, trials, strict=True)
                       if t.state == optuna.trial.TrialState.COMPLETE)
    assert len(seen) >= 2 * 2 + 2 * (STARTUP_TRIALS + 1) - 2  # trials x inner folds


def test_speaker_norm_uses_each_speakers_own_rows_only(split):
    """The speaker-normalised CNN standardises a speaker's log-mel bands with statistics of
    that speaker's own recordings: other speakers' rows (in training or at test) change
    nothing, so a test speaker scores the same alone as among others."""
    train, test, cache = split
    model = _model(cache, max_epochs=1, speaker_norm=True).fit(train[["path", "speaker"]],
                                                              train["emotion"])
    assert model.band_mean_ is None and model.band_std_ is None
    X = test[["path", "speaker"]]
    spk = X["speaker"].to_numpy()
    mels, norm = model._logmels(X), model._normalised(X)
    for s in np.unique(spk):
        rows = np.flatnonzero(spk == s)
        frames = np.concatenate([mels[i] for i in rows], axis=1)
        mean, std = frames.mean(1, keepdims=True), frames.std(1, keepdims=True) + 1e-5
        for i in rows:
            np.testing.assert_allclose(norm[i], (mels[i] - mean) / std, rtol=1e-4, atol=1e-4)
    alone = X[spk == spk[0]]
    np.testing.assert_allclose(model.predict_proba(alone), model.predict_proba(X)[spk == spk[0]],
                               rtol=1e-5, atol=1e-6)


def test_an_unknown_architecture_is_an_error_naming_it(split):
    train, _, cache = split
    with pytest.raises(ValueError, match="arch '3d'"):
        _model(cache, arch="3d", max_epochs=1).fit(train[["path", "speaker"]], train["emotion"])


def test_without_held_out_speakers_the_last_epoch_is_kept_and_an_eval_set_watched(split):
    """``val_fraction=0`` trains on every training speaker and keeps the last epoch; the epoch
    callback (Optuna's pruner) then sees the UAR of ``eval_set`` (an inner fold's validation
    speakers), which at the last epoch is the kept model's UAR on those rows."""
    train, test, cache = split
    seen = []
    X, Xt = train[["path", "speaker"]], test[["path", "speaker"]]
    model = _model(cache, max_epochs=3, val_fraction=0.0).fit(
        X, train["emotion"], epoch_callback=lambda e, u: seen.append((e, u)),
        eval_set=(Xt, test["emotion"]))
    assert [e for e, _ in seen] == [0, 1, 2] and all(np.isfinite(u) for _, u in seen)
    assert seen[-1][1] == pytest.approx(uar(test["emotion"], model.predict(Xt)))
    assert np.isnan(model.best_val_uar_)  # no held-out speakers: nothing chose the weights
