"""Reports: deterministic, built from stored runs only, with correct statistics."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import benchmark.models
from benchmark.config import load_experiment
from benchmark.metrics import bootstrap_ci
from benchmark.report import write_report
from benchmark.report.stats import corrected_resampled_ttest
from benchmark.report.tables import Table, to_latex, to_markdown
from benchmark.run import RunOptions, run
from tests.conftest import SMOKE, fixed_smoke

#: The tests sharing the session's smoke run (conftest.trained_smoke) run in one xdist worker,
#: which builds it once (make test runs pytest with --dist loadgroup).
pytestmark = pytest.mark.xdist_group("trained_smoke")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, trained_smoke):
    """The session's smoke run and a second one of the same config and seed (its own
    results, the same feature cache), each with its report."""
    first, cache = trained_smoke
    second = tmp_path_factory.mktemp("b") / "results"
    cfg = load_experiment(SMOKE, results_dir=str(second))
    run(cfg, RunOptions(cache_dir=cache, n_jobs=2, progress=False))
    outs = []
    for results in (Path(first), second):  # tables and manifest compared: no figures needed
        write_report("smoke", results, with_figures=False)
        outs.append(Path(results) / "smoke")
    return outs


def test_same_config_and_seed_give_byte_identical_tables_and_manifest(two_runs):
    a, b = two_runs
    files = sorted(p.relative_to(a) for p in a.glob("tables/*"))
    assert {f.suffix for f in files} == {".csv", ".md", ".tex"} and len(files) >= 9
    for rel in [*files, Path("manifest.json")]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "timestamps.json").exists()


def test_report_rebuilds_from_stored_runs_without_refitting(two_runs, monkeypatch):
    a, _ = two_runs

    def forbidden(*args, **kw):
        raise AssertionError("the report refitted a model")

    monkeypatch.setattr(benchmark.models, "build_pipeline", forbidden)
    before = (a / "tables" / "main.csv").read_bytes()
    written = write_report("smoke", a.parent)
    assert (a / "tables" / "main.csv").read_bytes() == before
    names = {p.name for p in written}
    assert {"main.tex", "stats.md", "uar_ci.csv", "manifest.json", "README.md"} <= names
    assert any(n.startswith("confusion_") and n.endswith(".pdf") for n in names)
    readme = (a / "README.md").read_text()
    assert "serbench run experiments/smoke.toml" in readme and "tables/main.tex" in readme
    assert "Every cell was tuned by Optuna" in readme  # smoke: 3 trials for every cell


def test_main_table_matches_fold_checkpoints(two_runs):
    a, _ = two_runs
    main = pd.read_csv(a / "tables" / "main.csv")
    summary = pd.read_csv(a / "summary.csv")
    for _, row in summary.iterrows():
        got = main[(main.model == row.model) & (main.normalisation == row.normalisation)]
        assert got[f"{row.dataset} UAR"].item() == pytest.approx(row.uar_mean, abs=1e-6)
    tex = (a / "tables" / "main.tex").read_text()
    assert r"\toprule" in tex and r"$\pm$" in tex and r"\textbf{" in tex
    assert "speaker-independent 4-fold" in tex


def test_corrected_resampled_ttest_by_hand():
    d = np.array([0.02, 0.05, -0.01, 0.04, 0.03])
    t, p = corrected_resampled_ttest(d, n_train=400, n_test=100)
    expected = d.mean() / np.sqrt((1 / 5 + 100 / 400) * d.var(ddof=1))
    assert t == pytest.approx(expected)
    assert p == pytest.approx(2 * sps.t.sf(abs(expected), 4))
    # the correction widens the interval: p is larger than the naive paired t-test's
    assert p > sps.ttest_1samp(d, 0).pvalue


def test_no_t_test_on_two_folds_or_on_differences_equal_to_rounding():
    """Two folds differing by the same count of files (as RAVDESS across gender can) gave a
    variance of rounding error and p = 1e-12: no test below MIN_FOLDS folds, nor when every
    fold differs alike; three folds that vary are tested."""
    same = np.array([0.1 + 0.2, 0.3])  # equal but for rounding: var ~ 1e-33
    for d in (same, np.array([0.02, 0.05]), np.array([0.3, 0.1 + 0.2, 0.3])):
        assert all(np.isnan(corrected_resampled_ttest(d, n_train=700, n_test=700)))
    t, p = corrected_resampled_ttest(np.array([0.02, 0.05, 0.04]), n_train=700, n_test=700)
    assert np.isfinite(p) and 0 < p < 1


def test_bootstrap_ci_brackets_pooled_uar_and_narrows_with_speakers():
    rng = np.random.default_rng(0)

    def confusions(n_spk):
        conf = np.zeros((n_spk, 3, 3))
        for s in range(n_spk):
            for k in range(3):
                conf[s, k] = rng.multinomial(20, [0.7 if j == k else 0.15 for j in range(3)])
        return conf

    few, many = confusions(4), confusions(40)
    lo, hi = bootstrap_ci(many)
    pooled = np.mean(np.diag(many.sum(0)) / many.sum(0).sum(1))
    assert lo < pooled < hi
    lo4, hi4 = bootstrap_ci(few)
    assert (hi - lo) < (hi4 - lo4)


def test_table_formats_escape_and_bold():
    frame = pd.DataFrame({"model": ["my_model", "svm_rbf"], "UAR": [0.61, 0.55],
                          "UAR_std": [0.05, 0.04]})
    t = Table("t", "A caption with ± and 50% of x_y", frame, ("model",), ("UAR",))
    tex, md = to_latex(t), to_markdown(t)
    assert r"my\_model" in tex and r"\textbf{0.610 $\pm$ 0.050}" in tex and r"50\%" in tex
    assert "SVM-RBF &" in tex and "RBF-kernel SVM" in tex  # as papers name it, said once
    assert "**0.610 ± 0.050**" in md and "| svm_rbf | 0.550 ± 0.040 |" in md


def test_ablation_readme_opens_with_what_each_group_did(tmp_path, trained_smoke):
    """A run about variants says in its first sentence what leaving a group out cost, with the
    paired test, and shows the ablation table; the numbers are those of variant_stats."""
    # variants at one fixed configuration
    text = fixed_smoke("abl", top='ablation = "leave_one_out"\n', speaker_norm="[true]")
    config = tmp_path / "abl.toml"
    config.write_text(text)
    cfg = load_experiment(config, results_dir=str(tmp_path / "results"))
    run(cfg, RunOptions(cache_dir=trained_smoke[1], n_jobs=2, progress=False))  # its features
    write_report("abl", tmp_path / "results", with_figures=False)
    out = tmp_path / "results" / "abl"
    opening = (out / "README.md").read_text().split("\n")[2]
    stats_rows = pd.read_csv(out / "tables" / "variant_stats.csv")
    worst = stats_rows.loc[stats_rows["diff"].idxmin()]
    said = "differs from the base" if worst["verdict"] == "differs" else "tied with the base"
    assert f"at worst ({worst['variant']}; {said}, p (Holm) = {worst['p_holm']:.2f}" in opening
    assert f"changed UAR by {worst['diff']:+.3f}" in opening
    assert "reached a mean UAR" in opening and "won" not in opening  # one configured cell
    readme = (out / "README.md").read_text()
    assert readme.index("Feature-group ablation") < readme.index("## Files")


def test_the_readme_says_which_cells_were_tuned():
    """A table that mixes tuned cells with fixed configurations says which is which."""
    from benchmark.report.readme import tuning_said
    from benchmark.report.results import Results

    cells = pd.DataFrame({"cell_id": ["a", "b", "c"], "dataset": "ravdess",
                          "features": ["bank", "compare", "bank"],
                          "model": ["svm_linear", "svm_linear", "svm_rbf"],
                          "normalisation": "global"})
    folds = pd.DataFrame({"cell_id": ["a", "a", "b", "b", "c", "c"],
                          "n_trials": [11, 12, 0, 0, 0, 0]})
    said = tuning_said(Results(cells, folds, pd.DataFrame()))
    assert "bank svm_linear global (12)" in said and "compare" not in said
    assert "every other cell ran its model's fixed configuration" in said
    assert "no tuning" in tuning_said(Results(cells, folds.assign(n_trials=0), pd.DataFrame()))
    assert "Every cell was tuned" in tuning_said(Results(cells, folds.assign(n_trials=3),
                                                         pd.DataFrame()))


def test_latex_tables_say_n_a_and_move_constant_and_long_columns_to_the_caption():
    frame = pd.DataFrame({"dataset": ["ravdess", "ravdess"], "base": [np.nan, "bank"],
                          "budget": ["16 trials x 3 inner folds, pruned", "fixed"],
                          "uar": [0.61, np.nan], "p_holm": [0.0004, 0.5]})
    t = Table("t", "Caption.", frame, ("dataset", "base", "budget"), ("uar", "p_holm"))
    tex = to_latex(t)
    assert "nan" not in tex and "n/a" in tex and "$<$\\,0.001" in tex
    assert "Dataset: ravdess." in tex and "Budget: (a) 16 trials x 3 inner folds" in tex
    assert "Norm." not in tex and r"\toprule" in tex


def test_a_bank_variant_is_one_more_set_on_its_own_extraction(tmp_path, trained_smoke):
    """[bank_variants]: a variant's cells read the columns of a bank of its parameters,
    extracted once into a cache folder of its own, on the same rows and folds as the bank's
    cells, and the report compares the two like any two sets."""
    import json

    from features import FeatureBank, FeatureConfig
    from features.cache import Cache

    text = fixed_smoke("var", speaker_norm="[false]")
    text += '\n[bank_variants.mfcc8]\nn_mfcc = 8\ngroups = ["mfcc", "pitch"]\n'
    config = tmp_path / "var.toml"
    config.write_text(text)
    cfg = load_experiment(config, results_dir=str(tmp_path / "results"))
    summary = run(cfg, RunOptions(cache_dir=trained_smoke[1], n_jobs=2, progress=False))
    write_report("var", tmp_path / "results", with_figures=False)
    out = tmp_path / "results" / "var"
    cells = {m["cell"]["variant"]: m for m in (json.loads(p.read_text())
                                               for p in out.glob("folds/*/cell.json"))}
    variant = FeatureBank(cfg.bank_variants["mfcc8"])
    assert cells["mfcc8"]["columns"] == variant.feature_names != cells["bank"]["columns"]
    assert [c for c in variant.feature_names if c.startswith("mfcc_07_")] and not [
        c for c in variant.feature_names if c.startswith(("mfcc_08_", "zcr", "centroid"))]
    assert FeatureConfig.from_stored(cells["mfcc8"]["bank_config"]) == variant.config
    assert "bank_config" not in cells["bank"]
    assert cells["mfcc8"]["n_rows"] == cells["bank"]["n_rows"]
    assert cells["mfcc8"]["protocol"] == cells["bank"]["protocol"]
    spaces = Cache(trained_smoke[1]).stats().namespaces
    assert spaces[variant.cache_namespace()] == cells["mfcc8"]["n_rows"]
    assert set(summary["features"]) == {"bank", "mfcc8"}
    sets = pd.read_csv(out / "tables" / "feature_sets.csv")
    assert set(sets["features"]) == {"bank", "mfcc8"}


def test_adding_a_bank_variant_computes_only_its_cells(tmp_path, trained_smoke):
    """A variant added to an experiment that already ran is computed alone: every cell of the
    other sets keeps its id and resumes from its checkpoints."""
    import json

    text = fixed_smoke("grow")
    config = tmp_path / "grow.toml"
    opts = RunOptions(cache_dir=trained_smoke[1], n_jobs=2, progress=False)
    config.write_text(text)
    run(load_experiment(config, results_dir=str(tmp_path / "results")), opts)
    first = json.loads((tmp_path / "results" / "grow" / "run.json").read_text())
    config.write_text(text + '\n[bank_variants.mfcc8]\nn_mfcc = 8\n')
    summary = run(load_experiment(config, results_dir=str(tmp_path / "results")), opts)
    second = json.loads((tmp_path / "results" / "grow" / "run.json").read_text())
    assert set(summary["features"]) == {"bank", "mfcc8"}
    assert second["tasks_resumed"] == first["tasks_run"] > 0
    assert second["tasks_run"] == first["tasks_run"]  # the variant's cells, as many as bank's
