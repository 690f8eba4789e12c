"""A trained model predicts audio identically in process, through `serbench predict`, and
through `mlflow models serve` on loopback."""

import base64
import json
import os
import sys
import urllib.request
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from benchmark.cli import main
from benchmark.predict import register_best, resolve_model
from benchmark.serving import class_probabilities
from benchmark.tracking import default_uri
from features.cache import Cache
from features.parallel import extract
from tests.conftest import fixed_smoke, free_port, serving, synth_files

#: Tests of the session smoke run (conftest.trained_smoke) share one xdist worker.
pytestmark = pytest.mark.xdist_group("trained_smoke")


@pytest.fixture(scope="module")
def trained(trained_smoke):
    results, cache = trained_smoke
    return results, cache, resolve_model("smoke", results), synth_files(cache, 3)[:12]


def test_predict_cli_matches_in_process_pipeline_on_cached_features(trained, tmp_path, capsys):
    results, cache, uri, files = trained
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    out = tmp_path / "pred.csv"
    code = main(["predict", "smoke", *files, str(bad), "--results-dir", results, "-o",
                 str(out), "-q"])
    assert code == 1  # one file failed, and said so
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == len(files) + 1
    assert "not readable" in table.iloc[-1]["error"] and table.iloc[-1]["emotion"] == ""
    good = table.iloc[:-1]
    assert (good["error"] == "").all()
    model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    os.environ["SERBENCH_CACHE"] = cache
    bank = model.features.parts[0].extractor
    values, report = extract(files, bank, Cache(cache), progress=False)
    assert report.hits == len(files)  # the cache holds these files' training features
    X = pd.DataFrame(np.stack(values), columns=bank.feature_names)[model.columns]
    X.insert(0, "speaker", "unknown")
    proba = class_probabilities(model.pipeline, X, len(model.classes))
    got = good[[f"p_{c}" for c in model.classes]].to_numpy(float)
    np.testing.assert_allclose(got, proba, rtol=1e-6, atol=1e-9)
    assert list(good["emotion"]) == [model.classes[i] for i in proba.argmax(1)]
    # most synthetic test files are recognised (the model is far above chance)
    truth = [Path(f).name.split("-")[2] for f in files]
    codes = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
             "06": "fearful", "07": "disgust", "08": "surprised"}
    assert np.mean([codes[t] == e for t, e in zip(truth, good["emotion"], strict=True)]) > 0.5


@pytest.mark.slow  # make test-slow: starts `mlflow models serve`
def test_served_model_answers_like_predict(trained):
    results, cache, uri, files = trained
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": default_uri(results),
           "SERBENCH_CACHE": cache, "MLFLOW_DISABLE_TELEMETRY": "true",
           # mlflow starts uvicorn by name: the virtualenv's bin must be on PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", uri,
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    with serving(cmd, f"http://127.0.0.1:{port}/ping", env):
        rows = [[base64.b64encode(Path(f).read_bytes()).decode()] for f in files]
        body = json.dumps({"dataframe_split": {"columns": ["audio_b64"], "data": rows}})
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body.encode(),
                                     {"Content-Type": "application/json"})
        served = pd.DataFrame(json.loads(urllib.request.urlopen(req, timeout=60).read())
                              ["predictions"])
    local = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"path": files}))
    assert list(served["emotion"]) == list(local["emotion"])
    cols = [c for c in local.columns if c.startswith("p_")]
    np.testing.assert_allclose(served[cols].to_numpy(float), local[cols].to_numpy(float),
                               rtol=1e-9)


def test_register_tags_best_model_with_uar(trained):
    results = trained[0]
    (name, version), = register_best("smoke", results)
    from mlflow.tracking import MlflowClient

    mv = MlflowClient(default_uri(results)).get_model_version(name, version)
    summary = pd.read_csv(Path(results) / "smoke" / "summary.csv")
    best = summary[summary.normalisation == "global"].uar_mean.max()
    assert float(mv.tags["uar_mean"]) == pytest.approx(best, abs=1e-4)


def test_logged_models_hold_no_pickle_and_load_only_allow_listed_types(trained, tmp_path):
    from mlflow.artifacts import download_artifacts

    from benchmark.serving import load_pipeline

    _, _, uri, _ = trained
    local = Path(download_artifacts(uri, dst_path=str(tmp_path / "model")))
    files = [p.name for p in local.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert "model_code.py" in files and "pipeline.skops" in files
    assert "trusted_types" not in (local / "artifacts" / "meta.json").read_text()
    # a skops file holding a type outside the allow-list in code is refused
    import skops.io
    from sklearn.pipeline import Pipeline

    rogue = tmp_path / "rogue.skops"
    rogue.write_bytes(skops.io.dumps(Pipeline([("r", Rogue())])))
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        load_pipeline(rogue)


def test_a_changed_model_folder_is_refused_and_never_run(trained, tmp_path, capsys):
    """The folder is code: an appended line in model_code.py, two class names swapped in
    meta.json or a folder the store has no digest for are refused before anything runs."""
    import json
    import shutil

    import soundfile as sf
    from mlflow.artifacts import download_artifacts

    from benchmark.model_folder import UntrustedModel, load_verified
    from tests.conftest import tone

    results, _, uri, files = trained
    clean = Path(download_artifacts(uri, dst_path=str(tmp_path / "clean")))
    assert load_verified(str(clean)).unwrap_python_model().classes  # its digest matches
    witness = tmp_path / "ran.txt"
    code = tmp_path / "code"
    shutil.copytree(clean, code)
    with open(code / "model_code.py", "a") as fh:
        fh.write(f"\nopen({str(witness)!r}, 'w').write('ran')\n")
    swapped = tmp_path / "swapped"
    shutil.copytree(clean, swapped)
    meta = json.loads((swapped / "artifacts" / "meta.json").read_text())
    meta["classes"][0], meta["classes"][1] = meta["classes"][1], meta["classes"][0]
    (swapped / "artifacts" / "meta.json").write_text(json.dumps(meta, indent=1))
    wav = tmp_path / "x.wav"
    sf.write(wav, tone(1.0), 16000)
    for folder in (code, swapped):
        capsys.readouterr()
        assert main(["predict", str(folder), str(wav), "--results-dir", results]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "does not match the digest its run recorded" in err[0], err
    assert not witness.exists()  # model_code.py never ran
    # a folder the store knows nothing of: refused unless its author is trusted
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(clean, elsewhere)
    mlmodel = (elsewhere / "MLmodel").read_text()
    (elsewhere / "MLmodel").write_text(mlmodel.replace("model_id: m-", "model_id: m-0")
                                       .replace("run_id: ", "run_id: 0"))
    with pytest.raises(UntrustedModel, match="has no digest"):
        load_verified(str(elsewhere))
    assert load_verified(str(elsewhere), trust=True).unwrap_python_model().classes


def test_a_long_file_is_predicted_window_by_window_never_decoded_whole(trained, tmp_path,
                                                                        monkeypatch):
    import soundfile as sf

    from benchmark import audio
    from benchmark.predict import predict_files

    _, _, uri, files = trained
    # 21 s of one speaker's recordings end to end: longer than two 4 s windows
    y = np.concatenate([sf.read(f, dtype="float32")[0] for f in files[:7]])
    sr = sf.info(files[0]).samplerate
    long = tmp_path / "long.flac"
    sf.write(long, y, sr)
    decoded = []
    real = audio._decode
    monkeypatch.setattr(audio, "_decode",
                        lambda path, data: decoded.append((str(path), data is None))
                        or real(path, data))
    table = predict_files(uri, [str(long), files[0]], progress=False)
    assert (str(long), True) not in decoded  # the long file was never read whole
    rows = table[table["path"] == str(long)]
    windows, summary = rows.iloc[:-1], rows.iloc[-1]
    duration = len(y) / sr
    starts = np.arange(0, duration - 4.0 + 1e-9, 2.0)
    assert list(windows["segment"]) == [str(k) for k in range(len(windows))]
    assert windows["start_s"].iloc[-1] == pytest.approx(duration - 4.0, abs=1e-3)
    np.testing.assert_allclose(windows["start_s"].iloc[:len(starts)], starts, atol=1e-3)
    assert (windows["end_s"] - windows["start_s"]).round(3).eq(4.0).all()
    assert (windows["error"] == "").all() and summary["segment"] == "summary"
    classes = [c[2:] for c in table.columns if c.startswith("p_")]
    p = windows[[f"p_{c}" for c in classes]].to_numpy(float).mean(axis=0)  # equal widths
    np.testing.assert_allclose(summary[[f"p_{c}" for c in classes]].to_numpy(float), p)
    assert summary["emotion"] == classes[int(p.argmax())]
    # a short file is still one whole row
    assert list(table[table["path"] == files[0]]["segment"]) == ["whole"]


class Rogue(BaseEstimator):
    """A type no serbench model holds."""


def test_predict_refuses_silence_and_a_10_ms_clip_as_the_corpus_loader_does(trained,
                                                                             tmp_path):
    import soundfile as sf

    _, _, uri, files = trained
    silent, short = tmp_path / "silent.wav", tmp_path / "short.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    y, sr = sf.read(files[0])
    sf.write(short, y[: sr // 100], sr)
    model = mlflow.pyfunc.load_model(uri)
    out = model.predict(pd.DataFrame({"path": [str(silent), str(short), files[0]]}))
    assert "silent" in out["error"][0] and out["emotion"][0] == ""
    assert "too short" in out["error"][1] and out["emotion"][1] == ""
    assert out["error"][2] == "" and out["emotion"][2]


def test_only_each_datasets_best_cell_per_normalisation_gets_a_final_model(trained):
    """``final_model = "best"`` (the default): after the folds, the best global and the best
    speaker-normalised cell refit and log a model; no other cell spends the time."""
    results = Path(trained[0]) / "smoke"
    summary = pd.read_csv(results / "summary.csv")
    assert len(summary) == 4  # svm_rbf, logreg x global, speaker-norm
    with_final = {c for c in summary["cell_id"] if (results / "folds" / c / "final.json").exists()}
    expected = set()
    for norm in ("global", "speaker-norm"):
        pool = summary[summary["normalisation"] == norm]
        expected.add(pool.sort_values("uar_mean", ascending=False, kind="stable")
                     ["cell_id"].iloc[0])
    assert with_final == expected and len(expected) == 2


def test_a_pipeline_with_a_tuned_selection_is_saved_and_loaded(tmp_path):
    """A final model whose tuning chose a selection step must be servable: its F-test score
    function is on the allow-list, and the loaded pipeline predicts as the saved one."""
    from benchmark.models import MODELS, SELECT, build_pipeline
    from benchmark.serving import dump_pipeline, load_pipeline

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = pd.DataFrame(rng.normal(size=(60, 6)) + y[:, None] * [1, 0, 0, 0.5, 0, 0],
                     columns=[f"f{i}" for i in range(6)])
    X["speaker"] = np.tile(["a", "b"], 30)
    pipe = build_pipeline(MODELS["svm_linear"], {"C": 0.1, SELECT: 50}, speaker_norm=False)
    pipe.fit(X, y)
    assert pipe.named_steps["select"].get_support().sum() == 3
    path = tmp_path / "pipe.skops"
    path.write_bytes(dump_pipeline(pipe))
    np.testing.assert_array_equal(load_pipeline(path).predict(X), pipe.predict(X))


@pytest.mark.parametrize("uri", ["runs:/0123456789abcdef/model", "models:/nope/1"])
def test_an_unknown_model_id_is_one_line(uri, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # MLflow's default store, if any, is made here
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    wav = tmp_path / "x.wav"
    import soundfile as sf

    from tests.conftest import tone

    sf.write(wav, tone(1.0), 16000)
    assert main(["predict", uri, str(wav)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "INFO" not in line]
    assert len(err) == 1 and err[0].startswith(f"serbench predict: error: no model at '{uri}'")


def test_a_bank_variants_final_model_computes_the_variants_features(trained_smoke, tmp_path):
    """The final model of a [bank_variants] cell computes that variant's columns from audio
    (its own parameters), not the experiment's bank."""
    from benchmark.config import load_experiment
    from benchmark.run import RunOptions, run
    from features import FeatureBank

    text = fixed_smoke("varmodel", speaker_norm="[false]", final_model="best")
    text = text.replace('groups = ["temporal", "spectral", "mfcc", "pitch"]',
                        'groups = ["temporal"]')  # a weak bank: the variant is the best cell
    text += '\n[bank_variants.mfcc_pitch]\ngroups = ["mfcc", "pitch"]\n'
    config = tmp_path / "varmodel.toml"
    config.write_text(text)
    results, cache = str(tmp_path / "results"), trained_smoke[1]
    cfg = load_experiment(config, results_dir=results)
    summary = run(cfg, RunOptions(cache_dir=cache, n_jobs=2, progress=False))
    assert summary.loc[summary["uar_mean"].idxmax(), "features"] == "mfcc_pitch"
    model = mlflow.pyfunc.load_model(resolve_model("varmodel", results)).unwrap_python_model()
    variant = FeatureBank(cfg.bank_variants["mfcc_pitch"])
    assert model.features.parts[0].extractor == variant
    assert model.columns == variant.feature_names
    files = synth_files(cache, 2)[:3]
    predicted = mlflow.pyfunc.load_model(resolve_model("varmodel", results)).predict(
        pd.DataFrame({"path": files}))
    assert len(predicted) == len(files) and predicted["emotion"].notna().all()
