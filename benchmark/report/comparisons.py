"""Feature sets compared like for like: per model and normalisation, on the same folds.

A comparison of two sets is only made between cells that differ in the feature set alone:
same dataset, model, normalisation and tuning budget. Nothing is chosen on the outer test
folds first (no "best model per set" before the test): every (model, normalisation) is its own
paired comparison, and the family of all of them in a table is Holm-adjusted together. Cells
of unequal budgets are not compared, and the report names them.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.metrics import (
    MIN_SPEAKERS,
    N_BOOT,
    bootstrap_ci,
    paired_bootstrap_ci,
    speaker_confusions,
)
from benchmark.report import stats
from benchmark.report.results import Results, primary, protocols_said
from benchmark.report.stats import tested
from benchmark.report.tables import Table

AXES = ["dataset", "normalisation", "model"]


def _feature_cells(res: Results) -> pd.DataFrame:
    cells = primary(res)
    return cells[cells["features"] != "logmel"]  # the CNN reads audio, not a feature set


def _confusions(res: Results, cell: pd.Series) -> np.ndarray:
    preds = res.predictions[res.predictions["cell_id"] == cell["cell_id"]]
    return speaker_confusions(preds, cell["classes"])[0]


def set_pairs(res: Results) -> tuple[pd.DataFrame, list[str]]:
    """Every pair of feature sets within each (dataset, normalisation, model), paired over the
    same outer folds, oriented so that ``a`` has the higher mean (``diff`` >= 0): the mean
    difference, the speaker-bootstrap CI of the pooled-UAR difference, the primary test with
    ``k``, Wilcoxon where it can reject, and Holm over the whole frame.

    Returns the frame and, in words, the pairs left out because their budgets differ.
    """
    cells = _feature_cells(res)
    rows = []
    for key, table, sizes in stats.paired_tables(cells, res.folds, tuple(AXES), "features"):
        by_set = cells[(cells[AXES] == pd.Series(key)).all(axis=1)].set_index("features")
        for x, y in itertools.combinations(sorted(by_set.index), 2):
            if by_set.loc[x, "budget"] != by_set.loc[y, "budget"]:
                continue
            a, b = (x, y) if table[x].mean() >= table[y].mean() else (y, x)
            lo, hi = paired_bootstrap_ci(_confusions(res, by_set.loc[a]),
                                         _confusions(res, by_set.loc[b]))
            rows.append({**key, "a": a, "b": b,
                         "budget": by_set.loc[a, "budget"], "uar_a": table[a].mean(),
                         "uar_b": table[b].mean(), **stats.paired_test(table[a], table[b], sizes),
                         "diff_ci_low": lo, "diff_ci_high": hi,
                         "n_speakers": int(sizes["n_speakers"])})
    return stats.with_holm(pd.DataFrame(rows)), unequal_budgets(cells)


def unequal_budgets(cells: pd.DataFrame) -> list[str]:
    """In words, every pair of feature sets that the same model and normalisation ran with
    different tuning budgets (cells not compared like for like), for captions and sentences."""
    said = []
    for key, grp in cells.groupby(AXES, sort=True):
        by_set = grp.set_index("features")["budget"]
        said += [f"{x} ({by_set[x]}) and {y} ({by_set[y]}) with {key[2]}, {key[1]}, "
                 f"on {key[0]}" for x, y in itertools.combinations(sorted(by_set.index), 2)
                 if by_set[x] != by_set[y]]
    return said


def feature_set_table(res: Results, out: Path) -> Table | None:
    """Each feature set per (dataset, normalisation, model): size, extraction speed, the
    cell's budget, UAR mean ± std over outer folds and the 95 % speaker-bootstrap CI of the
    pooled UAR. No row is a "best model": every model is shown."""
    cells = _feature_cells(res)
    if cells.empty or cells["features"].nunique() < 2:
        return None
    agg = res.folds.groupby("cell_id")["uar"].agg(["mean", "std"])
    rows = []
    for _, c in cells.sort_values([*AXES, "features"]).iterrows():
        lo, hi = bootstrap_ci(_confusions(res, c))
        rows.append({**{k: c[k] for k in AXES}, "features": c["features"],
                     "n_features": int(c["n_features"]),
                     "files_per_s": _throughput(out, c["dataset"], c["features"], res),
                     "budget": c["budget"], "uar": agg.loc[c["cell_id"], "mean"],
                     "uar_std": agg.loc[c["cell_id"], "std"], "ci_low": lo, "ci_high": hi})
    frame = pd.DataFrame(rows)
    caption = ("Feature sets per model and normalisation, on the same folds and files: number "
               "of features, extraction throughput in this run (files/s, cold cache, n/a where "
               "the cache was warm), the tuning budget of each cell, UAR mean ± std over outer "
               f"folds and the 95 % CI of the pooled UAR ({N_BOOT} speaker resamples; n/a with "
               f"fewer than {MIN_SPEAKERS} test speakers). Paired tests between sets: "
               "tables/feature_set_pairs. " + protocols_said(cells) + ".")
    return Table("feature_sets", caption, frame,
                 ("dataset", "normalisation", "model", "features", "n_features", "files_per_s",
                  "budget"), ("uar", "ci_low", "ci_high"), bold_best=False)


def pairs_table(res: Results, compared: tuple | None = None) -> Table | None:
    """``compared``: :func:`set_pairs` of ``res``, when the caller has it already."""
    pairs, unequal = compared or set_pairs(res)
    if pairs.empty:
        return None
    frame = pairs[[*AXES, "a", "b", "budget", "diff", "diff_ci_low", "diff_ci_high", "k",
                   "corrected_t_p", "p_holm", "wilcoxon_p", "wilcoxon_min_p", "verdict"]]
    caption = (
        "Every pair of feature sets with the same model, normalisation and tuning budget, "
        "paired over the same outer folds; a is the set with the higher mean. diff: mean UAR "
        "difference a - b over the k folds; its 95 % CI: paired speaker bootstrap of the pooled "
        f"UAR difference ({N_BOOT} resamples, the same speakers drawn for both sets). Primary "
        "test: the corrected resampled t-test (Nadeau & Bengio 2003), two-sided, p_holm "
        f"Holm-adjusted over the {tested(frame)} tested rows of this table; verdict: won "
        f"where p_holm < {stats.ALPHA}, else tied. Wilcoxon signed-rank p is shown only where "
        f"its floor with k folds (wilcoxon_min_p = 2/2^k) is under {stats.ALPHA}. No test or "
        "interval with "
        f"fewer than {MIN_SPEAKERS} test speakers. " + protocols_said(res.cells) + ".")
    if unequal:
        caption += " Not compared, unequal budgets: " + "; ".join(unequal) + "."
    return Table("feature_set_pairs", caption, frame.reset_index(drop=True),
                 (*AXES, "a", "b", "budget", "k"),
                 ("diff", "diff_ci_low", "diff_ci_high", "corrected_t_p", "p_holm",
                  "wilcoxon_p", "wilcoxon_min_p"), bold_best=False,
                 paper=("diff", "diff_ci_low", "diff_ci_high", "p_holm"))


def _interval(r) -> str:
    if np.isnan(r["diff_ci_low"]):
        return ""
    return f" [{r['diff_ci_low']:+.3f}, {r['diff_ci_high']:+.3f}]"


def verdicts(res: Results, compared: tuple | None = None) -> list[str]:
    """Sentences on the feature-set comparison, one per dataset: the pairs the primary test
    (after Holm over the whole table) says differ, and how close the tied ones are.
    ``compared``: :func:`set_pairs` of ``res``, when the caller has it already."""
    pairs, unequal = compared or set_pairs(res)
    said = []
    for dataset, grp in (pairs.groupby("dataset", sort=True) if not pairs.empty else []):
        n_spk = int(grp["n_speakers"].min())
        if n_spk < MIN_SPEAKERS:
            said.append(f"On {dataset}, {n_spk} test speakers: no interval or test is "
                        "possible, so no feature set is said to beat another.")
            continue
        won = grp[grp["verdict"] == "won"]
        tied = grp[grp["verdict"] == "tied"]
        parts = [f"{r.a} beat {r.b} with {r.model} ({r.normalisation}): "
                 f"Δ = {r.diff:+.3f}{_interval(r._asdict())}, p (Holm) = {r.p_holm:.3g}"
                 for r in won.itertuples()]
        family = (f", corrected resampled t-test, Holm over the {tested(pairs)} tested pairs "
                  "of the table" if tested(pairs) else "")
        head = (f"On {dataset}, feature sets compared per model with equal budgets "
                f"({len(grp)} pairs{family}): ")
        if parts:
            text = head + "; ".join(parts)
            if len(tied):
                text += (f"; the other {len(tied)} pairs tied (|Δ| ≤ "
                         f"{tied['diff'].abs().max():.3f}, p (Holm) ≥ "
                         f"{tied['p_holm'].min():.2g})")
        elif len(tied):
            w = tied.loc[tied["diff"].abs().idxmax()]
            text = (head + f"every pair tied (p (Holm) ≥ {tied['p_holm'].min():.2g}); the "
                    f"largest difference, {w['a']} over {w['b']} with {w['model']} "
                    f"({w['normalisation']}), is Δ = {w['diff']:+.3f}{_interval(w)} at "
                    f"p (Holm) = {w['p_holm']:.2g}")
        else:  # one outer fold (cross-corpus): intervals over speakers, no test over folds
            w = grp.loc[grp["diff"].abs().idxmax()]
            text = (head + f"no pair could be tested with k = {int(grp['k'].max())} fold(s), so "
                    f"none is said to win; the largest difference, {w['a']} over {w['b']} with "
                    f"{w['model']} ({w['normalisation']}), is Δ = {w['diff']:+.3f}"
                    f"{_interval(w)}")
        said.append(text + ".")
    if unequal:
        said.append("Not compared, because their tuning budgets differ: "
                    + "; ".join(unequal) + ".")
    return said


def _throughput(out: Path, dataset: str, features: str, res: Results) -> float:
    """Files/s of a set's extraction (its extractors' seconds added up), from the run's
    ``extraction.json``; NaN when not measured (every file was cached)."""
    path = out / "extraction.json"
    cells = res.cells[res.cells["features"] == features]
    if not path.exists() or cells.empty:
        return float("nan")
    timing = json.loads(path.read_text())
    spaces = _set_spaces(out, cells.iloc[0]["cell_id"])
    total, files = 0.0, None
    for corpus in dataset.replace("->", "+").split("+"):
        for space in spaces:
            t = timing.get(corpus, {}).get(space)
            if t is None or not t["computed"]:
                return float("nan")
            total += t["seconds"] * t["files"] / t["computed"]
        files = (files or 0) + next(iter(timing[corpus].values()))["files"]
    return round(files / total, 1) if total else float("nan")


def _set_spaces(out: Path, cell_id: str) -> list[str]:
    """The cache folders (extractors) of a cell's feature set."""
    from features import FeatureConfig
    from features.sets import feature_set

    meta = json.loads((out / "folds" / cell_id / "cell.json").read_text())
    config = meta.get("bank_config") or json.loads(
        (out / "config.resolved.json").read_text())["features"]  # a bank variant's own
    fs = feature_set(meta["feature_set"], FeatureConfig.from_stored(config))
    try:
        return list(dict.fromkeys(p.extractor.cache_namespace() for p in fs.parts))
    except FileNotFoundError:  # an imported table not on this machine: no timing to show
        return []
