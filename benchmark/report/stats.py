"""Paired comparisons over outer folds, and bootstrap intervals over speakers.

The primary test is the corrected resampled t-test (Nadeau & Bengio 2003): it accounts for
the overlap of cross-validation training sets, and it can reject with few folds, though not
with fewer than :data:`MIN_FOLDS`. The exact
Wilcoxon signed-rank test cannot go below 2 / 2^k with k folds (0.125 with 4), so it is shown
only where that floor is under :data:`ALPHA`. Every table's p-values are Holm-adjusted over
the whole family the table prints, and a verdict says "won" only where that adjusted p of the
primary test is under :data:`ALPHA`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.metrics import MIN_SPEAKERS

#: Fewest paired folds the t-test is run on. With two, its one degree of freedom rests on a
#: single difference of differences: two folds that happen to differ by the same count of
#: files give a variance of rounding error and a p of 1e-12 (RAVDESS across gender, two
#: folds: "won" by 0.005 with a 95 % interval from -0.008 to +0.018).
MIN_FOLDS = 3


def corrected_resampled_ttest(diffs, n_train: float, n_test: float) -> tuple[float, float]:
    """Nadeau & Bengio (2003) corrected resampled t-test, two-sided.

    The fold differences are not independent (training sets overlap), so the variance is
    inflated by ``n_test / n_train``: t = mean(d) / sqrt((1/k + n_test/n_train) var(d)),
    with k - 1 degrees of freedom. Nadeau & Bengio, Inference for the generalization error,
    Machine Learning 52 (2003), doi:10.1023/A:1024068626366. Returns (t, p); NaN with fewer
    than :data:`MIN_FOLDS` folds, or when every fold differs by the same amount (to
    rounding): there is then no variance to test against.
    """
    d = np.asarray(diffs, dtype=float)
    k = d.size
    if k < MIN_FOLDS or np.allclose(d, d[0], rtol=1e-9, atol=1e-12):
        return float("nan"), float("nan")
    var = d.var(ddof=1)
    t = d.mean() / np.sqrt((1.0 / k + n_test / n_train) * var)
    return float(t), float(2 * stats.t.sf(abs(t), k - 1))


ALPHA = 0.05


def wilcoxon_floor(k: int) -> float:
    """The smallest two-sided p the exact Wilcoxon signed-rank test can give with ``k`` paired
    folds: 2 / 2^k, when every difference has the same sign."""
    return 2.0 / 2.0 ** k if k > 0 else 1.0


def verdict(p_holm: float, rejected: str = "won") -> str:
    """``rejected`` (``won`` for a pair oriented best first) where the primary test,
    Holm-adjusted, rejects at :data:`ALPHA`; ``tied`` otherwise; ``untested`` where no test
    was possible (too few folds or speakers)."""
    if not np.isfinite(p_holm):
        return "untested"
    return rejected if p_holm < ALPHA else "tied"


def wilcoxon_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p over paired fold scores (NaN if all ties)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if np.allclose(d, 0):
        return float("nan")
    return float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)


def paired_tables(cells: pd.DataFrame, folds: pd.DataFrame, within: tuple[str, ...],
                   across: str):
    """Per group of ``within`` columns: outer-fold UAR pivoted to one column per value of
    ``across``, and the mean train/test sizes the corrected t-test needs (with the fewest
    test speakers of the group's cells, ``n_speakers``)."""
    keyed = folds.merge(cells[["cell_id", "dataset", "features", "normalisation", "model",
                               "n_speakers"]], on="cell_id")
    for key, grp in keyed.groupby(list(within), sort=True):
        table = grp.pivot(index="fold", columns=across, values="uar")
        sizes = grp.groupby("fold")[["n_train", "n_test"]].first().mean()
        sizes["n_speakers"] = grp["n_speakers"].min()
        yield dict(zip(within, key, strict=True)), table, sizes


def paired_test(a: pd.Series, b: pd.Series, sizes: pd.Series) -> dict:
    """Paired statistics of fold scores ``a`` against ``b``: the mean difference, the primary
    test (corrected resampled t), the number of folds ``k`` and the Wilcoxon floor for that
    ``k``; the Wilcoxon p itself only where that floor is under :data:`ALPHA` (NaN: too few
    folds for this test). No test at all with fewer than ``MIN_SPEAKERS`` test speakers
    (``sizes["n_speakers"]``)."""
    d = a - b
    k = len(d)
    floor = wilcoxon_floor(k)
    out = {"diff": float(d.mean()), "corrected_t": float("nan"), "corrected_t_p": float("nan"),
           "k": k, "wilcoxon_p": float("nan"), "wilcoxon_min_p": floor}
    if sizes.get("n_speakers", MIN_SPEAKERS) < MIN_SPEAKERS:
        return out  # a test over 2 or 3 speakers says nothing about the next speaker
    out["corrected_t"], out["corrected_t_p"] = corrected_resampled_ttest(
        d, sizes["n_train"], sizes["n_test"])
    if floor < ALPHA:
        out["wilcoxon_p"] = wilcoxon_p(a, b)
    return out


def paired_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, features, normalisation): the best model by mean UAR against each other
    model, paired over the same outer folds."""
    rows = []
    for key, table, sizes in paired_tables(cells, folds,
                                            ("dataset", "features", "normalisation"), "model"):
        if table.shape[1] < 2:
            continue
        means = table.mean().sort_values(ascending=False, kind="stable")
        best = means.index[0]
        for other in means.index[1:]:
            rows.append({**key, "best": best, "other": other, "uar_best": means[best],
                         "uar_other": means[other], **paired_test(table[best], table[other],
                                                               sizes)})
    return with_holm(pd.DataFrame(rows))


def variant_comparisons(cells: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """Every cell that has a ``base`` (an ablation: the bank; a ``+aug`` cell: its set
    without augmentation) against that base, same dataset, model and normalisation, paired
    over the same outer folds."""
    rows = []
    for key, table, sizes in paired_tables(cells, folds,
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
                         **paired_test(a, b, sizes)})
    return with_holm(pd.DataFrame(rows), rejected="differs")  # a variant is not a rival


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


def with_holm(frame: pd.DataFrame, rejected: str = "won") -> pd.DataFrame:
    """``frame`` with ``p_holm``: its primary-test p-values Holm-adjusted over every row (the
    family is the whole table), and each row's ``verdict`` (see :func:`verdict`)."""
    if frame.empty:
        return frame
    frame = frame.copy()
    frame["p_holm"] = holm(frame["corrected_t_p"])
    frame["verdict"] = [verdict(p, rejected) for p in frame["p_holm"]]
    return frame


def tested(frame: pd.DataFrame) -> int:
    """How many rows of a comparison table had a primary test: the size of its Holm family."""
    return int(frame["corrected_t_p"].notna().sum())
