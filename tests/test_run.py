"""smoke.toml end to end: scores, MLflow runs, resume after SIGKILL, an MLflow server."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from benchmark.config import load_experiment
from benchmark.run import RunOptions, run
from benchmark.tracking import default_uri
from tests.conftest import SMOKE, free_port, serving


@pytest.fixture(scope="module")
def cache_dir(smoke_cache):
    return smoke_cache


def _smoke(tmp_path, cache_dir, **kw):
    cfg = load_experiment(SMOKE, results_dir=str(tmp_path / "results"))
    return cfg, run(cfg, RunOptions(cache_dir=cache_dir, n_jobs=2, progress=False, **kw))


@pytest.fixture(scope="module")
def ordinary_run(tmp_path_factory, cache_dir):
    """`serbench run smoke.toml` as an ordinary run from a project root that holds a committed
    reference: ``(root, cfg, summary, committed files before the run)``. One run, read by the
    tests that only check what it wrote."""
    root = tmp_path_factory.mktemp("project")
    reference = root / "results" / "smoke"
    reference.mkdir(parents=True)
    (reference / "README.md").write_text("the committed reference\n")
    before = {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()}
    here = os.getcwd()
    os.chdir(root)
    try:
        cfg = load_experiment(SMOKE, final_model="none")  # final models: tests/test_serving
        summary = run(cfg, RunOptions(cache_dir=cache_dir, n_jobs=2, progress=False))
        cfg = load_experiment(SMOKE, results_dir=str(root / cfg.results_dir))
    finally:
        os.chdir(here)
    return root, cfg, summary, before


@pytest.mark.xdist_group("ordinary_run")  # one worker builds the fixture
def test_smoke_runs_scores_and_logs(ordinary_run):
    _, cfg, summary, _ = ordinary_run
    assert len(summary) == 4 and (summary["folds"] == 4).all()
    assert (summary["uar_mean"] > 0.5).all(), summary  # 8 classes: chance is 0.125
    assert set(summary["normalisation"]) == {"global", "speaker-norm"}
    client = MlflowClient(default_uri(cfg.results_dir))
    exp = client.get_experiment_by_name("smoke")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("serbench.fold") == "-"]
    nested = [r for r in runs if r.data.tags.get("serbench.fold", "-") != "-"]
    assert len(parents) == 4 and len(nested) == 16
    one = nested[0]
    assert {"uar", "wa", "macro_f1"} <= set(one.data.metrics)
    assert one.data.tags["mlflow.parentRunId"] in {p.info.run_id for p in parents}
    for tag in ("git_commit", "feature_config", "data_fingerprint", "version.scikit-learn"):
        assert tag in one.data.tags
    assert any(k.startswith("best_") for k in one.data.params)
    names = {a.path for a in client.list_artifacts(one.info.run_id)}
    assert {"predictions.csv", "confusion.json"} <= names
    assert parents[0].data.metrics["uar_mean"] > 0.5


def test_resume_after_sigkill_recomputes_only_unfinished_tasks(tmp_path, cache_dir):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(SMOKE), "--results-dir",
           str(results), "--cache-dir", cache_dir, "--n-jobs", "1", "-q", "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    done = []
    while time.time() < deadline:
        done = list(results.glob("smoke/folds/*/fold*.json"))
        if len(done) >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in results.glob("smoke/folds/*/*.json")
              if p.name != "cell.json"}
    assert 5 <= len([p for p in before if p.name.startswith("fold")]) < 16
    cfg = load_experiment(SMOKE, results_dir=str(results), final_model="none")
    summary = run(cfg, RunOptions(cache_dir=cache_dir, n_jobs=2, progress=False))
    assert len(summary) == 4
    for p, mtime in before.items():
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was recomputed"
    # every fold logged exactly once in MLflow, none duplicated by the rerun
    client = MlflowClient(default_uri(cfg.results_dir))
    exp = client.get_experiment_by_name("smoke")
    nested = [r for r in client.search_runs([exp.experiment_id], max_results=1000)
              if r.data.tags.get("serbench.fold", "-") != "-"]
    keys = [(r.data.tags["serbench.cell"], r.data.tags["serbench.fold"]) for r in nested]
    assert len(keys) == len(set(keys)) == 16


def test_ctrl_c_ends_in_one_line_and_closes_every_mlflow_run(tmp_path, cache_dir):
    """SIGINT to the whole process group, as a terminal's Ctrl-C, while two workers fit."""
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(SMOKE), "--results-dir",
           str(results), "--cache-dir", cache_dir, "--n-jobs", "2", "-q", "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and len(list(results.glob("smoke/folds/*/fold*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    done = len(list(results.glob("smoke/folds/*/fold*.json")))
    assert last == (f"serbench run: smoke: interrupted, {done} of 16 fold tasks done and kept; "
                    "rerun the same command to resume"), err
    client = MlflowClient(default_uri(results))
    exp = client.get_experiment_by_name("smoke")
    status = {r.info.status for r in client.search_runs([exp.experiment_id], max_results=100)}
    assert "RUNNING" not in status and "KILLED" in status


@pytest.mark.slow  # make test-slow: a whole run in a subprocess or against a server
def test_smoke_against_an_mlflow_server(tmp_path, cache_dir):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
           "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
           "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"]
    with serving(cmd, f"{uri}/health"):
        cfg, summary = _smoke(tmp_path, cache_dir, tracking_uri=uri)
        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("smoke")
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        assert len(runs) == 21  # the experiment-level run, 4 cells, 16 folds
        uars = sorted(r.data.metrics["uar_mean"] for r in runs if "uar_mean" in r.data.metrics)
        assert uars == pytest.approx(sorted(summary["uar_mean"]))


# -- nothing stale -----------------------------------------------------------------------------
TINY = """name = "tiny"
corpora = ["synth"]
models = ["logreg"]
speaker_norm = [false]
final_model = "none"
[features]
groups = ["temporal", "mfcc"]
n_mfcc = 13
[protocol]
kind = "loso"
inner_k = 2
[tuning]
n_trials = 0
"""


def _tiny(tmp_path, data_root, cache_dir, capsys=None):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    cfg = load_experiment(path, results_dir=str(tmp_path / "runs"))
    summary = run(cfg, RunOptions(data_root=str(data_root), cache_dir=cache_dir, n_jobs=1,
                                  progress=False))
    from benchmark.report import write_report

    write_report("tiny", cfg.results_dir, with_figures=False)  # the tables are what is compared
    main = (tmp_path / "runs" / "tiny" / "tables" / "main.csv").read_text()
    return summary, main


def test_a_changed_corpus_is_recomputed_never_reported_stale(tmp_path, cache_dir, capsys):
    import shutil

    import soundfile as sf

    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=4, seed=1)
    first, table1 = _tiny(tmp_path, data, cache_dir)
    assert first["folds"].tolist() == [4]
    # one speaker removed: every cell is new, the old checkpoints are not reported
    shutil.rmtree(data / "synth" / "Actor_04")
    capsys.readouterr()
    second, table2 = _tiny(tmp_path, data, cache_dir)
    err = capsys.readouterr().err
    assert "3 tasks to run (0 already done)" in err
    assert "synth changed since 1 earlier cell(s)" in err and "240 -> 180 files" in err
    assert second["folds"].tolist() == [3] and table2 != table1
    # one file repaired (its samples change): recomputed again
    victim = sorted((data / "synth" / "Actor_01").glob("*.wav"))[0]
    y, sr = sf.read(victim)
    sf.write(victim, y[::-1].copy(), sr)
    capsys.readouterr()
    third, _ = _tiny(tmp_path, data, cache_dir)
    assert "3 tasks to run (0 already done)" in capsys.readouterr().err
    # and an unchanged rerun trusts its checkpoints
    _tiny(tmp_path, data, cache_dir)
    assert "0 tasks to run (3 already done)" in capsys.readouterr().err


def test_every_file_left_out_is_kept_in_skipped_csv(tmp_path, cache_dir, capsys):
    import pandas as pd

    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=4, seed=1)
    (data / "synth" / "Actor_01" / "notes.txt").write_text("session notes")
    (data / "synth" / "Actor_02" / "03-01-05-01-01-03-02.wav").mkdir()  # a folder so named
    _tiny(tmp_path, data, cache_dir)
    err = capsys.readouterr().err
    assert "1 file(s) not named as audio left aside: notes.txt" in err
    skipped = pd.read_csv(tmp_path / "runs" / "tiny" / "skipped.csv")
    assert sorted(skipped["path"]) == ["synth/Actor_01/notes.txt",
                                       "synth/Actor_02/03-01-05-01-01-03-02.wav"]
    assert set(skipped["stage"]) == {"scan"} and skipped["reason"].str.len().min() > 10


def test_more_folds_than_speakers_is_said_not_silent(tmp_path, cache_dir, capsys):
    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=4, seed=1)
    path = tmp_path / "k10.toml"
    path.write_text(TINY.replace('kind = "loso"', 'kind = "group_kfold"\nk = 10'))
    cfg = load_experiment(path, results_dir=str(tmp_path / "runs"))
    summary = run(cfg, RunOptions(data_root=str(data), cache_dir=cache_dir, n_jobs=1,
                                  progress=False))
    assert summary["folds"].tolist() == [4]
    assert ("[synth] [protocol] k = 10, but the data has 4 speakers: 4 folds, one per speaker"
            in capsys.readouterr().err)


def test_a_report_refuses_cells_of_two_versions_of_a_corpus(tmp_path, cache_dir):
    import json
    import shutil

    from benchmark.report.results import collect
    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=4, seed=1)
    _tiny(tmp_path, data, cache_dir)
    out = tmp_path / "runs" / "tiny"
    old = next((out / "folds").iterdir())
    shutil.rmtree(data / "synth" / "Actor_04")
    _tiny(tmp_path, data, cache_dir)
    (out / "plan.json").write_text(json.dumps({"cells": [p.name for p in
                                                         (out / "folds").iterdir()]}))
    with pytest.raises(ValueError,
                       match=r"synth: cell .* other data .*(240 -> 180|180 -> 240) files"):
        collect(out)
    assert old.exists()  # nothing of the user's is deleted


def test_a_corrupt_checkpoint_is_named_and_recomputed(tmp_path, cache_dir, capsys):
    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=3, seed=2)
    _, table = _tiny(tmp_path, data, cache_dir)
    victim = sorted((tmp_path / "runs" / "tiny" / "folds").glob("*/fold*.json"))[1]
    victim.write_text('{"scores": {"uar": 0.9')  # cut off mid-write by a full disk, say
    capsys.readouterr()
    _, again = _tiny(tmp_path, data, cache_dir)
    err = capsys.readouterr().err
    assert f"checkpoint {victim} is unreadable" in err and "1 tasks to run" in err
    assert again == table


@pytest.mark.xdist_group("ordinary_run")  # one worker builds the fixture
def test_an_ordinary_run_leaves_the_committed_results_untouched(ordinary_run):
    """`serbench run` from the project root writes runs/, never results/."""
    root, _, _, before = ordinary_run
    assert load_experiment(SMOKE).results_dir == "runs"
    after = {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()}
    assert after == before
    assert (root / "runs" / "smoke" / "summary.csv").exists()
    assert (root / "runs" / "mlflow.db").exists()


@pytest.mark.xdist_group("ordinary_run")  # one worker builds the fixture
def test_the_mlflow_store_holds_axes_as_params_metrics_and_figures(ordinary_run):
    """Every cell's parent run can be found and compared by its axes in the UI."""
    _, cfg, summary, _ = ordinary_run
    client = MlflowClient(default_uri(cfg.results_dir))
    exp = client.get_experiment_by_name("smoke")
    parents = client.search_runs([exp.experiment_id], "tags.`serbench.fold` = '-'",
                                 max_results=100)
    assert len(parents) == len(summary) == 4
    top = client.search_runs([exp.experiment_id], "tags.`serbench.plan` != ''")
    assert len(top) == 1 and top[0].data.tags["git_commit"]
    assert any(k.startswith("data.synth") for k in top[0].data.tags)
    for r in parents:
        p, m = r.data.params, r.data.metrics
        assert {"dataset", "feature_set", "model", "normalisation", "protocol", "n_features",
                "n_folds", "n_trials"} <= set(p) and "config" not in p
        assert {"uar_mean", "uar_std", "wa_mean", "macro_f1_mean", "pooled_uar",
                "pooled_uar_ci_low", "pooled_uar_ci_high", "fit_s", "tune_s"} <= set(m)
        assert m["pooled_uar_ci_low"] <= m["pooled_uar"] <= m["pooled_uar_ci_high"]
        assert r.data.tags["mlflow.parentRunId"] == top[0].info.run_id
        assert r.data.tags["mlflow.note.content"].startswith(p["model"])
        names = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"confusion.png", "folds.csv", "predictions.csv", "config.json"} <= names
    found = client.search_runs([exp.experiment_id], "params.model = 'svm_rbf' and "
                               "params.normalisation = 'speaker-norm'")
    expected = summary[(summary["model"] == "svm_rbf")
                       & (summary["normalisation"] == "speaker-norm")]["cell_id"]
    assert sorted(r.data.tags["serbench.cell"] for r in found) == sorted(expected)


@pytest.mark.slow  # make test-slow: a whole run in a subprocess or against a server
def test_a_killed_and_resumed_cnn_run_gives_the_same_table(tmp_path, cache_dir):
    """The CNN (deterministic on CPU) through the same checkpoints: killed after some folds
    and resumed, its table equals that of an uninterrupted run, fold for fold."""
    pytest.importorskip("torch")
    text = SMOKE.read_text().replace('name = "smoke"', 'name = "cnnsmoke"')
    text = text.replace('models = ["svm_rbf", "logreg"]', 'models = ["cnn"]')
    text = text.replace("speaker_norm = [false, true]", "speaker_norm = [true]")
    text += "\n[tuning.per_model.cnn]\nn_trials = 0\n\n[fixed_params.cnn]\nmax_epochs = 3\n" \
            "n_frames = 100\n"
    config = tmp_path / "cnnsmoke.toml"
    config.write_text(text)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(config), "--results-dir",
           str(killed), "--cache-dir", cache_dir, "--n-jobs", "1", "-q", "--no-report"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(killed.glob("cnnsmoke/folds/*/fold*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(list(killed.glob("cnnsmoke/folds/*/fold*.json"))) < 4
    resumed = run(load_experiment(config, results_dir=str(killed)),
                  RunOptions(cache_dir=cache_dir, n_jobs=2, progress=False))
    straight = run(load_experiment(config, results_dir=str(whole)),
                   RunOptions(cache_dir=cache_dir, n_jobs=2, progress=False))
    assert len(resumed) == 1
    cols = ["dataset", "features", "model", "normalisation", "folds", "uar_mean", "uar_std"]
    assert resumed[cols].equals(straight[cols]), (resumed[cols], straight[cols])


@pytest.mark.slow  # make test-slow: a whole run in a subprocess or against a server
def test_a_run_prints_no_warning_and_no_traceback(tmp_path, cache_dir):
    """What a user sees of `serbench run` (the smoke experiment, report and logged models
    included): progress and results, never a line with "Warning" or "Traceback"."""
    cmd = [sys.executable, "-m", "benchmark.cli", "run", str(SMOKE), "--results-dir",
           str(tmp_path / "runs"), "--cache-dir", cache_dir, "--n-jobs", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONWARNINGS": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (done.stdout + done.stderr).splitlines()
    noisy = [line for line in lines if "Warning" in line or "Traceback" in line]
    assert not noisy, noisy[:10]
    assert (tmp_path / "runs" / "smoke" / "tables" / "main.csv").exists()


def test_the_same_recording_under_two_speakers_is_refused_before_any_split(tmp_path,
                                                                            cache_dir):
    """A copy of one speaker's file filed under another speaker would put the same audio in
    training and test: the run stops before any fold, naming both files."""
    import shutil

    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    write_corpus(data / "synth", n_speakers=3, seed=2)
    source = sorted((data / "synth" / "Actor_01").glob("*.wav"))[0]
    copy = data / "synth" / "Actor_02" / source.name.replace("-01.wav", "-02.wav")
    copy.unlink(missing_ok=True)
    shutil.copy(source, copy)
    with pytest.raises(ValueError, match="identical audio under two speakers") as err:
        _tiny(tmp_path, data, cache_dir)
    assert source.name in str(err.value) and copy.name in str(err.value)
    assert not list((tmp_path / "runs" / "tiny" / "folds").glob("*/fold*.json"))


@pytest.mark.parametrize("where", ["absolute", "data-root relative"])
def test_a_corpus_given_as_a_csv_runs_end_to_end(tmp_path, cache_dir, where):
    """`corpora = ["<file>.csv"]`: the way every corpus without a loader gets in. A relative
    path is read against the data root, not the working directory."""
    import pandas as pd

    from benchmark.synth import write_corpus

    data = tmp_path / "data"
    files = write_corpus(data / "audio", n_speakers=3, seed=4)
    rows = [{"path": str(p.relative_to(data / "audio")), "speaker": p.parent.name,
             "emotion": ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                         "surprised"][int(p.stem.split("-")[2]) - 1]} for p in files]
    csv = data / "audio" / "mine.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    name = str(csv) if where == "absolute" else "audio/mine.csv"
    config = tmp_path / "csvrun.toml"
    config.write_text(TINY.replace('name = "tiny"', 'name = "csvrun"')
                      .replace('corpora = ["synth"]', f'corpora = ["{name}"]'))
    cfg = load_experiment(config, results_dir=str(tmp_path / "runs"))
    summary = run(cfg, RunOptions(data_root=str(data), cache_dir=cache_dir, n_jobs=1,
                                  progress=False))
    assert summary["dataset"].tolist() == ["mine"] and summary["folds"].tolist() == [3]
    assert (summary["uar_mean"] > 0.3).all()
