"""Speaker normalisation without an oracle: enrolment modes draw k recordings per speaker,
normalise with them (shrunk towards the training speakers), and never score them."""

import numpy as np
import pandas as pd
import pytest

import benchmark.fitting as fitting
from benchmark.cells import Cell
from benchmark.config import ExperimentConfig, TuningConfig
from benchmark.preprocessing import (
    Normalisation,
    draw_enrolment,
    enrolment_normalise,
    enrolment_prior,
)

EMOTIONS = ["neutral", "angry", "sad", "happy"]


def _data(n_speakers=5, per=16, seed=0):
    """Speakers with their own baselines (offset and spread), 4 emotions each."""
    rng = np.random.default_rng(seed)
    speakers = np.repeat([f"c:{s:02d}" for s in range(n_speakers)], per)
    y = np.tile(np.arange(per) % 4, n_speakers)
    base = np.repeat(rng.normal(0, 5, (n_speakers, 1)), per, axis=0)
    spread = np.repeat(rng.uniform(0.5, 3, (n_speakers, 1)), per, axis=0)
    X = (base + spread * (np.c_[y, -y, y ** 2] + rng.normal(0, 0.3, (len(y), 3)))).astype(
        np.float32)
    return X, speakers, y


def _fit(X, speakers, y, mode, test_speaker="c:04", key="fold04", neutral=None):
    cfg = ExperimentConfig(name="t", corpora=("x",), models=("logreg",),
                           speaker_norm=(mode,), tuning=TuningConfig(n_trials=0))
    cell = Cell("x", "bank", "bank", "logreg", cfg.speaker_norm[0], "loso")
    test = np.flatnonzero(speakers == test_speaker)
    train = np.flatnonzero(speakers != test_speaker)
    return fitting.fit_fold(X, ["a", "b", "c"], speakers, y, train, test, cell, cfg, None,
                            None, False, fold_key=key, neutral=neutral), train, test


def test_modes_parse_and_keep_the_original_cells_ids():
    assert Normalisation.parse(False).config_value is False
    assert Normalisation.parse("transductive").config_value is True
    assert Normalisation.parse(True).label == "speaker-norm"
    assert Normalisation.parse("enrol_neutral:4") == Normalisation("enrol_neutral", 4)
    for bad in ("enrol:0", "enrol", "speaker", "enrol:-1"):
        with pytest.raises(ValueError, match="speaker_norm"):
            Normalisation.parse(bad)
    cfg = ExperimentConfig(name="t", corpora=("x",), models=("logreg",),
                           speaker_norm=("none", "transductive", "enrol:2"))
    assert cfg.speaker_norm == (False, True, "enrol:2")


def test_enrolment_rows_are_never_scored():
    X, speakers, y = _data()
    out, _, test = _fit(X, speakers, y, "enrol:3")
    enrolled, scored = np.array(out["enrolment"]), np.array(out["test"])
    assert len(enrolled) == 3 and not set(enrolled) & set(scored)
    assert sorted([*enrolled, *scored]) == list(test)
    assert len(out["y_pred"]) == len(scored) == len(test) - 3


def test_a_draw_is_the_same_on_a_rerun_and_differs_between_folds():
    X, speakers, y = _data()
    rows = np.arange(len(y))
    first = draw_enrolment(speakers, rows, 4, "fold01", seed=0)
    again = draw_enrolment(speakers, rows, 4, "fold01", seed=0)
    other = draw_enrolment(speakers, rows, 4, "fold02", seed=0)
    assert all(np.array_equal(first[s], again[s]) for s in first)
    assert any(not np.array_equal(first[s], other[s]) for s in first)
    a, _, _ = _fit(X, speakers, y, "enrol:3", key="fold04")
    b, _, _ = _fit(X, speakers, y, "enrol:3", key="fold04")
    assert a["enrolment"] == b["enrolment"]


def test_labels_are_read_only_by_enrol_neutral():
    X, speakers, y = _data()
    shuffled = np.random.default_rng(1).permutation(y)
    a, _, _ = _fit(X, speakers, y, "enrol:3")
    b, _, _ = _fit(X, speakers, shuffled, "enrol:3")
    assert a["enrolment"] == b["enrolment"]  # the draw does not depend on any label
    neutral = y == 0
    c, _, _ = _fit(X, speakers, y, "enrol_neutral:2", neutral=neutral)
    assert len(c["enrolment"]) == 2 and neutral[c["enrolment"]].all()
    with pytest.raises(ValueError, match="neutral mask"):
        _fit(X, speakers, y, "enrol_neutral:2")


def test_training_speakers_are_normalised_with_their_own_k_row_statistics(monkeypatch):
    X, speakers, y = _data()
    seen = {}
    real = fitting.build_pipeline

    def spy(*args, **kwargs):
        pipe = real(*args, **kwargs)
        fit = pipe.fit

        def recording_fit(Xtr, ytr, **kw):
            seen["X"] = Xtr[["a", "b", "c"]].to_numpy()
            return fit(Xtr, ytr, **kw)
        pipe.fit = recording_fit
        return pipe
    monkeypatch.setattr(fitting, "build_pipeline", spy)
    _, train, _ = _fit(X, speakers, y, "enrol:4")
    drawn = draw_enrolment(speakers, train, 4, "fold04", 0)
    prior = enrolment_prior(X, speakers, train)
    expected = enrolment_normalise(X, speakers, train, drawn, prior, strength=4)
    np.testing.assert_allclose(seen["X"], expected, rtol=1e-5, atol=1e-5)
    # and a speaker's statistics are its k rows' (with no prior: exactly standardised)
    bare = enrolment_normalise(X, speakers, train, drawn, prior, strength=0)
    for rows in drawn.values():
        own = bare[np.searchsorted(train, rows)]
        np.testing.assert_allclose(own.mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(own.std(axis=0), 1, atol=1e-6)


def test_shrinkage_spans_global_to_the_speakers_own_statistics():
    X, speakers, y = _data()
    rows = np.arange(len(y))
    prior = enrolment_prior(X, speakers, rows)
    everything = {s: rows[speakers == s] for s in np.unique(speakers)}
    own = enrolment_normalise(X, speakers, rows, everything, prior, strength=0)
    per = pd.DataFrame(own).groupby(speakers).mean()
    np.testing.assert_allclose(per, 0, atol=1e-9)  # all rows, no prior: transductive
    none = {s: r[:1] for s, r in everything.items()}
    glob = enrolment_normalise(X, speakers, rows, none, prior, strength=1e9)
    expected = (X - prior[0]) / np.sqrt(prior[1])
    np.testing.assert_allclose(glob, expected, rtol=1e-4, atol=1e-4)  # all prior: global


def test_predict_refuses_an_enrolment_model_without_enrolment_audio(tmp_path, smoke_cache,
                                                                     capsys):
    import json

    from benchmark.cli import main
    from benchmark.config import load_experiment
    from benchmark.run import RunOptions, run
    from tests.conftest import synth_files

    config = tmp_path / "enrol.toml"
    config.write_text('name = "enrol"\ncorpora = ["synth"]\nmodels = ["logreg"]\n'
                      'speaker_norm = ["enrol:2"]\nfinal_model = "all"\n'
                      '[features]\ngroups = ["temporal", "mfcc"]\nn_mfcc = 13\n'
                      '[protocol]\nkind = "group_kfold"\nk = 2\ninner_k = 2\n'
                      '[tuning]\nn_trials = 0\n')
    cfg = load_experiment(config, results_dir=str(tmp_path / "runs"))
    run(cfg, RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))
    (final,) = (tmp_path / "runs" / "enrol" / "folds").glob("*/final.json")
    uri = json.loads(final.read_text())["model_uri"]
    files = synth_files(smoke_cache, 3)
    results = str(tmp_path / "runs")
    capsys.readouterr()
    assert main(["predict", uri, *files[:4], "--results-dir", results, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained with speaker_norm 'enrol:2'" in err[0]
    out = tmp_path / "p.csv"
    assert main(["predict", uri, *files[:4], "--enrol", *files[-3:], "--results-dir", results,
                 "-q", "-o", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table["path"]) == files[:4] and (table["error"] == "").all()
    assert (table["emotion"] != "").all()
