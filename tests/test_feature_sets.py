"""Feature sets: the bank, openSMILE eGeMAPS / ComParE, the classic librosa recipe, fusions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.config import load_experiment
from benchmark.corpora import open_corpus
from features import FeatureBank, FeatureConfig
from features.cache import Cache
from features.parallel import extract, extract_table
from features.sets import feature_set
from features.sets.smile import OpenSmile
from tests.conftest import tone

SMALL = FeatureConfig(groups=("temporal", "spectral", "mfcc", "pitch"), n_mfcc=13)


@pytest.fixture(scope="module")
def manifest(synth_root):
    return open_corpus("synth", synth_root).scan().manifest.iloc[::30].reset_index(drop=True)


def test_a_sets_digest_changes_with_any_of_its_parameters():
    base = feature_set("bank", SMALL).digest()
    assert feature_set("bank", SMALL).digest() == base  # stable
    changed = [feature_set("bank", FeatureConfig(groups=SMALL.groups, n_mfcc=20)),
               feature_set("bank", FeatureConfig(groups=SMALL.groups, n_mfcc=13, hop_ms=5)),
               feature_set("bank[mfcc,pitch]", SMALL), feature_set("bank[mfcc]", SMALL),
               feature_set("bank+egemaps", SMALL)]
    digests = {fs.digest() for fs in changed} | {base}
    assert len(digests) == len(changed) + 1
    assert OpenSmile("eGeMAPSv02").cache_namespace() != OpenSmile("ComParE_2016").cache_namespace()
    assert OpenSmile("eGeMAPSv02", sr=8000).cache_namespace() != OpenSmile(
        "eGeMAPSv02").cache_namespace()
    assert feature_set("egemaps").digest() != feature_set("compare").digest()


def test_reference_sets_have_their_published_sizes():
    assert len(feature_set("egemaps").feature_names) == 88
    assert len(feature_set("compare").feature_names) == 6373
    assert len(feature_set("librosa_classic").feature_names) == 398


@pytest.mark.parametrize("spec, message", [
    ("gemaps", "unknown feature set 'gemaps'"),
    ("bank[formant]", "unknown or empty group(s) ['formant']"),
    ("egemaps[mfcc]", "only bank takes [groups]"),
    ("bank+bank", "repeated part"),
])
def test_unknown_sets_and_groups_are_errors_naming_them(tmp_path, spec, message):
    path = tmp_path / "c.toml"
    path.write_text(f'feature_sets = ["{spec}"]\n')
    with pytest.raises(ValueError) as err:
        load_experiment(path)
    assert message in str(err.value)


def test_fusion_columns_are_the_prefixed_union_of_its_parts(tmp_path, manifest):
    cache = Cache(tmp_path / "c")
    fused = feature_set("bank+egemaps", SMALL)
    bank, egemaps = feature_set("bank", SMALL), feature_set("egemaps")
    assert fused.feature_names == ([f"bank.{n}" for n in bank.feature_names]
                                   + [f"egemaps.{n}" for n in egemaps.feature_names])
    t_fused, _ = extract_table(manifest, fused, cache, progress=False)
    t_bank, _ = extract_table(manifest, bank, cache, progress=False)
    t_ege, report = extract_table(manifest, egemaps, cache, progress=False)
    assert report.hits == len(manifest)  # the fusion computed egemaps once, for both
    np.testing.assert_array_equal(t_fused[[f"bank.{n}" for n in bank.feature_names]],
                                  t_bank[bank.feature_names])
    np.testing.assert_array_equal(t_fused[[f"egemaps.{n}" for n in egemaps.feature_names]],
                                  t_ege[egemaps.feature_names])


def test_a_bank_subset_is_a_column_selection_of_the_cached_bank(tmp_path, manifest):
    cache = Cache(tmp_path / "c")
    full, _ = extract_table(manifest, FeatureBank(SMALL), cache, progress=False)
    sub, report = extract_table(manifest, feature_set("bank[mfcc,pitch]", SMALL), cache,
                                progress=False)
    assert report.misses == 0
    names = FeatureBank(SMALL).group_columns()
    assert list(sub.columns[6:]) == names["mfcc"] + names["pitch"]
    np.testing.assert_array_equal(sub[names["pitch"]], full[names["pitch"]])


def test_opensmile_through_our_loader_is_cached_and_matches_opensmile(tmp_path, manifest):
    import opensmile

    from benchmark import audio

    cache = Cache(tmp_path / "c")
    ege = OpenSmile("eGeMAPSv02")
    paths = list(manifest["path"])
    first, r1 = extract(paths, ege, cache, n_jobs=2, progress=False)
    again, r2 = extract(paths, ege, cache, progress=False)
    assert r1.misses == len(paths) and r2.hits == len(paths) and r2.misses == 0
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    direct = smile.process_signal(audio.load(paths[0], 16000), 16000).to_numpy()[0]
    np.testing.assert_array_equal(first[0], direct.astype(np.float32))
    np.testing.assert_array_equal(again[3], first[3])


def test_a_corrupt_file_under_an_opensmile_set_is_a_named_skip(tmp_path, manifest):
    bad = tmp_path / "03-01-05-01-01-01-01.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    table = pd.concat([manifest.iloc[:3], manifest.iloc[:1].assign(path=str(bad))],
                      ignore_index=True)
    out, report = extract_table(table, feature_set("compare"), Cache(tmp_path / "c"),
                                progress=False)
    assert len(out) == 3 and str(bad) not in set(out["path"])
    assert [p for p, _ in report.errors] == [str(bad)]
    assert "not readable" in report.errors[0][1] and str(bad) in report.errors[0][1]


def test_librosa_classic_is_the_plain_recipe(manifest):
    import librosa

    from benchmark import audio
    from features.sets.librosa_classic import LibrosaClassic

    y = audio.load(manifest["path"][0], 16000)
    row = LibrosaClassic().extract(y, 16000)
    mfcc = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=40)
    names = LibrosaClassic().feature_names
    assert names[:4] == ["mfcc_000_mean", "mfcc_000_std", "mfcc_001_mean", "mfcc_001_std"]
    np.testing.assert_allclose(row[0:80:2], mfcc.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(row[1:80:2], mfcc.std(axis=1), rtol=1e-5)


def test_cross_corpus_matrix_is_every_ordered_pair_over_shared_emotions():
    from benchmark.config import ExperimentConfig, ProtocolConfig
    from benchmark.datasets import make_datasets

    def table(corpus, emotions):
        return pd.DataFrame({"corpus": corpus, "speaker": [f"{corpus}:{i % 2}" for i in
                                                            range(len(emotions))],
                             "emotion": emotions, "path": [f"{corpus}{i}" for i in
                                                           range(len(emotions))]})

    tables = {"a": table("a", ["happy", "sad", "calm", "angry"]),
              "b": table("b", ["happy", "sad", "angry", "fearful"]),
              "c": table("c", ["happy", "sad", "neutral", "calm"])}
    cfg = ExperimentConfig(name="x", protocol=ProtocolConfig("cross_corpus"))
    ds = {d.name: d for d in make_datasets(cfg, tables)}
    assert sorted(ds) == ["a->b", "a->c", "b->a", "b->c", "c->a", "c->b"]
    assert ds["a->b"].classes == ("happy", "sad", "angry") and ds["a->b"].train == ("a",)
    assert ds["c->a"].classes == ("calm", "happy", "sad")
    assert set(ds["b->c"].table["corpus"]) == {"b", "c"}


@pytest.mark.slow  # make test-slow: a whole run with openSMILE
def test_a_model_trained_on_egemaps_predicts_a_new_file_through_predict(tmp_path, synth_root,
                                                                        capsys):
    from benchmark.cli import main
    from benchmark.run import RunOptions, run

    path = tmp_path / "ege.toml"
    path.write_text('name = "ege"\ncorpora = ["synth"]\nmodels = ["svm_rbf"]\n'
                    'feature_sets = ["egemaps", "bank+egemaps"]\nspeaker_norm = [false]\n'
                    'final_model = "all"\n'
                    '[features]\ngroups = ["mfcc"]\nn_mfcc = 13\n'
                    '[protocol]\nkind = "group_kfold"\nk = 3\ninner_k = 2\n'
                    '[tuning]\nn_trials = 1\n')
    cfg = load_experiment(path, results_dir=str(tmp_path / "runs"))
    summary = run(cfg, RunOptions(data_root=str(synth_root), cache_dir=str(tmp_path / "c"),
                                  n_jobs=2, progress=False))
    assert set(summary["features"]) == {"egemaps", "bank+egemaps"}
    assert (summary["uar_mean"] > 0.4).all(), summary
    new = sorted(Path(synth_root, "synth", "Actor_02").glob("*.wav"))[:3]
    for cell in summary["cell_id"]:
        final = tmp_path / "runs" / "ege" / "folds" / cell / "final.json"
        import json

        uri = json.loads(final.read_text())["model_uri"]
        out = tmp_path / f"{cell}.csv"
        code = main(["predict", uri, *map(str, new), "--results-dir", str(tmp_path / "runs"),
                     "-o", str(out), "-q"])
        table = pd.read_csv(out, keep_default_na=False)
        assert code == 0 and (table["error"] == "").all() and (table["emotion"] != "").all()


def test_mfcc_statics_take_their_own_functionals_and_the_values_of_every_other_config():
    """The MFCC statics are summarised by ``mfcc_functionals``, their deltas and every other
    row by ``functionals``; each column is the same number the full bank computes under its
    name, so the default is a column selection of ``bank_full``."""
    y = tone(1.5, 16000)
    bank, full = FeatureBank(FeatureConfig()), FeatureBank(FeatureConfig().full())
    names = bank.feature_names
    assert [n for n in names if n.startswith("mfcc_03")] == [
        "mfcc_03_mean", "mfcc_03_std", *[f"mfcc_03_d{k}_{s}" for k in (1, 2)
                                         for s in bank.config.statistics]]
    assert all(n in full.feature_names for n in names)
    by_name = dict(zip(full.feature_names, full.extract(y, 16000), strict=True))
    np.testing.assert_array_equal(bank.extract(y, 16000), [by_name[n] for n in names])
    every = FeatureBank(FeatureConfig(mfcc_functionals=None))
    assert len(every.feature_names) == len(names) + bank.config.n_mfcc * (
        len(bank.config.statistics) - 2)
