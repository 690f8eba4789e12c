"""Who the models fail: per-speaker and per-gender breakdowns from the stored predictions."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from mlflow.tracking import MlflowClient

from benchmark.config import load_experiment
from benchmark.report import write_report
from benchmark.run import RunOptions, run
from benchmark.synth import write_corpus
from benchmark.tracking import default_uri

CONFIG = """name = "{name}"
corpora = ["{corpus}"]
models = ["logreg"]
speaker_norm = [false]
final_model = "none"
[features]
groups = ["temporal", "spectral", "mfcc"]
n_mfcc = 13
[protocol]
kind = "{kind}"
inner_k = 2
[tuning]
n_trials = 0
"""


def _run(tmp_path, data, cache, name, kind="loso", corpus="synth"):
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(name=name, kind=kind, corpus=corpus))
    cfg = load_experiment(path, results_dir=str(tmp_path / "runs"))
    run(cfg, RunOptions(data_root=str(data), cache_dir=cache, n_jobs=1, progress=False))
    write_report(name, cfg.results_dir, with_figures=False)
    return tmp_path / "runs" / name


@pytest.fixture(scope="module")
def planted(tmp_path_factory, smoke_cache):
    """8 synthetic speakers (odd actors male, even female, RAVDESS's convention) whose female
    recordings are buried in noise at -10 dB SNR: a gender effect planted in the data."""
    tmp = tmp_path_factory.mktemp("planted")
    data = tmp / "data"
    rng = np.random.default_rng(0)
    for path in write_corpus(data / "synth", n_speakers=8, seed=2):
        if int(path.parent.name.split("_")[1]) % 2 == 0:
            y, sr = sf.read(path, dtype="float32")
            noise = rng.normal(0, 1, y.shape).astype(np.float32)
            noise *= np.sqrt(np.mean(y ** 2) * 10) / np.sqrt(np.mean(noise ** 2))
            sf.write(path, np.clip(y + noise, -1, 1), sr)
    return tmp, data, smoke_cache, _run(tmp, data, smoke_cache, "planted")


def test_each_speakers_uar_is_its_loso_folds_score(planted):
    *_, out = planted
    long = pd.read_csv(out / "tables" / "speakers_long.csv")
    folds = sorted((next((out / "folds").iterdir())).glob("fold*.json"))
    import json

    scores = {json.loads(p.read_text())["speakers"][0]: json.loads(p.read_text())["scores"]["uar"]
              for p in folds}
    assert len(scores) == 8 == len(long)
    for row in long.itertuples():
        assert row.uar == pytest.approx(scores[row.speaker], abs=1e-6)
    worst = pd.read_csv(out / "tables" / "speakers.csv").iloc[0]
    assert worst["worst"] == pytest.approx(long["uar"].min(), abs=1e-6)
    assert worst["mean"] == pytest.approx(long["uar"].mean())


def test_the_gender_table_finds_a_planted_gender_effect(planted):
    *_, out = planted
    g = pd.read_csv(out / "tables" / "gender.csv").iloc[0]
    assert (g["n_female"], g["n_male"]) == (4, 4)
    assert g["gap"] < -0.15 and g["uar_male"] > g["uar_female"]
    assert g["p_perm"] < 0.05 and g["verdict"] == "differs"
    readme = (out / "README.md").read_text()
    assert "## Who the models fail" in readme and "female test speakers scored higher than " \
        "male ones in 0 of 1 cells" in readme
    # the cell's MLflow run carries who it fails, sortable in the UI
    client = MlflowClient(default_uri(out.parent))
    exp = client.get_experiment_by_name("planted")
    (cell,) = [r for r in client.search_runs([exp.experiment_id])
               if r.data.tags.get("serbench.fold") == "-"]
    assert cell.data.metrics["gender_gap"] == pytest.approx(g["gap"], abs=1e-6)
    long = pd.read_csv(out / "tables" / "speakers_long.csv")
    assert cell.data.metrics["worst_speaker_uar"] == pytest.approx(long["uar"].min(), abs=1e-6)


def test_cross_gender_trains_on_one_gender_and_reports_both_directions(tmp_path, smoke_cache):
    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=8, seed=2)
    out = _run(tmp_path, data, smoke_cache, "crossed", kind="cross_gender")
    t = pd.read_csv(out / "tables" / "cross_gender.csv").iloc[0]
    folds = pd.read_csv(out / "tables" / "speakers_long.csv")
    assert len(folds) == 8  # every speaker tested once, by the model of the other gender
    for direction in ("female_to_male", "male_to_female"):  # 8 classes: chance is 0.125
        assert 0.25 < t[direction] <= 1 and t[f"{direction}_ci"].startswith("[")
    assert "cross-gender" in (out / "README.md").read_text()


def test_a_corpus_without_gender_gets_one_line_instead_of_the_table(tmp_path, smoke_cache):
    data = tmp_path / "data"
    files = write_corpus(data / "audio", n_speakers=4, seed=4)
    emotions = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    pd.DataFrame([{"path": str(p.relative_to(data / "audio")), "speaker": p.parent.name,
                   "emotion": emotions[int(p.stem.split("-")[2]) - 1]} for p in files]
                 ).to_csv(data / "audio" / "mine.csv", index=False)
    out = _run(tmp_path, data, smoke_cache, "nogender", corpus="audio/mine.csv")
    assert not (out / "tables" / "gender.csv").exists()
    assert (out / "tables" / "speakers.csv").exists()
    readme = (out / "README.md").read_text()
    assert "mine: no speaker's gender is known, so there is no per-gender table." in readme
