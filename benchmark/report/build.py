"""``serbench report``: every table, statistic and figure of an experiment, from stored runs.

Outputs are deterministic functions of the stored folds (sorted, fixed seeds); the only
time-dependent facts go to ``timestamps.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.metrics import MIN_SPEAKERS, N_BOOT, bootstrap_ci, pooled_uar, speaker_confusions
from benchmark.provenance import git_state, package_versions
from benchmark.report import (
    comparisons,
    figures,
    normalisation,
    paper,
    readme,
    speakers,
    stats,
)
from benchmark.report.results import Results, collect, primary, protocols_said
from benchmark.report.tables import Table, write


def _label(row) -> str:
    return f"{row['model']} ({row['normalisation']})"


def main_table(res: Results) -> Table:
    cells = primary(res)
    agg = res.folds.groupby("cell_id")[["uar", "wa", "macro_f1"]].agg(["mean", "std"])
    rows = {}
    for _, c in cells.sort_values(["features", "model", "normalisation"]).iterrows():
        key = (c["features"], c["model"], c["normalisation"])
        row = rows.setdefault(key, {"features": c["features"], "model": c["model"],
                                    "normalisation": c["normalisation"]})
        for metric, short in (("uar", "UAR"), ("wa", "WA"), ("macro_f1", "F1")):
            row[f"{c['dataset']} {short}"] = agg.loc[c["cell_id"], (metric, "mean")]
            row[f"{c['dataset']} {short}_std"] = agg.loc[c["cell_id"], (metric, "std")]
    frame = pd.DataFrame(list(rows.values()))
    values = tuple(c for c in frame.columns if c not in ("features", "model", "normalisation")
                   and not c.endswith("_std"))
    flag = " SPEAKER-DEPENDENT split: inflated scores." if cells["speaker_dependent"].any() \
        else ""
    unequal = comparisons.unequal_budgets(cells)
    budgets = (" Unequal tuning budgets, not like for like: " + "; ".join(unequal) + "."
               if unequal else "")
    caption = (f"UAR, weighted accuracy (WA) and macro-F1 by feature set, model and "
               f"normalisation, mean ± std over outer folds ({protocols_said(cells)}). Bold: best "
               f"per column (read on the test folds).{flag}{budgets}")
    uar = tuple(v for v in values if v.endswith(" UAR"))  # the paper table: UAR; WA, F1: CSV
    return Table("main", caption, frame, ("features", "model", "normalisation"), values,
                 paper=uar if len(uar) < len(values) else None)


def recall_tables(res: Results) -> list[Table]:
    out = []
    index = ("features", "model", "normalisation")
    for dataset, grp in primary(res).groupby("dataset", sort=True):
        classes = grp.iloc[0]["classes"]
        rows = []
        for _, c in grp.sort_values(list(index)).iterrows():
            f = res.folds[res.folds["cell_id"] == c["cell_id"]]
            rows.append({**{k: c[k] for k in index},
                         **{e: f[f"recall_{e}"].mean() for e in classes
                            if f"recall_{e}" in f}})
        frame = pd.DataFrame(rows)
        caption = (f"Per-emotion recall on {dataset}, mean over outer folds "
                   f"({grp.iloc[0]['protocol']}). Bold: best per emotion.")
        out.append(Table(f"recall_{_slug(dataset)}", caption, frame, index,
                         tuple(c for c in frame.columns if c not in index)))
    return out


def ablation_tables(res: Results) -> list[Table]:
    """Per dataset with ablation cells: the bank against each of its subsets."""
    out = []
    for dataset, grp in res.cells.groupby("dataset", sort=True):
        ablations = grp[grp["role"] == "ablation"]
        if ablations.empty:
            continue
        grp = grp[(grp["role"] == "ablation") | grp["features"].isin(set(ablations["base"]))]
        agg = res.folds.groupby("cell_id")["uar"].agg(["mean", "std"])
        rows = {}
        for _, c in grp.iterrows():
            row = rows.setdefault(c["features"], {"features": c["features"],
                                                  "n_features": c["n_features"]})
            row[_label(c)] = agg.loc[c["cell_id"], "mean"]
            row[f"{_label(c)}_std"] = agg.loc[c["cell_id"], "std"]
        bases = set(ablations["base"])
        order = sorted(rows, key=lambda v: (v not in bases, not v.startswith("only"), v))
        frame = pd.DataFrame([rows[k] for k in order])
        values = tuple(c for c in frame.columns if c not in ("features", "n_features")
                       and not c.endswith("_std"))
        caption = (f"Feature-group ablation on {dataset}: UAR mean ± std over outer folds "
                   f"({grp.iloc[0]['protocol']}); only_X uses one group, without_X drops it.")
        out.append(Table(f"ablation_{_slug(dataset)}", caption, frame,
                         ("features", "n_features"), values))
    return out


def cross_corpus_table(res: Results) -> Table | None:
    cells = primary(res)
    cells = cells[cells["dataset"].str.contains("->")]
    if cells.empty:
        return None
    agg = res.folds.groupby("cell_id")["uar"].mean()
    rows = {}
    for _, c in cells.iterrows():
        train, test = c["dataset"].split("->")
        key = (c["features"], _label(c), train)
        row = rows.setdefault(key, {"features": c["features"], "model": _label(c),
                                    "train": train})
        row[f"test {test}"] = agg[c["cell_id"]]
    frame = pd.DataFrame(list(rows.values())).sort_values(["features", "model", "train"])
    values = tuple(sorted(c for c in frame.columns if c.startswith("test ")))
    return Table("cross_corpus", "Cross-corpus UAR: train corpus (rows) x test corpus "
                 "(columns), over the emotions each pair shares, per feature set and model; no "
                 "test speaker or corpus is seen in training or tuning.",
                 frame.reset_index(drop=True)[["features", "model", "train", *values]],
                 ("features", "model", "train"), values)


def stats_table(res: Results) -> Table | None:
    cmp = stats.paired_comparisons(res.cells, res.folds)
    if cmp.empty:
        return None
    cmp = cmp.sort_values(["dataset", "features", "normalisation", "diff"]).reset_index(
        drop=True)
    caption = ("Models compared within each feature set and normalisation: the model with the "
               "highest mean UAR (chosen on the outer test folds, so its lead is optimistic) "
               "against each other model, paired over the same outer folds. Primary test: the "
               "corrected resampled t-test of Nadeau & Bengio (2003), p_holm Holm-adjusted over "
               f"the {stats.tested(cmp)} tested rows; Wilcoxon signed-rank only where its floor "
               f"with k folds (2/2^k) is under {stats.ALPHA}; no test with fewer than "
               f"{MIN_SPEAKERS} test speakers. " + protocols_said(res.cells) + ".")
    frame = cmp[["dataset", "features", "normalisation", "best", "other", "diff", "k",
                 "corrected_t_p", "p_holm", "wilcoxon_p", "wilcoxon_min_p", "verdict"]]
    return Table("stats", caption, frame, ("dataset", "features", "normalisation", "best",
                                           "other", "k"),
                 ("diff", "corrected_t_p", "p_holm", "wilcoxon_p", "wilcoxon_min_p"),
                 bold_best=False, paper=("diff", "p_holm"))


def variant_stats_table(res: Results) -> Table | None:
    cmp = stats.variant_comparisons(res.cells, res.folds)
    if cmp.empty:
        return None
    caption = ("Each feature variant against its base (an ablation against the bank; +aug, "
               "training-fold augmentation, against the same set without it), same model and "
               "hyper-parameters, paired over the same outer folds: UAR difference and the "
               "corrected resampled t-test (Nadeau & Bengio 2003), p_holm Holm-adjusted over "
               f"the {stats.tested(cmp)} tested rows; Wilcoxon signed-rank only where its "
               f"floor with k folds (2/2^k) is under {stats.ALPHA}. "
               f"{protocols_said(res.cells)}.")
    frame = cmp[["dataset", "model", "normalisation", "variant", "base", "uar_variant",
                 "uar_base", "diff", "k", "corrected_t_p", "p_holm", "wilcoxon_p", "verdict"]]
    return Table("variant_stats", caption, frame, ("dataset", "model", "normalisation",
                                                   "variant", "base", "k"),
                 ("uar_variant", "uar_base", "diff", "corrected_t_p", "p_holm",
                  "wilcoxon_p"), bold_best=False, paper=("uar_variant", "diff", "p_holm"))


def best_per_set(res: Results) -> pd.DataFrame:
    """Per (dataset, normalisation, feature set): the model with the best mean UAR (chosen
    on the outer test folds: for the size figure only, never tested), its cell, UAR and
    pooled-UAR 95 % CI over speakers."""
    cells = primary(res)
    cells = cells[cells["features"] != "logmel"]  # the CNN reads audio, not a feature set
    means = res.folds.groupby("cell_id")["uar"].mean()
    rows = []
    for (dataset, norm, features), grp in cells.groupby(
            ["dataset", "normalisation", "features"], sort=True):
        ranked = grp.assign(uar=grp["cell_id"].map(means)).sort_values(
            ["uar", "model"], ascending=[False, True], kind="stable")
        c = ranked.iloc[0]
        conf, _ = speaker_confusions(res.predictions[res.predictions["cell_id"] == c["cell_id"]],
                              c["classes"])
        lo, hi = bootstrap_ci(conf)
        rows.append({"dataset": dataset, "normalisation": norm, "features": features,
                     "n_features": int(c["n_features"]), "model": c["model"],
                     "uar": float(c["uar"]), "ci_low": lo, "ci_high": hi,
                     "cell_id": c["cell_id"]})
    return pd.DataFrame(rows)


def ci_table(res: Results) -> Table:
    rows = []
    for _, c in res.cells.sort_values(["dataset", "features", "model", "normalisation"]
                                      ).iterrows():
        preds = res.predictions[res.predictions["cell_id"] == c["cell_id"]]
        conf, speakers = speaker_confusions(preds, c["classes"])
        lo, hi = bootstrap_ci(conf)
        pooled = pooled_uar(conf)
        rows.append({"dataset": c["dataset"], "features": c["features"], "model": c["model"],
                     "normalisation": c["normalisation"], "pooled UAR": pooled,
                     "CI low": lo, "CI high": hi, "speakers": len(speakers)})
    return Table("uar_ci", f"Pooled UAR over all test files with a 95% bootstrap confidence "
                 f"interval ({N_BOOT} resamples of speakers). {protocols_said(res.cells)}.",
                 pd.DataFrame(rows), ("dataset", "features", "model", "normalisation"),
                 ("pooled UAR", "CI low", "CI high"))


def _slug(s: str) -> str:
    return s.replace("->", "_to_").replace("+", "_").replace("/", "_")


def make_figures(res: Results, out: Path, results_dir: Path) -> list[Path]:
    written = []
    fig_dir = out / "figures"
    cells = primary(res)
    means = res.folds.groupby("cell_id")["uar"].mean()
    for dataset, grp in cells.groupby("dataset", sort=True):
        if grp["features"].nunique() > 1:  # the panels of the best feature set only
            top = grp.loc[grp["cell_id"].map(means).idxmax(), "features"]
            grp = grp[grp["features"] == top]
        classes = grp.iloc[0]["classes"]
        panels = []
        recall = {}
        for _, c in grp.sort_values(["normalisation", "model"]).iterrows():
            conf, _ = speaker_confusions(
                res.predictions[res.predictions["cell_id"] == c["cell_id"]], classes)
            total = conf.sum(axis=0)
            panels.append((_label(c), total))
            recall[_label(c)] = np.diag(total) / np.maximum(total.sum(axis=1), 1)
        slug = _slug(dataset)
        written += figures.save(figures.confusion_grid(
            panels, classes, f"{dataset}: confusion matrices, rows normalised (recall)"),
            fig_dir, f"confusion_{slug}")
        written += figures.save(figures.grouped_bars(
            pd.DataFrame(recall, index=classes), "recall",
            f"{dataset}: per-emotion recall ({grp.iloc[0]['protocol']})"),
            fig_dir, f"recall_{slug}")
        preds = res.predictions[res.predictions["cell_id"] == grp.iloc[0]["cell_id"]]
        counts = preds["true"].value_counts().reindex(classes).fillna(0)
        written += figures.save(figures.distributions(
            counts, preds.groupby("speaker").size().sort_index(),
            f"{dataset}: {len(preds)} test files"), fig_dir, f"distribution_{slug}")
        written += _example_figure(preds, classes, dataset, fig_dir, slug)
    written += _optuna_figures(res, out, fig_dir)
    best = best_per_set(res)
    if not best.empty and best["features"].nunique() > 1:
        for dataset, grp in best.groupby("dataset", sort=True):
            written += figures.save(figures.uar_vs_size(
                grp, f"{dataset}: UAR against the number of features (each set's best model, "
                "chosen on the test folds; 95% speaker-bootstrap CI)"), fig_dir,
                f"feature_sets_{_slug(dataset)}")
    matrix = cross_corpus_matrix(res)
    for features, grid in matrix.items():
        written += figures.save(figures.heatmap(
            grid, f"cross-corpus UAR, {features} (best model per pair; rows: train)"),
            fig_dir, f"cross_corpus_{_slug(features)}")
    for t in ablation_tables(res):
        frame = t.frame.set_index("features")[[c for c in t.values]]
        written += figures.save(figures.grouped_bars(
            frame, "UAR", f"feature-group ablation ({t.name.split('_', 1)[1]})"),
            fig_dir, t.name)
    return written


def cross_corpus_matrix(res: Results) -> dict[str, pd.DataFrame]:
    """Per feature set: train corpus x test corpus, the best model's UAR per pair."""
    cells = primary(res)
    cells = cells[cells["dataset"].str.contains("->")]
    means = res.folds.groupby("cell_id")["uar"].mean()
    out = {}
    for features, grp in cells.groupby("features", sort=True):
        pairs = grp.assign(uar=grp["cell_id"].map(means),
                           train=grp["dataset"].str.split("->").str[0],
                           test=grp["dataset"].str.split("->").str[1])
        out[features] = pairs.pivot_table(index="train", columns="test", values="uar",
                                          aggfunc="max")
    return out


def _example_figure(preds, classes, dataset, fig_dir, slug) -> list[Path]:
    """Waveform and log-mel per emotion for one speaker (the seeds' exploratory view)."""
    from benchmark import audio
    from benchmark.datasets import resolve_audio
    from features import FeatureBank

    speaker = sorted(preds["speaker"].unique())[0]
    bank = FeatureBank()
    examples = []
    for emotion in classes:
        rows = preds[(preds["speaker"] == speaker) & (preds["true"] == emotion)]
        if rows.empty:
            continue
        path = resolve_audio(sorted(rows["path"])[0])
        if path is None:  # the corpus is not on this machine: no example figure
            return []
        try:
            y = audio.load(path, bank.config.sr)
        except (audio.AudioError, OSError):
            return []
        examples.append((emotion, y, bank.logmel(y, bank.config.sr)))
    if not examples:
        return []
    hop_s = bank.config.hop_length / bank.config.sr
    return figures.save(figures.waveforms_and_logmels(
        examples, bank.config.sr, hop_s, f"{dataset}, speaker {speaker}: one file per emotion"),
        fig_dir, f"examples_{slug}")


def _optuna_figures(res: Results, out: Path, fig_dir: Path) -> list[Path]:
    """History and importances of the final (all-speaker) study of each dataset's best cell."""
    import optuna

    from benchmark.cells import OPTUNA_DB, read_plan
    from benchmark.tuning import storage as open_storage

    url = read_plan(out).get("optuna_storage") or f"sqlite:///{(out / OPTUNA_DB).resolve()}"
    local = url.split("///", 1)[-1] if url.startswith("sqlite") else (
        url[len("journal:"):] if url.startswith("journal:") else None)
    if local is not None and not Path(local).exists():
        return []
    storage = open_storage(url)
    means = res.folds.groupby("cell_id")["uar"].mean()
    written = []
    for dataset, grp in res.cells.groupby("dataset", sort=True):
        best = grp.loc[grp["cell_id"].map(means).idxmax()]
        try:
            study = optuna.load_study(study_name=f"{best['cell_id']}/final", storage=storage)
        except KeyError:
            continue
        for kind, fig in figures.optuna_views(study):
            fig.axes[0].set_title(f"{dataset}, {_label(best)}: Optuna {kind}", fontsize=9)
            written += figures.save(fig, fig_dir, f"optuna_{kind}_{_slug(dataset)}")
    return written


def write_manifest(out: Path) -> Path:
    config = json.loads((out / "config.resolved.json").read_text())
    config.pop("results_dir", None)  # where results go is not part of what produced them
    data = json.loads((out / "data.json").read_text()) if (out / "data.json").exists() else {}
    git = git_state()
    manifest = {"git_commit": git["commit"], "git_dirty": git["dirty"],
                "packages": package_versions(), "config": config, "seed": config["seed"],
                "feature_config": config["features"], "corpora": data}
    if (out / "run.json").exists():  # the run's own commit: the code that computed the folds
        run = json.loads((out / "run.json").read_text())  # (its wall time stays there)
        manifest["run"] = {k: run[k] for k in ("git_commit", "git_dirty") if k in run}
    from features import FeatureConfig

    manifest["feature_config_digest"] = FeatureConfig.from_stored(config["features"]).digest()
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def write_report(experiment: str, results_dir: str | Path = "results",
                 tracking_uri: str | None = None, with_figures: bool = True) -> list[Path]:
    """Write every report file under ``results_dir/experiment``; returns their paths.
    ``with_figures=False``: tables, manifest and README only (the figures take most of a small
    report's time, and a check of the numbers needs none)."""
    t0 = time.perf_counter()
    out = Path(results_dir) / experiment
    res = collect(out)
    if res.cells.empty:
        raise FileNotFoundError(f"no finished cells under {out / 'folds'}; run the experiment")
    compared = comparisons.set_pairs(res)  # once: the pairs table, README and gender split
    tables = [main_table(res), *recall_tables(res), *ablation_tables(res), ci_table(res)]
    tables += [t for t in (comparisons.feature_set_table(res, out),
                           comparisons.pairs_table(res, compared), cross_corpus_table(res),
                           stats_table(res), variant_stats_table(res)) if t is not None]
    written: list[Path] = []
    for t in tables:
        written += write(t, out / "tables")
    found, notes = speakers.write_speaker_report(res, out, compared[0], with_figures)
    written += found
    written += normalisation.write_normalisation_report(res, out, with_figures)
    if with_figures:
        written += make_figures(res, out, Path(results_dir))
    written.append(write_manifest(out))
    stamp = out / "timestamps.json"
    stamp.write_text(json.dumps({"report_written_utc": datetime.now(UTC).isoformat(
        timespec="seconds"), "report_seconds": round(time.perf_counter() - t0, 2)}, indent=2)
        + "\n")
    written.append(stamp)
    written += paper.write_appendix(out, experiment, readme.FILES)
    pdf = out / paper.PAPER / "appendix.pdf"
    if pdf.exists():  # compiled earlier (serbench paper): listed, and stale until recompiled
        written.append(pdf)
    written.append(readme.write_readme(out, experiment, written, res, notes, compared))
    return written
