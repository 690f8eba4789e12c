"""Speaker independence, proven: no speaker on both sides, scalers and tuning on training
speakers only, a test speaker normalised by their own recordings alone."""

import numpy as np
import pandas as pd
import pytest

import benchmark.fitting as fitting
from benchmark.cells import Cell
from benchmark.config import ExperimentConfig, ProtocolConfig, TuningConfig
from benchmark.models import MODELS, build_pipeline
from benchmark.preprocessing import SpeakerStandardScaler
from benchmark.protocols import LeakageError, check_disjoint, inner_splits, make_folds


def _table(n_speakers=6, per=24, corpora=("a",), seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for c in corpora:
        for s in range(n_speakers):
            for i in range(per):
                rows.append({"corpus": c, "speaker": f"{c}:{s:02d}",
                             "emotion": ["angry", "sad", "happy", "neutral"][i % 4],
                             "f1": rng.normal(s, 1), "f2": rng.normal(i % 4, 1)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("protocol", [ProtocolConfig("loso"), ProtocolConfig("group_kfold", 3)])
def test_outer_folds_are_speaker_disjoint_and_cover_everyone(protocol):
    t = _table()
    folds = make_folds(protocol, t)
    seen = np.concatenate([f.test for f in folds])
    assert sorted(seen) == list(range(len(t)))
    for f in folds:
        assert not set(t.speaker.iloc[f.train]) & set(t.speaker.iloc[f.test])
    if protocol.kind == "loso":
        assert len(folds) == 6 and all(t.speaker.iloc[f.test].nunique() == 1 for f in folds)


def test_combined_corpora_group_on_corpus_qualified_speaker():
    t = _table(corpora=("x", "y"))
    folds = make_folds(ProtocolConfig("loso"), t)
    assert len(folds) == 12


def test_cross_corpus_and_flagged_random_split():
    t = _table(corpora=("x", "y"))
    (fold,) = make_folds(ProtocolConfig("cross_corpus", train=("x",), test=("y",)), t)
    assert set(t.corpus.iloc[fold.train]) == {"x"} and set(t.corpus.iloc[fold.test]) == {"y"}
    rnd = make_folds(ProtocolConfig("random_split", test_size=0.2), t)
    assert rnd[0].speaker_dependent
    assert "SPEAKER-DEPENDENT" in ProtocolConfig("random_split").describe(1)


def test_cross_gender_trains_on_one_gender_and_tests_on_the_other_both_ways():
    t = _table(n_speakers=7)
    t["gender"] = (
        [["female", "male", "female", "male", "female", "male", "unknown"][int(s[-2:])]
         for s in t.speaker])
    folds = make_folds(ProtocolConfig("cross_gender"), t)
    assert len(folds) == 2
    for fold, (train, test) in zip(folds, [("female", "male"), ("male", "female")],
                                   strict=True):
        assert set(t.gender.iloc[fold.train]) == {train}
        assert set(t.gender.iloc[fold.test]) == {test}
        assert not set(t.speaker.iloc[fold.train]) & set(t.speaker.iloc[fold.test])
    unknown = set(np.flatnonzero(t.gender == "unknown"))
    assert not unknown & set(np.concatenate([f.test for f in folds] + [f.train for f in folds]))
    one = t[t.gender == "female"]
    with pytest.raises(ValueError, match="both genders"):
        make_folds(ProtocolConfig("cross_gender"), one)


def test_check_disjoint_raises_naming_speakers():
    spk = np.array(["a", "a", "b", "c"])
    with pytest.raises(LeakageError, match="'a'"):
        check_disjoint(spk, np.array([0, 2]), np.array([1, 3]))


def test_inner_splits_stay_inside_the_training_speakers():
    t = _table(8)
    for outer in make_folds(ProtocolConfig("loso"), t):
        spk = t.speaker.to_numpy()[outer.train]
        for tr, va in inner_splits(spk, t.emotion.to_numpy()[outer.train], 3):
            assert not set(spk[tr]) & set(spk[va])
    assert inner_splits(np.array(["a"] * 5), np.array(list("xyxyx")), 3) == []


def test_speaker_norm_uses_each_speakers_own_rows_only():
    t = _table(4)
    X = t[["speaker", "f1", "f2"]]
    scaler = SpeakerStandardScaler().fit(X)
    together = scaler.transform(X)
    alone = scaler.transform(X[X.speaker == "a:03"])
    np.testing.assert_allclose(together[X.speaker.to_numpy() == "a:03"], alone)
    per = pd.DataFrame(together).groupby(X.speaker.to_numpy()).agg(["mean", "std"])
    np.testing.assert_allclose(per.xs("mean", axis=1, level=1), 0, atol=1e-12)


def test_minmax_scaler_is_fitted_on_training_rows_only():
    t = _table(4)
    t.loc[t.speaker == "a:03", "f1"] = 1e6  # an extreme test speaker
    X = t[["speaker", "f1", "f2"]]
    y = t.emotion.to_numpy()
    train = (t.speaker != "a:03").to_numpy()
    pipe = build_pipeline(MODELS["logreg"], {}, speaker_norm=False)
    pipe.fit(X[train], y[train])
    assert pipe.named_steps["scale"].data_max_[0] < 100


def test_tuning_never_sees_test_speakers(monkeypatch):
    t = _table(6)
    seen = []
    real_tune = fitting.tune

    def spy(spec, X, y, speakers, **kw):
        seen.append(set(speakers))
        return real_tune(spec, X, y, speakers, **kw)

    monkeypatch.setattr(fitting, "tune", spy)
    cfg = ExperimentConfig(name="t", models=("logreg",), tuning=TuningConfig(n_trials=2),
                           protocol=ProtocolConfig("loso", inner_k=2))
    cell = Cell("a", "bank", "bank", "logreg", True, "loso")
    y = pd.factorize(t.emotion)[0]
    X = t[["f1", "f2"]].to_numpy(np.float32)
    for fold in make_folds(cfg.protocol, t):
        out = fitting.fit_fold(X, ["f1", "f2"], t.speaker.to_numpy(), y, fold.train,
                                  fold.test, cell, cfg, None, None, False)
        test_speakers = set(t.speaker.iloc[fold.test])
        assert not seen[-1] & test_speakers
        assert out["n_trials"] == 2 and len(out["y_pred"]) == len(fold.test)


def test_a_tuned_selection_is_fitted_on_training_rows_only():
    """The tuned percentile is drawn from the config's list, and the selector's F-scores are
    those of the training rows alone: a column that separates the emotions only for the
    test speaker scores as the training rows have it."""
    from sklearn.feature_selection import f_classif
    from sklearn.preprocessing import MinMaxScaler

    t = _table(6)
    rng = np.random.default_rng(1)
    codes = pd.factorize(t.emotion)[0]
    t["f3"] = rng.normal(0, 1, len(t))
    test_rows = (t.speaker == "a:05").to_numpy()
    t.loc[test_rows, "f3"] = codes[test_rows] * 10.0  # informative for the test speaker only
    cfg = ExperimentConfig(name="t", models=("logreg",), protocol=ProtocolConfig("loso", inner_k=2),
                           tuning=TuningConfig(n_trials=3, pruning=False,
                                               select_percentiles=(34, 67)))
    cell = Cell("a", "bank", "bank", "logreg", False, "loso")
    cols = ["f1", "f2", "f3"]
    X = t[cols].to_numpy(np.float32)
    train, test = np.flatnonzero(~test_rows), np.flatnonzero(test_rows)
    out = fitting.fit_fold(X, cols, t.speaker.to_numpy(), codes, train, test, cell, cfg,
                           None, None, True)
    percentile = out["params"]["select_percentile"]
    assert percentile in (34, 67) and out["tuned_params"]["select_percentile"] == percentile
    select = out["model"].named_steps["select"]
    scaled = MinMaxScaler().fit_transform(X[train])
    np.testing.assert_allclose(select.scores_, f_classif(scaled, codes[train])[0], rtol=1e-3)
    leaky = f_classif(MinMaxScaler().fit_transform(X), codes)[0]  # had it seen every row
    assert leaky[2] > 3 * select.scores_[2] and select.get_support()[1]


def test_per_speaker_standardisation_does_not_depend_on_a_features_unit():
    """ComParE has columns of order 1e-12: an absolute 'constant' threshold zeroed them
    (0.029 UAR lost on RAVDESS). Scaling a column must change nothing; a constant column
    (any value, any unit) becomes 0."""
    from benchmark.preprocessing import standardize_per_speaker

    rng = np.random.default_rng(0)
    speakers = np.repeat(["a", "b", "c"], 20)
    X = rng.standard_normal((60, 3)) * [1.0, 3.0, 0.5] + [0.0, 7.0, -2.0]
    X = np.column_stack([X, np.full(60, 5.0), np.full(60, 5e-12)])
    base = standardize_per_speaker(X, speakers)
    for scale in (1e-12, 1e-6, 1e6):
        np.testing.assert_allclose(standardize_per_speaker(X * scale, speakers), base,
                                   atol=1e-9)
    assert np.all(base[:, 3:] == 0)
    for s in "abc":
        np.testing.assert_allclose(base[speakers == s, :3].std(axis=0), 1.0)
