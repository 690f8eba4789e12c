"""Paired comparisons over outer folds, and bootstrap intervals over speakers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


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


def _paired_tables(cells: pd.DataFrame, folds: pd.DataFrame, within: tuple[str, ...],
                   across: str):
    """Per group of ``within`` columns: outer-fold UAR pivoted to one column per value of
    ``across``, and the mean train/test sizes the corrected t-test needs."""
    keyed = folds.merge(cells[["cell_id", "dataset", "features", "normalisation", "model"]],
                        on="cell_id")
    for key, grp in keyed.groupby(list(within), sort=True):
        table = grp.pivot(index="fold", columns=across, values="uar")
        sizes = grp.groupby("fold")[["n_train", "n_test"]].first().mean()
        yield dict(zip(within, key, strict=True)), table, sizes


def _compare(a: pd.Series, b: pd.Series, sizes: pd.Series) -> dict:
    """Paired statistics of fold scores ``a`` against ``b``."""
    d = a - b
    t, p_t = corrected_resampled_ttest(d, sizes["n_train"], sizes["n_test"])
    return {"diff": float(d.mean()), "wilcoxon_p": wilcoxon_p(a, b), "corrected_t": t,
            "corrected_t_p": p_t, "folds": len(d)}


def paired_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, features, normalisation): the best model by mean UAR against each other
    model, paired over the same outer folds."""
    rows = []
    for key, table, sizes in _paired_tables(cells, folds,
                                            ("dataset", "features", "normalisation"), "model"):
        if table.shape[1] < 2:
            continue
        means = table.mean().sort_values(ascending=False, kind="stable")
        best = means.index[0]
        for other in means.index[1:]:
            rows.append({**key, "best": best, "other": other, "uar_best": means[best],
                         "uar_other": means[other], **_compare(table[best], table[other],
                                                               sizes)})
    return pd.DataFrame(rows)


def variant_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model, normalisation): every feature variant (an ablation, or ``+aug``)
    against ``full``, paired over the same outer folds."""
    rows = []
    for key, table, sizes in _paired_tables(cells, folds,
                                            ("dataset", "model", "normalisation"), "features"):
        if "full" not in table or table.shape[1] < 2:
            continue
        for variant in sorted(c for c in table.columns if c != "full"):
            rows.append({**key, "variant": variant, "uar_variant": table[variant].mean(),
                         "uar_full": table["full"].mean(),
                         **_compare(table[variant], table["full"], sizes)})
    return pd.DataFrame(rows)
