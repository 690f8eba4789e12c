"""Paired comparisons over outer folds, and bootstrap intervals over speakers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.metrics import uar


def corrected_resampled_ttest(diffs, n_train: float, n_test: float) -> tuple[float, float]:
    """Nadeau & Bengio (2003) corrected resampled t-test, two-sided.

    The fold differences are not independent (training sets overlap), so the variance is
    inflated by ``n_test / n_train``: t = mean(d) / sqrt((1/k + n_test/n_train) var(d)),
    with k - 1 degrees of freedom. Nadeau & Bengio, Inference for the generalization error,
    Machine Learning 52 (2003), doi:10.1023/A:1024068626366. Returns (t, p); NaN when the
    differences have no variance or there is one fold.
    """
    d = np.asarray(diffs, dtype=float)
    k = d.size
    var = d.var(ddof=1) if k > 1 else 0.0
    if k < 2 or var == 0.0:
        return float("nan"), float("nan")
    t = d.mean() / np.sqrt((1.0 / k + n_test / n_train) * var)
    return float(t), float(2 * stats.t.sf(abs(t), k - 1))


def wilcoxon_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p over paired fold scores (NaN if all ties)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if np.allclose(d, 0):
        return float("nan")
    return float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)


def paired_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, features, normalisation): the best model by mean UAR against each other
    model, paired over the same outer folds."""
    rows = []
    keyed = folds.merge(cells[["cell_id", "dataset", "features", "normalisation", "model"]],
                        on="cell_id")
    for (dataset, feats, norm), grp in keyed.groupby(["dataset", "features", "normalisation"],
                                                     sort=True):
        table = grp.pivot(index="fold", columns="model", values="uar")
        if table.shape[1] < 2:
            continue
        means = table.mean().sort_values(ascending=False, kind="stable")
        best = means.index[0]
        sizes = grp.groupby("fold")[["n_train", "n_test"]].first().mean()
        for other in means.index[1:]:
            d = table[best] - table[other]
            t, p_t = corrected_resampled_ttest(d, sizes["n_train"], sizes["n_test"])
            rows.append({"dataset": dataset, "features": feats, "normalisation": norm,
                         "best": best, "other": other, "uar_best": means[best],
                         "uar_other": means[other], "diff": float(d.mean()),
                         "wilcoxon_p": wilcoxon_p(table[best], table[other]),
                         "corrected_t": t, "corrected_t_p": p_t, "folds": len(d)})
    return pd.DataFrame(rows)


def variant_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model, normalisation): every feature variant (an ablation, or ``+aug``)
    against ``full``, paired over the same outer folds."""
    rows = []
    keyed = folds.merge(cells[["cell_id", "dataset", "features", "normalisation", "model"]],
                        on="cell_id")
    for (dataset, model, norm), grp in keyed.groupby(["dataset", "model", "normalisation"],
                                                     sort=True):
        table = grp.pivot(index="fold", columns="features", values="uar")
        if "full" not in table or table.shape[1] < 2:
            continue
        sizes = grp.groupby("fold")[["n_train", "n_test"]].first().mean()
        for variant in sorted(c for c in table.columns if c != "full"):
            d = table[variant] - table["full"]
            _, p_t = corrected_resampled_ttest(d, sizes["n_train"], sizes["n_test"])
            rows.append({"dataset": dataset, "model": model, "normalisation": norm,
                         "variant": variant, "uar_variant": table[variant].mean(),
                         "uar_full": table["full"].mean(), "diff": float(d.mean()),
                         "wilcoxon_p": wilcoxon_p(table[variant], table["full"]),
                         "corrected_t_p": p_t, "folds": len(d)})
    return pd.DataFrame(rows)


def bootstrap_uar_ci(predictions: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of pooled UAR, resampling *speakers* with replacement (a speaker's
    recordings are not independent of each other)."""
    rng = np.random.default_rng(seed)
    speakers = np.array(sorted(predictions["speaker"].unique()))
    groups = {s: g for s, g in predictions.groupby("speaker")}
    values = []
    for _ in range(n_boot):
        pick = rng.choice(speakers, size=speakers.size, replace=True)
        sample = pd.concat([groups[s] for s in pick])
        values.append(uar(sample["true"], sample["pred"]))
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
