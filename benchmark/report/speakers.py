"""Who the models fail: every cell's UAR per test speaker and per gender, from the stored
predictions (nothing is refitted).

A mean over speakers hides who pays for it. Per speaker: the UAR of each test speaker's
files (in leave-one-speaker-out, exactly the fold's score), the worst speaker and the 10th
percentile beside the mean. Per gender: the pooled UAR of each gender's test files with a
bootstrap over that gender's speakers, and the gap between genders with a permutation test
over speakers (the genders' speakers are different people, so the test permutes the gender
labels of the speakers; the family of all cells is Holm-adjusted). Speakers of unknown gender
are left out of the gender tables and counted in their captions; a dataset with no gender at
all gets one line instead of a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import metrics
from benchmark.datasets import SPEAKERS, speaker_table
from benchmark.metrics import MIN_SPEAKERS, N_BOOT, speaker_confusions
from benchmark.report import stats
from benchmark.report.results import Results, primary
from benchmark.report.tables import Table

GENDERS = ("female", "male")
N_PERM = 4000


# -- who each speaker is ---------------------------------------------------------------------
def speaker_genders(out: Path, data_root: str | Path | None = None) -> pd.Series:
    """Speaker -> gender (``unknown`` where the corpus does not say), from the run's
    ``speakers.csv``. Results written before the run kept it get it from their corpora's
    metadata under the data root (names and headers only, no audio decoded), written then
    so the next report needs no data; empty when neither is there."""
    path = out / SPEAKERS
    if not path.exists():
        table = _from_corpora(out, data_root)
        if table is None:
            return pd.Series(dtype=str)
        table.to_csv(path, index=False, lineterminator="\n")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table.set_index("speaker")["gender"]


def _from_corpora(out: Path, data_root) -> pd.DataFrame | None:
    from benchmark.corpora import open_corpus

    data = out / "data.json"
    if not data.exists():
        return None
    tables = {}
    for corpus in sorted(json.loads(data.read_text())):
        try:
            scan = open_corpus(corpus, data_root).scan(check_audio=False)
        except (FileNotFoundError, KeyError, ValueError):
            return None
        tables[corpus] = scan.manifest
    return speaker_table(tables)


# -- per speaker -----------------------------------------------------------------------------
def speaker_uars(res: Results) -> pd.DataFrame:
    """One row per (cell, test speaker): files scored and UAR of that speaker's files."""
    p = res.predictions
    rows = [{"cell_id": cid, "speaker": spk, "n_test": len(g),
             "uar": metrics.uar(g["true"], g["pred"])}
            for (cid, spk), g in p.groupby(["cell_id", "speaker"], sort=True)]
    return pd.DataFrame(rows, columns=["cell_id", "speaker", "n_test", "uar"])


def _cells(res: Results) -> pd.DataFrame:
    cells = primary(res)
    return cells[cells["role"] == "set"].sort_values(
        ["dataset", "normalisation", "model", "features"])


def worst_speakers(res: Results, uars: pd.DataFrame) -> Table:
    """Per cell: the mean of its speakers' UARs, the 10th percentile and the worst speaker."""
    rows = []
    for _, c in _cells(res).iterrows():
        u = uars[uars["cell_id"] == c["cell_id"]].set_index("speaker")["uar"]
        worst = u.idxmin()
        rows.append({"dataset": c["dataset"], "features": c["features"], "model": c["model"],
                     "normalisation": c["normalisation"], "speakers": len(u),
                     "mean": u.mean(), "p10": float(np.quantile(u, 0.1)),
                     "worst": u.min(), "worst_speaker": worst.split(":", 1)[-1]})
    frame = pd.DataFrame(rows)
    return Table("speakers", "Per test speaker: the mean of the speakers' UARs, the 10th "
                 "percentile and the worst speaker (its UAR and id), per cell. "
                 "Every speaker's UAR per cell is in speakers_long.csv.", frame,
                 ("dataset", "features", "model", "normalisation", "speakers"),
                 ("mean", "p10", "worst", "worst_speaker"), bold_best=False)


# -- per gender ------------------------------------------------------------------------------
def gender_gap(conf: np.ndarray, female: np.ndarray, n_perm: int = N_PERM, n_boot: int = N_BOOT,
               seed: int = 0) -> dict:
    """Pooled UAR of each gender's speakers, their 95% speaker-bootstrap CIs, the gap
    (female - male) with a CI from resampling the speakers within each gender, and the
    two-sided permutation p-value of the gap (gender labels permuted over speakers).

    ``conf``: per-speaker confusions (S, K, K); ``female``: (S,) bool, True for female
    speakers, every other row male. NaN where a gender has fewer than :data:`MIN_SPEAKERS`.
    """
    f, m = conf[female], conf[~female]
    out = {"n_female": int(female.sum()), "n_male": int((~female).sum()),
           "uar_female": metrics.pooled_uar(f) if len(f) else np.nan,
           "uar_male": metrics.pooled_uar(m) if len(m) else np.nan}
    lo_f, hi_f = metrics.bootstrap_ci(f, n_boot, seed) if len(f) else (np.nan, np.nan)
    lo_m, hi_m = metrics.bootstrap_ci(m, n_boot, seed + 1) if len(m) else (np.nan, np.nan)
    out.update({"female_ci_low": lo_f, "female_ci_high": hi_f, "male_ci_low": lo_m,
                "male_ci_high": hi_m, "gap": out["uar_female"] - out["uar_male"],
                "gap_ci_low": np.nan, "gap_ci_high": np.nan, "p_perm": np.nan})
    if min(len(f), len(m)) < MIN_SPEAKERS:
        return out
    rng = np.random.default_rng(seed)
    boot_f = metrics.weighted_uars(f, metrics.resample_counts(rng, len(f), n_boot))
    boot_m = metrics.weighted_uars(m, metrics.resample_counts(rng, len(m), n_boot))
    out["gap_ci_low"], out["gap_ci_high"] = np.quantile(boot_f - boot_m, [0.025, 0.975])
    perms = np.stack([rng.permutation(female) for _ in range(n_perm)]).astype(float)
    null = metrics.weighted_uars(conf, perms) - metrics.weighted_uars(conf, 1 - perms)
    out["p_perm"] = float((1 + np.sum(np.abs(null) >= abs(out["gap"]) - 1e-12))
                          / (n_perm + 1))
    return out


def _genders_of(speakers: list[str], genders: pd.Series) -> np.ndarray:
    return np.array([genders.get(s, "unknown") for s in speakers])


def gender_rows(res: Results, genders: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """Per cell with both genders among its test speakers: :func:`gender_gap`, Holm over the
    frame; and the one-line notes of datasets that cannot have the table."""
    rows, notes = [], []
    cells = _cells(res)
    for dataset, grp in cells.groupby("dataset", sort=True):
        some = res.predictions[res.predictions["cell_id"] == grp.iloc[0]["cell_id"]]
        g = _genders_of(sorted(some["speaker"].unique()), genders)
        known = np.isin(g, GENDERS)
        if not known.any():
            notes.append(f"{dataset}: no speaker's gender is known, so there is no "
                         "per-gender table.")
            continue
        if len(set(g[known])) < 2:
            notes.append(f"{dataset}: every speaker of known gender is {g[known][0]}, so "
                         "there is no gap to measure.")
            continue
        for _, c in grp.iterrows():
            preds = res.predictions[res.predictions["cell_id"] == c["cell_id"]]
            conf, spk = speaker_confusions(preds, c["classes"])
            cg = _genders_of(spk, genders)
            keep = np.isin(cg, GENDERS)
            rows.append({"dataset": dataset, "features": c["features"], "model": c["model"],
                         "normalisation": c["normalisation"],
                         "unknown_gender": int((~keep).sum()),
                         **gender_gap(conf[keep], cg[keep] == "female")})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["corrected_t_p"] = frame["p_perm"]  # the family's test, for with_holm
        frame = stats.with_holm(frame, rejected="differs").drop(columns="corrected_t_p")
    return frame, notes


def gender_said(frame: pd.DataFrame) -> str:
    """The gender table in one sentence per dataset: which way the gap goes, how far, and
    how many cells' tests rejected after Holm."""
    said = []
    for dataset, g in frame.groupby("dataset", sort=True):
        ahead = int((g["gap"] > 0).sum())
        tested = int(g["p_holm"].notna().sum())
        rejected = int((g["p_holm"] < stats.ALPHA).sum())
        said.append(
            f"On {dataset}, female test speakers scored higher than male ones in {ahead} of "
            f"{len(g)} cells (gap, female minus male, from {g['gap'].min():+.3f} to "
            f"{g['gap'].max():+.3f} UAR); " + (
                f"the permutation test rejected equality in {rejected} of {tested} cells after "
                "Holm." if tested else "too few speakers of one gender for a test."))
    return " ".join(said)


def gender_table(frame: pd.DataFrame) -> Table:
    shown = frame.assign(
        female_ci=[_ci(a, b) for a, b in zip(frame["female_ci_low"], frame["female_ci_high"],
                                             strict=True)],
        male_ci=[_ci(a, b) for a, b in zip(frame["male_ci_low"], frame["male_ci_high"],
                                           strict=True)],
        gap_ci=[_ci(a, b) for a, b in zip(frame["gap_ci_low"], frame["gap_ci_high"],
                                          strict=True)])
    unknown = int(frame.groupby("dataset")["unknown_gender"].max().sum())
    caption = (f"UAR per gender of the test speakers (pooled over each gender's files; 95% CI "
               f"from {N_BOOT} resamples of that gender's speakers) and the gap, female minus "
               f"male (95% CI resampling speakers within each gender; p: two-sided permutation "
               f"test of the gender labels over speakers, {N_PERM} permutations, Holm over "
               f"the {int(frame['p_perm'].notna().sum())} cells tested). No interval or test "
               f"where a gender has fewer than {MIN_SPEAKERS} speakers."
               + (f" {unknown} speaker(s) of unknown gender left out." if unknown else ""))
    return Table("gender", caption, shown[[
        "dataset", "features", "model", "normalisation", "n_female", "n_male", "uar_female",
        "female_ci", "uar_male", "male_ci", "gap", "gap_ci", "p_perm", "p_holm", "verdict"]],
        ("dataset", "features", "model", "normalisation", "n_female", "n_male"),
        ("uar_female", "female_ci", "uar_male", "male_ci", "gap", "gap_ci", "p_perm", "p_holm",
         "verdict"), bold_best=False, paper=("uar_female", "uar_male", "gap", "gap_ci", "p_holm"))


def _ci(lo: float, hi: float) -> str:
    return "n/a" if np.isnan(lo) else f"[{lo:.3f}, {hi:.3f}]"


def set_pairs_by_gender(res: Results, pairs: pd.DataFrame, genders: pd.Series
                        ) -> Table | None:
    """Does a feature set's advantage hold for both genders? For every compared pair of sets
    (same dataset, model, normalisation and budget), the pooled-UAR difference within each
    gender's speakers with its paired speaker-bootstrap CI."""
    if pairs is None or pairs.empty:
        return None
    cells = _cells(res)
    rows = []
    for _, p in pairs.iterrows():
        same = cells[(cells["dataset"] == p["dataset"]) & (cells["model"] == p["model"])
                     & (cells["normalisation"] == p["normalisation"])].set_index("features")
        confs = {}
        for s in (p["a"], p["b"]):
            preds = res.predictions[res.predictions["cell_id"] == same.loc[s, "cell_id"]]
            confs[s] = speaker_confusions(preds, same.loc[s, "classes"])
        g = _genders_of(confs[p["a"]][1], genders)
        row = {k: p[k] for k in ("dataset", "model", "normalisation", "a", "b")}
        for gender in GENDERS:
            keep = g == gender
            if not keep.any():
                row.update({f"diff_{gender}": np.nan, f"ci_{gender}": "n/a"})
                continue
            ca, cb = confs[p["a"]][0][keep], confs[p["b"]][0][keep]
            lo, hi = metrics.paired_bootstrap_ci(ca, cb)
            row.update({f"diff_{gender}": metrics.pooled_uar(ca) - metrics.pooled_uar(cb),
                        f"ci_{gender}": _ci(lo, hi)})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame[["diff_female", "diff_male"]].isna().any(axis=None):
        return None  # one gender only: the overall comparison says it all
    return Table("feature_set_pairs_by_gender",
                 "Each compared pair of feature sets (a minus b, same model, normalisation and "
                 "budget; a has the higher mean over all folds), within each gender's test "
                 "speakers: difference of pooled UAR and its 95% paired speaker-bootstrap CI "
                 f"({N_BOOT} resamples). n/a: fewer than {MIN_SPEAKERS} speakers.",
                 frame, ("dataset", "model", "normalisation", "a", "b"),
                 ("diff_female", "ci_female", "diff_male", "ci_male"), bold_best=False)


def speaker_grid(res: Results, uars: pd.DataFrame, dataset: str, genders: pd.Series
                 ) -> pd.DataFrame:
    """Speakers (rows, labelled with gender, sorted by their mean over cells) x cells."""
    cells = _cells(res)
    cells = cells[cells["dataset"] == dataset]
    cols = {}
    for _, c in cells.iterrows():
        label = f"{c['features']} / {c['model']} / {c['normalisation']}"
        cols[label] = uars[uars["cell_id"] == c["cell_id"]].set_index("speaker")["uar"]
    grid = pd.DataFrame(cols)
    grid = grid.loc[grid.mean(axis=1).sort_values().index]
    short = {"female": "f", "male": "m"}
    grid.index = [f"{s.split(':', 1)[-1]} ({short.get(genders.get(s, ''), '?')})"
                  for s in grid.index]
    return grid


def cross_gender_table(res: Results, genders: pd.Series) -> Table | None:
    """The cross-gender protocol's two directions per cell: trained on one gender's speakers,
    the pooled UAR on the other gender's, with its 95% speaker-bootstrap CI."""
    cells = _cells(res)
    cells = cells[cells["protocol"].str.startswith("cross-gender")]
    if cells.empty:
        return None
    rows = []
    for _, c in cells.iterrows():
        row = {k: c[k] for k in ("dataset", "features", "model", "normalisation")}
        preds = res.predictions[res.predictions["cell_id"] == c["cell_id"]]
        for _, fold in preds.groupby("fold", sort=True):
            conf, spk = speaker_confusions(fold, c["classes"])
            test = {genders.get(s, "unknown") for s in spk}
            if len(test) != 1 or not test <= set(GENDERS):
                continue
            (to,) = test
            frm = next(g for g in GENDERS if g != to)
            lo, hi = metrics.bootstrap_ci(conf)
            row[f"{frm}_to_{to}"] = metrics.pooled_uar(conf)
            row[f"{frm}_to_{to}_ci"] = _ci(lo, hi)
        rows.append(row)
    frame = pd.DataFrame(rows)
    values = tuple(c for c in ("female_to_male", "female_to_male_ci", "male_to_female",
                               "male_to_female_ci") if c in frame)
    return Table("cross_gender", "Cross-gender: trained on every speaker of one gender, "
                 "tested on every speaker of the other (pooled UAR of the test files; 95% CI "
                 f"from {N_BOOT} resamples of the test speakers).", frame,
                 ("dataset", "features", "model", "normalisation"), values)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def write_speaker_report(res: Results, out: Path, pairs: pd.DataFrame | None,
                         with_figures: bool = True) -> tuple[list[Path], list[str]]:
    """The per-speaker and per-gender tables (``tables/``), every speaker's UAR per cell
    (``tables/speakers_long.csv``) and one figure per dataset; returns the files and the
    one-line notes of datasets without a gender table."""
    from benchmark.report import figures
    from benchmark.report.tables import write

    genders = speaker_genders(out)
    uars = speaker_uars(res)
    written = write(worst_speakers(res, uars), out / "tables")
    cells = _cells(res).set_index("cell_id")
    long = uars[uars["cell_id"].isin(cells.index)].assign(
        gender=lambda f: f["speaker"].map(lambda s: genders.get(s, "unknown")),
        **{k: lambda f, k=k: f["cell_id"].map(cells[k])
           for k in ("dataset", "features", "model", "normalisation")})
    path = out / "tables" / "speakers_long.csv"
    long[["dataset", "features", "model", "normalisation", "speaker", "gender", "n_test",
          "uar"]].to_csv(path, index=False, float_format="%.6f", lineterminator="\n")
    written.append(path)
    frame, notes = gender_rows(res, genders)
    if genders.empty:
        notes = ["No speaker's gender is recorded for these results (no speakers.csv, and "
                 "the corpora are not under the data root): no per-gender table."]
    crossed = cross_gender_table(res, genders)
    if crossed is not None:
        written += write(crossed, out / "tables")
    if not frame.empty:
        written += write(gender_table(frame), out / "tables")
        by_gender = set_pairs_by_gender(res, pairs, genders)
        if by_gender is not None:
            written += write(by_gender, out / "tables")
    if with_figures:
        for dataset in sorted(cells["dataset"].unique()):
            grid = speaker_grid(res, uars, dataset, genders)
            written += figures.save(figures.speaker_grid(
                grid, f"{dataset}: UAR per test speaker (rows, worst first; f/m: gender) and "
                "cell"), out / "figures", f"speakers_{_slug(dataset)}")
    return written, notes
