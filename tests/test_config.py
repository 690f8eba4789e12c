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
    ('[features]\ngroups = ["mfcc", "formant"]', "unknown feature group(s) ['formant']"),
    ('[protocol]\nkind = "loso"\ninnerk = 3', "[protocol]: unknown key(s) ['innerk']"),
    ('[protocol]\nkind = "random"', "is not one of"),
    ('final_model = "every"', "final_model 'every' is not one of"),
    ('[tuning.per_model.rf]\ntrials = 3', "[tuning.per_model.rf]: unknown key(s) ['trials']"),
    ('label_map = { clam = "neutral" }', "label 'clam' is not in the vocabulary"),
    ('[bank_variants.small]\nn_mfc = 13', "[bank_variants.small]: unknown key(s) ['n_mfc']"),
    ('[bank_variants.egemaps]\nn_mfcc = 13', "[bank_variants.egemaps]: a variant's name"),
    ('feature_sets = ["bank", "egemaps"]\n[bank_variants.bank]\nn_mfcc = 13',
     "[bank_variants.bank]: a variant's name"),
])
def test_bad_keys_are_errors_naming_them(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises((KeyError, ValueError)) as err:
        load_experiment(path)
    assert message in str(err.value)


def test_per_model_budget_and_digest(tmp_path):
    cfg = load_experiment(Path(__file__).parents[1] / "experiments" / "benchmark.toml")
    assert cfg.tuning.for_cell("rf", "bank").n_trials == 0
    assert cfg.tuning.for_cell("cnn", "logmel").n_trials == 0
    assert cfg.tuning.for_cell("svm_rbf", "bank").n_trials == 6
    assert cfg.digest() == load_experiment(
        Path(__file__).parents[1] / "experiments" / "benchmark.toml").digest()


def test_a_feature_sets_budget_overrides_its_models(tmp_path):
    cfg = _load(tmp_path, 'feature_sets = ["bank", "egemaps"]\n[tuning]\nn_trials = 0\n'
                '[tuning.per_model.svm_linear]\nn_trials = 8\nselect_percentiles = [50, 100]\n'
                '[tuning.per_set.egemaps]\nn_trials = 0')
    linear_bank = cfg.tuning.for_cell("svm_linear", "bank")
    assert linear_bank.n_trials == 8 and linear_bank.select_percentiles == (50, 100)
    assert cfg.tuning.for_cell("svm_linear", "egemaps").n_trials == 0  # the set's, last
    assert cfg.tuning.for_cell("svm_rbf", "bank").n_trials == 0
    assert not linear_bank.per_model and not linear_bank.per_set


@pytest.mark.parametrize("text, error, message", [
    ('[tuning.per_set.compare]\nn_trials = 0', KeyError,
     "[tuning.per_set]: unknown feature set(s) ['compare']"),
    ('[tuning]\nselect_percentiles = [0, 50]', ValueError, "must be in (0, 100]"),
    ('select_k = 10\n[tuning.per_model.rf]\nselect_percentiles = [50]', ValueError,
     "exclude each other"),
])
def test_a_tuned_selection_is_checked(tmp_path, text, error, message):
    with pytest.raises(error) as err:
        _load(tmp_path, text)
    assert message in str(err.value)


# -- a config that means what it says ------------------------------------------------------------
def _load(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text + "\n")
    return load_experiment(path)


WRONG_TYPES = [  # (toml, key named in the error, expected type named)
    ('name = 3', "name", "str"),
    ('corpora = [1]', "corpora[0]", "str"),
    ('combine = "yes"', "combine", "bool"),
    ('data_root = 5', "data_root", "str or none"),
    ('synthetic_fallback = 1', "synthetic_fallback", "bool"),
    ('label_map = "calm"', "label_map", "a table"),
    ('drop_labels = [true]', "drop_labels[0]", "str"),
    ('ablation = 1', "ablation", "str"),
    ('feature_sets = [1]', "feature_sets[0]", "str"),
    ('models = [1]', "models[0]", "str"),
    ('speaker_norm = "no"', "speaker_norm 'no'", "enrol:k"),  # not a mode: named, modes listed
    ('speaker_norm = ["no"]', "speaker_norm 'no'", "enrol:k"),
    ('speaker_norm = [1]', "speaker_norm[0]", "bool or str"),
    ('class_weight = "balanced"', "class_weight", "bool"),
    ('missing_features = 1', "missing_features", "str"),
    ('select_k = 1.5', "select_k", "int or none"),
    ('fixed_params = 3', "fixed_params", "a table of tables"),
    ('final_model = false', "final_model", "str"),
    ('seed = "0"', "seed", "int"),
    ('results_dir = 1', "results_dir", "str"),
    ('scheduler = 8786', "scheduler", "str or none"),
    ('features = 1', "[features]", "a table"),
    ('protocol = "loso"', "[protocol]", "a table"),
    ('[protocol]\nkind = 1', "[protocol] kind", "str"),
    ('[protocol]\nk = "six"', "[protocol] k", "int"),
    ('[protocol]\ninner_k = "three"', "[protocol] inner_k", "int"),
    ('[protocol]\ninner_k = 3.0', "[protocol] inner_k", "int"),
    ('[protocol]\ntrain = "ravdess"\ntest = [1]', "[protocol] test[0]", "str"),
    ('[protocol]\ntest_size = "0.2"', "[protocol] test_size", "float"),
    ('[protocol]\nrepeats = true', "[protocol] repeats", "int"),
    ('[tuning]\nn_trials = "12"', "[tuning] n_trials", "int"),
    ('[tuning]\ntimeout_s = "1h"', "[tuning] timeout_s", "float"),
    ('[tuning]\npruning = 1', "[tuning] pruning", "bool"),
    ('[tuning]\ninner_k = "3"', "[tuning] inner_k", "int or none"),
    ('[tuning.per_model.rf]\nn_trials = "3"', "[tuning.per_model.rf] n_trials", "int"),
    ('[tuning]\nselect_percentiles = ["half"]', "[tuning] select_percentiles[0]", "int"),
    ('[tuning.per_set.bank]\nn_trials = "3"', "[tuning.per_set.bank] n_trials", "int"),
    ('[features]\nsr = "16k"', "[features] sr", "int"),
    ('[features]\nwin_ms = "25"', "[features] win_ms", "float"),
    ('[features]\nfmax = "8k"', "[features] fmax", "float or none"),
    ('[features]\npercentiles = [10, "median"]', "[features] percentiles[1]", "float"),
    ('[features]\ngroups = [1]', "[features] groups[0]", "str"),
    ('[augmentation]\ncopies = "2"', "[augmentation] copies", "int"),
    ('[augmentation]\nsnr_db = [10]', "[augmentation] snr_db", "a list of 2"),
    ('[augmentation]\nnoise_dir = 1', "[augmentation] noise_dir", "str or none"),
    ('[augmentation]\ngain_db = ["-6", 6]', "[augmentation] gain_db", "a list of 2"),
    ('[augmentation]\npitch_semitones = 2', "[augmentation] pitch_semitones", "a list of 2"),
    ('[augmentation]\nstretch = "0.9"', "[augmentation] stretch", "a list of 2"),
    ('[augmentation]\nseed = 0.5', "[augmentation] seed", "int"),
    ('[augmentation]\ncompare = "no"', "[augmentation] compare", "bool"),
    ('bank_variants = 1', "[bank_variants]", "a table of tables"),
    ('[bank_variants.small]\nn_mfcc = "13"', "[bank_variants.small] n_mfcc", "int"),
]


@pytest.mark.parametrize("text, key, expected", WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_a_wrong_type_is_an_error_naming_file_key_expected_and_given(tmp_path, text, key,
                                                                      expected):
    with pytest.raises(ValueError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert str(tmp_path / "c.toml") in msg and key in msg and expected in msg, msg


def test_every_config_field_is_covered_by_the_wrong_type_cases():
    import dataclasses

    from benchmark.augment import AugmentConfig
    from benchmark.config import ExperimentConfig, ProtocolConfig, TuningConfig
    from features import FeatureConfig

    covered = " ".join(w[0] for w in WRONG_TYPES)
    skip = {"per_model"}  # a table of tables: its values are checked by the per_model case
    for cls in (ExperimentConfig, ProtocolConfig, TuningConfig, AugmentConfig):
        for f in dataclasses.fields(cls):
            assert f.name in skip or f.name in covered, f"{cls.__name__}.{f.name}"
    assert "sr" in covered and "percentiles" in covered and dataclasses.fields(FeatureConfig)


def test_values_convert_only_where_the_meaning_is_kept(tmp_path):
    cfg = _load(tmp_path, 'speaker_norm = true\nmodels = "svm_rbf"\n[features]\nwin_ms = 25')
    assert cfg.speaker_norm == (True,) and cfg.models == ("svm_rbf",)
    assert cfg.features.win_ms == 25.0 and isinstance(cfg.features.win_ms, float)


@pytest.mark.parametrize("text, message", [
    ('[fixed_params.logreg]\nCC = 5.0', "[fixed_params.logreg]: unknown parameter(s) ['CC']"),
    ('[fixed_params.logregg]\nC = 5.0', "[fixed_params]: unknown model(s) ['logregg']"),
    ('[tuning.per_model.svm_rbff]\nn_trials = 2',
     "[tuning.per_model]: unknown model(s) ['svm_rbff']"),
])
def test_misspelt_fixed_parameters_and_model_names_are_errors(tmp_path, text, message):
    with pytest.raises(KeyError) as err:
        _load(tmp_path, text)
    assert message in str(err.value)


def test_a_fixed_parameter_is_the_one_used_and_never_tuned(tmp_path):
    import numpy as np
    import pandas as pd

    from benchmark.cells import Cell
    from benchmark.fitting import fit_fold
    from benchmark.protocols import make_folds

    cfg = _load(tmp_path, 'models = ["svm_rbf"]\n[fixed_params.svm_rbf]\nC = 5.0\n'
                '[tuning]\nn_trials = 3\n[protocol]\nkind = "loso"\ninner_k = 2')
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"speaker": np.repeat([f"s{i}" for i in range(4)], 12),
                      "emotion": np.tile(["a", "b", "c"], 16)})
    y = pd.factorize(t.emotion)[0]
    X = (rng.standard_normal((len(t), 3)) + y[:, None]).astype(np.float32)
    fold = make_folds(cfg.protocol, t)[0]
    cell = Cell("d", "bank", "bank", "svm_rbf", False, "loso")
    out = fit_fold(X, ["a", "b", "c"], t.speaker.to_numpy(), y, fold.train, fold.test, cell,
                   cfg, None, None, False)
    assert out["params"]["C"] == 5.0
    assert "C" not in out["tuned_params"] and "gamma" in out["tuned_params"]


def test_voiced_groups_must_be_frame_row_groups(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[features]\nvoiced_groups = ["pitch"]\n')
    with pytest.raises(ValueError, match=r"voiced_groups must be frame-row groups"):
        load_experiment(path)


def test_a_changed_model_spec_makes_a_new_cell(monkeypatch):
    """Checkpoints are trusted by cell id: a model's new defaults, search space or code
    version must change it (else a rerun would resume the old model's folds)."""
    import dataclasses

    import optuna

    import benchmark.models as models
    from benchmark.cells import Cell, cell_digest
    from benchmark.config import ExperimentConfig

    cfg = ExperimentConfig(name="t", models=("cnn",))
    cell = Cell("d", "logmel", "logmel", "cnn", True, "group_kfold")
    base = cell_digest(cfg, cell, "f", {"d": "x"})
    assert cell_digest(cfg, cell, "f", {"d": "x"}) == base
    spec = models.MODELS["cnn"]

    def space(t: optuna.Trial) -> dict:
        return {"lr": t.suggest_float("lr", 1e-4, 1e-2, log=True)}

    changes = [{"defaults": {**spec.defaults, "width": 64}}, {"space": space},
               {"version": spec.version + "x"}]
    for change in changes:
        monkeypatch.setitem(models.MODELS, "cnn", dataclasses.replace(spec, **change))
        assert cell_digest(cfg, cell, "f", {"d": "x"}) != base, change
    monkeypatch.setitem(models.MODELS, "cnn", spec)
    other = Cell("d", "bank", "bank", "svm_rbf", True, "group_kfold")
    before = cell_digest(cfg, other, "f", {"d": "x"})
    monkeypatch.setitem(models.MODELS, "cnn", dataclasses.replace(spec, version="9"))
    assert cell_digest(cfg, other, "f", {"d": "x"}) == before  # other models untouched


@pytest.mark.parametrize("name", ["..", "../results/ravdess", "/tmp/x", "", "a/b", ".hidden"])
def test_a_name_that_is_a_path_is_refused_naming_the_key(tmp_path, name):
    config = tmp_path / "x.toml"
    config.write_text(f'name = "{name}"\ncorpora = ["synth"]\n')
    with pytest.raises(ValueError, match="name .*plain name"):
        load_experiment(config)


@pytest.mark.parametrize(("key", "value"), [("models", "[]"), ("corpora", "[]"),
                                          ("models", '["svm_rbf", "svm_rbf"]'),
                                          ("speaker_norm", "[]")])
def test_empty_and_duplicate_lists_are_refused_at_load(tmp_path, key, value):
    lines = {"corpora": '["synth"]', "models": '["svm_rbf"]', key: value}
    config = tmp_path / "x.toml"
    config.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
    with pytest.raises(ValueError, match=f"{key} must name at least one value, each once"):
        load_experiment(config)


@pytest.mark.parametrize("text", [b'name = "x"\nname = "y"\n', b'name = "\xff"\n'])
def test_invalid_toml_names_the_file(tmp_path, text):
    config = tmp_path / "broken.toml"
    config.write_bytes(text)
    with pytest.raises(ValueError, match="broken.toml: not valid TOML"):
        load_experiment(config)


@pytest.mark.parametrize(("line", "said"), [("n_mfcc = -5", "n_mfcc = -5"),
                                            ("contrast_quantile = 1.5", "contrast_quantile"),
                                            ("n_mfcc = 100", "n_mfcc = 100 above n_mels = 64"),
                                            ("delta_order = 3", "delta_order = 3"),
                                            ("formant_levels = [4]", "formant_levels")])
def test_out_of_range_feature_parameters_are_one_line_naming_file_and_key(tmp_path, line,
                                                                           said):
    config = tmp_path / "bad.toml"
    config.write_text(f'corpora = ["synth"]\n[features]\n{line}\n')
    with pytest.raises(ValueError, match="bad.toml \\[features\\]: out of range") as err:
        load_experiment(config)
    assert said in str(err.value)


def test_a_stored_feature_config_from_before_a_new_parameter_keeps_its_meaning_and_digest():
    """spectral_fmax came after configs were stored: a stored config without it means the
    behaviour before it (up to Nyquist), and its digest (the cache key) is unchanged."""
    from features.config import FeatureConfig

    before = FeatureConfig(n_contrast_bands=6, spectral_fmax=None)
    stored = before.to_dict()
    assert "spectral_fmax" not in stored  # as a config written before the parameter existed
    again = FeatureConfig.from_stored(stored)
    assert again == before and again.digest() == before.digest()
    # a user's table without it takes today's default, which 6 bands do not fit: one line
    with pytest.raises(ValueError, match="spectral_fmax"):
        FeatureConfig.from_dict(stored)
    assert FeatureConfig.from_stored(FeatureConfig().to_dict()) == FeatureConfig()


def test_a_stored_config_from_before_mfcc_functionals_keeps_every_functional_on_the_statics():
    """mfcc_functionals came later still: a config stored without it summarised the MFCC
    statics like every row (None), and keeps that meaning and its digest; a bad value is one
    line naming the key."""
    from features.config import FeatureConfig

    before = FeatureConfig(mfcc_functionals=None, n_mfcc=40)
    stored = before.to_dict()
    assert "mfcc_functionals" not in stored
    again = FeatureConfig.from_stored(stored)
    assert again == before and again.digest() == before.digest()
    assert again.mfcc_statistics == again.statistics
    assert FeatureConfig.from_dict(stored).mfcc_statistics == ("mean", "std")  # today's default
    with pytest.raises(ValueError, match="mfcc_functionals must be a non-empty subset"):
        FeatureConfig(mfcc_functionals=("median",))


def test_a_bank_variant_is_the_experiments_bank_with_the_keys_it_changes(tmp_path):
    """A variant starts from [features] (not the defaults), is one more set of the tables
    under its own name, and enters the experiment's digest."""
    text = ('feature_sets = ["bank", "egemaps"]\n[features]\nn_mfcc = 13\n'
            'groups = ["mfcc", "pitch"]\n[bank_variants.mfcc_only]\ngroups = ["mfcc"]\n')
    cfg = _load(tmp_path, text)
    variant = cfg.bank_variants["mfcc_only"]
    assert variant.groups == ("mfcc",) and variant.n_mfcc == 13
    assert variant == cfg.features.with_groups(["mfcc"])
    sets = cfg.feature_variants()
    assert list(sets) == ["bank", "egemaps", "mfcc_only"]
    assert sets["mfcc_only"].spec == "bank" and sets["mfcc_only"].config == variant
    assert sets["bank"].config is None
    assert _load(tmp_path, text.replace('groups = ["mfcc"]', 'groups = ["pitch"]')
                 ).digest() != cfg.digest()
    budget = _load(tmp_path, text + "[tuning.per_set.mfcc_only]\nn_trials = 5\n")
    assert budget.tuning.for_cell("svm_rbf", "mfcc_only").n_trials == 5
    assert budget.tuning.for_cell("svm_rbf", "bank").n_trials == budget.tuning.n_trials


def test_bank_variants_from_a_shared_file_are_those_written_inline(tmp_path):
    """``bank_variants = "<file>.toml"`` reads the variants from a file under the config's
    folder (several experiments share one list): the same configs, the same digest, as the
    tables written in the config; a path leaving the folder, or no such file, is one error
    naming the config and the value."""
    tables = '[mfcc_only]\ngroups = ["mfcc"]\n\n[small]\nn_mfcc = 13\n'
    head = 'feature_sets = ["bank"]\n'
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "variants.toml").write_text(tables)
    inline = _load(tmp_path, head + tables.replace("\n[", "\n[bank_variants.").replace(
        "[mfcc_only]", "[bank_variants.mfcc_only]"))
    shared = _load(tmp_path, head + 'bank_variants = "shared/variants.toml"\n')
    assert dict(shared.bank_variants) == dict(inline.bank_variants)
    assert shared.digest() == inline.digest()
    (tmp_path.parent / "outside.toml").write_text(tables)
    for value in ("../outside.toml", str(tmp_path / "shared" / "variants.toml"),
                  "shared/variants.txt"):
        with pytest.raises(ValueError, match="under the config's own folder") as err:
            _load(tmp_path, head + f'bank_variants = "{value}"\n')
        assert str(tmp_path) in str(err.value) and value in str(err.value)
    with pytest.raises(ValueError, match="no such file"):
        _load(tmp_path, head + 'bank_variants = "shared/none.toml"\n')


def test_the_design_experiments_compare_the_same_banks():
    """The default is chosen by its worst margin across the design experiments (issue
    #28; features/README.md): each must hold the same alternatives, or a variant would be
    judged on part of the criteria."""
    from benchmark.config import load_experiment

    root = Path(__file__).parents[1] / "experiments"
    variants = [dict(load_experiment(root / f"design_{part}.toml").bank_variants)
                for part in ("transfer", "loso", "pooled", "gender")]
    assert len(variants[0]) > 10 and all(v == variants[0] for v in variants)


def test_the_log_mels_key_is_only_what_the_log_mel_reads():
    """A spectrogram model's cells and cached log-mels are keyed by the log-mel's own
    parameters: a change to the bank's summary (cepstra, groups, warps) leaves them, one to
    the mel filters or the framing does not."""
    from features import FeatureBank
    from features.config import FeatureConfig

    base = FeatureConfig()
    same = [FeatureConfig(n_mfcc=40), FeatureConfig(vtln=False), FeatureConfig(groups=("mfcc",)),
            FeatureConfig(mfcc_functionals=("std",), formant_levels=(1, 2, 3))]
    assert all(c.logmel_digest() == base.logmel_digest() != c.digest() for c in same)
    for c in (FeatureConfig(fmax=8000.0), FeatureConfig(n_mels=40), FeatureConfig(hop_ms=5.0),
              FeatureConfig(top_db=60.0)):
        assert c.logmel_digest() != base.logmel_digest()
    assert FeatureBank(same[1]).cache_namespace("logmel") == \
        FeatureBank(base).cache_namespace("logmel") != FeatureBank(base).cache_namespace()
