"""Bring your own: imported feature tables and plug-in extractors and models, benchmarked on
the same folds as the built-in sets."""

import numpy as np
import pandas as pd
import pytest

from benchmark.config import load_experiment
from benchmark.datasets import synthetic_root
from benchmark.run import RunOptions, run

CONFIG = """name = "{name}"
corpora = ["synth"]
feature_sets = {sets}
models = {models}
speaker_norm = [false]
final_model = "none"
missing_features = "{missing}"
[features]
groups = ["temporal", "spectral", "mfcc"]
n_mfcc = 13
[protocol]
kind = "group_kfold"
k = 4
inner_k = 2
[tuning]
n_trials = 0
"""


def _config(tmp_path, name, sets, models=("logreg",), missing="stop"):
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(name=name, sets=list(sets), models=list(models),
                                  missing=missing).replace("'", '"'))
    return load_experiment(path, results_dir=str(tmp_path / "runs"))


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory, smoke_cache):
    """Synthetic "embeddings" of the synthetic corpus, as a model computed elsewhere would
    give them: 16 random projections of each file's bank row, keyed by its path relative to
    the corpus's data root. Returns ``(table frame, data root)``."""
    from benchmark.corpora import open_corpus
    from features import FeatureBank, FeatureConfig
    from features.cache import Cache
    from features.parallel import extract

    root = synthetic_root(smoke_cache)
    manifest = open_corpus("synth", root).scan().manifest
    bank = FeatureBank(FeatureConfig(groups=("temporal", "spectral", "mfcc"), n_mfcc=13))
    values, _ = extract(list(manifest["path"]), bank, Cache(smoke_cache), progress=False)
    X = np.stack(values)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    E = X @ np.random.default_rng(0).normal(size=(X.shape[1], 16)) / np.sqrt(X.shape[1])
    rel = [str(pd.io.common.Path(p).relative_to(root)) for p in manifest["path"]]
    frame = pd.DataFrame(E, columns=[f"e{i:02d}" for i in range(16)])
    frame.insert(0, "path", rel)
    return frame, root


def test_an_imported_table_runs_beside_the_bank_and_a_changed_value_recomputes(
        tmp_path, embeddings, smoke_cache, capsys):
    from benchmark.report import write_report

    frame, _ = embeddings
    table = tmp_path / "emb.parquet"
    frame.to_parquet(table)
    cfg = _config(tmp_path, "byo", ["bank", f"import:{table}"])
    summary = run(cfg, RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))
    assert sorted(summary["features"]) == sorted(["bank", f"import:{table}"])
    assert (summary["uar_mean"] > 0.3).all()  # 8 classes: chance is 0.125
    write_report("byo", cfg.results_dir, with_figures=False)
    sets = pd.read_csv(tmp_path / "runs" / "byo" / "tables" / "feature_sets.csv")
    assert f"import:{table}" in set(sets["features"]) and "bank" in set(sets["features"])
    # one value changed: the imported set's cells are new, the bank's resume
    frame.loc[3, "e05"] += 1.0
    frame.to_parquet(table)
    capsys.readouterr()
    run(_config(tmp_path, "byo", ["bank", f"import:{table}"]),
        RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))
    assert "4 tasks to run (4 already done)" in capsys.readouterr().err


@pytest.mark.parametrize("damage, said", [
    ("missing", "4 file(s) of synth without a usable row"),
    ("nan", "non-finite value(s) in its row"),
    ("duplicate", "2 duplicate key(s) in column 'path'"),
    ("key", "no 'path' column"),
    ("text", "non-numeric column(s) ['label']"),
])
def test_a_malformed_table_is_one_clear_error(tmp_path, embeddings, smoke_cache, damage,
                                             said):
    frame, _ = embeddings
    bad = frame.copy()
    if damage == "missing":
        bad = bad.iloc[4:]
    elif damage == "nan":
        bad.loc[7, "e01"] = np.nan
    elif damage == "duplicate":
        bad = pd.concat([bad, bad.iloc[:2]])
    elif damage == "key":
        bad = bad.rename(columns={"path": "file"})
    else:
        bad["label"] = "x"
    table = tmp_path / "bad.csv"
    bad.to_csv(table, index=False)
    with pytest.raises(ValueError, match=f"import:{table}.*{said}".replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        cfg = _config(tmp_path, "bad", [f"import:{table}"])  # some are refused at load
        run(cfg, RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))


def test_missing_rows_can_be_dropped_and_extra_rows_are_said(tmp_path, embeddings,
                                                             smoke_cache, capsys):
    frame, _ = embeddings
    extra = pd.DataFrame([["elsewhere/a.wav", *np.zeros(16)]], columns=frame.columns)
    table = tmp_path / "partial.npz"
    part = pd.concat([frame.iloc[4:], extra])
    np.savez(table, path=part["path"].to_numpy(str),
             features=part.drop(columns="path").to_numpy(np.float32))
    cfg = _config(tmp_path, "partial", [f"import:{table}", "bank"], missing="drop")
    summary = run(cfg, RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))
    err = capsys.readouterr().err
    assert "1 row(s) for files not in synth, unused: elsewhere/a.wav" in err
    assert "4 file(s) left out of every feature set" in err
    assert len(summary) == 2
    skipped = pd.read_csv(tmp_path / "runs" / "partial" / "skipped.csv")
    assert len(skipped[skipped["stage"].str.startswith("extract")]) == 4


def test_plug_ins_are_used_by_name_and_unknown_names_list_them(tmp_path, smoke_cache):
    from benchmark.models import plugin_models

    assert "nearest_centroid" in plugin_models()  # make installs examples/ (docs/extending)
    cfg = _config(tmp_path, "plug", ["zcr_rms", "bank"], models=["nearest_centroid"])
    summary = run(cfg, RunOptions(cache_dir=smoke_cache, n_jobs=1, progress=False))
    assert sorted(summary["features"]) == ["bank", "zcr_rms"]
    assert (summary["uar_mean"] > 0.2).all()
    with pytest.raises(ValueError, match=r"plug-ins installed: \['nearest_centroid'\]"):
        _config(tmp_path, "x", ["bank"], models=["nearest_centroids"])
    with pytest.raises(ValueError, match=r"plug-ins installed: \[.*'zcr_rms'.*\]"):
        _config(tmp_path, "y", ["zcr_rmss"])
