"""Feature-set comparisons: like for like, verdicts the primary test carries, honest intervals.

Built on synthetic stored results (predictions of known accuracy per speaker), so every
expected number is known without running an experiment.
"""

import numpy as np
import pandas as pd
import pytest

from benchmark.metrics import MIN_SPEAKERS, paired_bootstrap_ci, speaker_confusions
from benchmark.report import comparisons
from benchmark.report.readme import opening
from benchmark.report.results import Results, budget
from benchmark.report.stats import wilcoxon_floor

CLASSES = ["angry", "happy", "sad"]


def _results(accuracy: dict[str, float], n_speakers: int = 12, per_class: int = 20,
             budgets: dict[str, str] | None = None, seed: int = 0) -> Results:
    """LOSO results of one model on ``synth``: set ``s`` predicts each file right with
    probability ``accuracy[s]`` (its errors spread over the other classes), speaker by
    speaker; the folds' UAR are computed from those predictions as a run would."""
    rng = np.random.default_rng(seed)
    cells, folds, preds = [], [], []
    codes = np.repeat(np.arange(len(CLASSES)), per_class)
    truth = np.asarray(CLASSES)[codes]
    for features, acc in accuracy.items():
        cell_id = f"synth__{features}__svm_linear"
        cells.append({"cell_id": cell_id, "dataset": "synth", "features": features,
                      "model": "svm_linear", "normalisation": "global", "protocol": "loso",
                      "speaker_dependent": False, "n_folds": n_speakers, "n_features": 10,
                      "classes": CLASSES, "role": "set", "base": None, "augmented": False,
                      "feature_set": features,
                      "budget": (budgets or {}).get(features, "16 trials on 3 inner folds"),
                      "n_speakers": n_speakers})
        for s in range(n_speakers):
            right = rng.random(truth.size) < acc
            wrong = (codes + rng.integers(1, len(CLASSES), truth.size)) % len(CLASSES)
            pred = np.asarray(CLASSES)[np.where(right, codes, wrong)]
            recall = [np.mean(pred[truth == c] == c) for c in CLASSES]
            fold = f"fold{s:02d}"
            folds.append({"cell_id": cell_id, "fold": fold, "uar": float(np.mean(recall)),
                          "n_train": per_class * 3 * (n_speakers - 1), "n_test": truth.size})
            preds += [{"cell_id": cell_id, "fold": fold, "path": f"s{s}/{i}.wav",
                       "speaker": f"synth:{s:02d}", "true": t, "pred": p}
                      for i, (t, p) in enumerate(zip(truth, pred, strict=True))]
    return Results(pd.DataFrame(cells), pd.DataFrame(folds), pd.DataFrame(preds))


def test_a_clear_difference_is_won_and_a_small_one_tied(tmp_path):
    pairs, unequal = comparisons.set_pairs(_results({"bank": 0.80, "compare": 0.50,
                                                     "egemaps": 0.505}))
    assert not unequal
    by = {(r.a, r.b): r for r in pairs.itertuples()}
    assert by[("bank", "compare")].verdict == "won"
    assert by[("bank", "compare")].p_holm < 0.05
    tied = by[("egemaps", "compare")] if ("egemaps", "compare") in by else by[
        ("compare", "egemaps")]
    assert tied.verdict == "tied" and tied.p_holm >= 0.05
    said = " ".join(comparisons.verdicts(_results({"bank": 0.80, "compare": 0.50,
                                                   "egemaps": 0.505})))
    assert "bank beat compare with svm_linear (global)" in said
    assert "compare beat egemaps" not in said and "egemaps beat compare" not in said
    assert "tied" in said


def test_a_tie_is_said_as_a_tie_with_its_difference_and_interval():
    res = _results({"bank": 0.60, "compare": 0.60})
    pairs, _ = comparisons.set_pairs(res)
    row = pairs.iloc[0]
    assert row.verdict == "tied" and row.p_holm >= 0.05
    said = opening(res)
    assert "every pair tied" in said and f"Δ = {row['diff']:+.3f}" in said
    assert f"[{row['diff_ci_low']:+.3f}, {row['diff_ci_high']:+.3f}]" in said
    assert "won" not in said.replace("not a verdict", "")


def test_unequal_budgets_are_named_in_the_caption_and_the_sentence_and_not_compared(tmp_path):
    res = _results({"bank": 0.8, "compare": 0.5, "egemaps": 0.5},
                   budgets={"compare": "fixed"})
    pairs, unequal = comparisons.set_pairs(res)
    assert set(map(tuple, pairs[["a", "b"]].to_numpy())) == {("bank", "egemaps")}
    assert len(unequal) == 2
    table = comparisons.pairs_table(res)
    assert ("Not compared, unequal budgets: bank (16 trials on 3 inner folds) and compare "
            "(fixed) with svm_linear, global, on synth") in table.caption
    assert "Not compared, because their tuning budgets differ: bank (16 trials" in opening(res)
    shown = comparisons.feature_set_table(res, tmp_path)
    assert set(shown.frame["budget"]) == {"fixed", "16 trials on 3 inner folds"}


@pytest.mark.parametrize("k", [2, 4, 5, 6, 12])
def test_the_wilcoxon_floor_is_2_over_2_to_the_k_and_the_test_is_shown_only_below_alpha(k):
    assert wilcoxon_floor(k) == pytest.approx(2 / 2**k)
    pairs, _ = comparisons.set_pairs(_results({"bank": 0.9, "compare": 0.4}, n_speakers=k))
    row = pairs.iloc[0]
    assert row.k == k and row.wilcoxon_min_p == pytest.approx(2 / 2**k)
    if k < MIN_SPEAKERS:
        assert np.isnan(row.corrected_t_p) and row.verdict == "untested"
    if 2 / 2**k >= 0.05:  # too few folds for this test: no Wilcoxon p at all
        assert np.isnan(row.wilcoxon_p)
    else:  # every fold favours bank: the exact test reaches its floor
        assert row.wilcoxon_p == pytest.approx(2 / 2**k)


def test_two_speakers_get_no_interval_and_no_test():
    res = _results({"bank": 0.9, "compare": 0.4}, n_speakers=2)
    pairs, _ = comparisons.set_pairs(res)
    assert np.isnan(pairs.iloc[0].diff_ci_low) and np.isnan(pairs.iloc[0].p_holm)
    assert "2 test speakers: no interval or test is possible" in opening(res)


def test_the_paired_difference_interval_covers_the_true_difference():
    """Many draws of speakers whose recall is known: the pooled UAR difference's true value
    (0.15) lies inside the paired bootstrap CI in about 95 % of them, and the paired interval
    is narrower than the difference of two independent ones would suggest."""
    covered = []
    for seed in range(40):
        res = _results({"a": 0.70, "b": 0.55}, n_speakers=16, seed=seed)
        conf = {s: speaker_confusions(res.predictions[res.predictions["cell_id"] ==
                                                      f"synth__{s}__svm_linear"], CLASSES)[0]
                for s in ("a", "b")}
        lo, hi = paired_bootstrap_ci(conf["a"], conf["b"], n_boot=500, seed=seed)
        covered.append(lo <= 0.15 <= hi)
    assert np.mean(covered) >= 0.85


def test_a_cells_budget_is_read_from_the_resolved_config_model_then_set():
    config = {"protocol": {"inner_k": 3},
              "tuning": {"n_trials": 0, "select_percentiles": [], "pruning": True,
                         "inner_k": None,
                         "per_model": {"svm_linear": {"n_trials": 16,
                                                      "select_percentiles": [25, 100]}},
                         "per_set": {"compare": {"n_trials": 0}}}}
    assert budget(config, "svm_rbf", "bank") == "fixed"
    assert budget(config, "svm_linear", "bank") == (
        "16 trials on 3 inner folds, selection 25/100 %, pruned")
    assert budget(config, "svm_linear", "compare") == "fixed"
