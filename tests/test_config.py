from pathlib import Path

import pytest

from benchmark.config import load_experiment

EXPERIMENTS = sorted(Path(__file__).parents[1].joinpath("experiments").glob("*.toml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    cfg = load_experiment(path)
    assert cfg.name == path.stem and cfg.models


def test_required_configs_are_shipped():
    names = {p.stem for p in EXPERIMENTS}
    assert {"benchmark", "ravdess", "combined", "cross_corpus", "ablation", "smoke"} <= names


@pytest.mark.parametrize("text, message", [
    ('modles = ["svm_rbf"]', "unknown key(s) ['modles']"),
    ('models = ["svm_rbff"]', "unknown model(s) ['svm_rbff']"),
    ('[features]\nn_mfc = 13', "[features]: unknown key(s) ['n_mfc']"),
    ('[features]\ngroups = ["mfcc", "formants"]', "unknown feature group(s) ['formants']"),
    ('[protocol]\nkind = "loso"\ninnerk = 3', "[protocol]: unknown key(s) ['innerk']"),
    ('[protocol]\nkind = "random"', "is not one of"),
    ('[tuning.per_model.rf]\ntrials = 3', "[tuning.per_model.rf]: unknown key(s) ['trials']"),
    ('label_map = { clam = "neutral" }', "label 'clam' is not in the vocabulary"),
])
def test_bad_keys_are_errors_naming_them(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises((KeyError, ValueError)) as err:
        load_experiment(path)
    assert message in str(err.value)


def test_per_model_budget_and_digest(tmp_path):
    cfg = load_experiment(Path(__file__).parents[1] / "experiments" / "benchmark.toml")
    assert cfg.tuning.for_model("rf").n_trials == 3
    assert cfg.tuning.for_model("cnn").n_trials == 0
    assert cfg.tuning.for_model("svm_rbf").n_trials == 12
    assert cfg.digest() == load_experiment(
        Path(__file__).parents[1] / "experiments" / "benchmark.toml").digest()
