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
    """Every cell that has a ``base`` (an ablation: the bank; a ``+aug`` cell: its set
    without augmentation) against that base, same dataset, model and normalisation, paired
    over the same outer folds."""
    rows = []
    for key, table, sizes in _paired_tables(cells, folds,
                                            ("dataset", "model", "normalisation"), "features"):
        sub = cells[(cells["dataset"] == key["dataset"]) & (cells["model"] == key["model"])
                    & (cells["normalisation"] == key["normalisation"])]
        for _, c in sub.sort_values("features").iterrows():
            base = c.get("base")
            if not isinstance(base, str) or base not in table or c["features"] not in table:
                continue
            a, b = table[c["features"]], table[base]
            rows.append({**key, "variant": c["features"], "base": base,
                         "uar_variant": a.mean(), "uar_base": b.mean(),
                         **_compare(a, b, sizes)})
    return pd.DataFrame(rows)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons (NaN stays NaN).

    Holm, A simple sequentially rejective multiple test procedure, Scand. J. Statistics 6
    (1979). The i-th smallest of m p-values is multiplied by (m - i + 1), then made monotone.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m, running = len(order), 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def set_comparisons(best: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, normalisation): each feature set's best cell against the best set's
    best cell, paired over the same outer folds, p-values Holm-adjusted across the sets.

    ``best``: one row per (dataset, normalisation, features) with its best ``cell_id``.
    """
    rows = []
    for (dataset, norm), grp in best.groupby(["dataset", "normalisation"], sort=True):
        uars = {r.features: folds[folds["cell_id"] == r.cell_id].set_index("fold")["uar"]
                for r in grp.itertuples()}
        sizes = folds[folds["cell_id"].isin(grp["cell_id"])][["n_train", "n_test"]].mean()
        winner = max(uars, key=lambda k: (uars[k].mean(), k))
        out = []
        for name, u in uars.items():
            row = {"dataset": dataset, "normalisation": norm, "features": name,
                   "best_set": winner}
            if name == winner:
                row.update({"diff": 0.0, "wilcoxon_p": np.nan, "corrected_t_p": np.nan})
            else:
                a, b = u.align(uars[winner], join="inner")
                row.update(_compare(a, b, sizes))
            out.append(row)
        frame = pd.DataFrame(out)
        frame["wilcoxon_p_holm"] = holm(frame["wilcoxon_p"])
        frame["corrected_t_p_holm"] = holm(frame["corrected_t_p"])
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
