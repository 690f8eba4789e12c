"""The README of an experiment's results: what the tables say, in sentences the tests carry.

Every sentence that says a cell or set "won" or "beat" another comes from the primary test
after Holm (:mod:`benchmark.report.stats`); anything else is said as a tie, with its
difference. A maximum of a table is called the highest mean, never a win: it was read on the
test folds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from benchmark.models import MODELS
from benchmark.report import comparisons, normalisation, speakers, stats
from benchmark.report.results import Results, primary, protocols_said
from features.sets.registry import DESIGNED_ON


def opening(res: Results, compared: tuple | None = None) -> str:
    """The README's first paragraph: per dataset, the highest mean UAR of the table (a
    maximum, not a verdict); the feature-set verdicts; what each variant changed."""
    means = res.folds.groupby("cell_id")["uar"].mean()
    parts = []
    for dataset, grp in primary(res).groupby("dataset", sort=True):
        ranked = grp.assign(uar=grp["cell_id"].map(means)).sort_values("uar", ascending=False,
                                                                       kind="stable")
        best = ranked.iloc[0]
        what = f"{best['model']} ({best['normalisation']}, features {best['features']})"
        if len(ranked) == 1:
            parts.append(f"On {dataset}, {what} reached a mean UAR of {best['uar']:.3f}.")
            continue
        parts.append(f"On {dataset}, the highest mean UAR of the {len(ranked)} cells is "
                     f"{what}'s, {best['uar']:.3f} (a maximum read on the test folds, not a "
                     "verdict).")
    parts += comparisons.verdicts(res, compared)
    variants = stats.variant_comparisons(res.cells, res.folds)
    if not variants.empty:
        for (dataset, model, norm), grp in variants.groupby(
                ["dataset", "model", "normalisation"], sort=True):
            parts.append(_variant_sentence(dataset, model, norm, grp))
    return " ".join(parts)


def _variant_sentence(dataset: str, model: str, norm: str, grp: pd.DataFrame) -> str:
    """What leaving groups out, keeping one group, or augmenting did, with the paired test."""
    def p(r):
        said = {"differs": "differs from the base", "tied": "tied with the base"}.get(
            r["verdict"])
        if said is None or pd.isna(r["p_holm"]):  # too few folds for the test: no p to quote
            return "untested: too few folds"
        return f"{said}, p (Holm) = {r['p_holm']:.2f}, corrected resampled t"

    base = grp.iloc[0]
    head = f"Against {base['base']} ({model}, {norm}, {base['uar_base']:.3f}) on {dataset}"
    out = grp[grp["variant"].str.startswith("without_")]
    only = grp[grp["variant"].str.startswith("only_")]
    other = grp.drop(out.index).drop(only.index)
    said = []
    if len(out):
        w = out.loc[out["diff"].idxmin()]
        said.append(f"leaving one group out changed UAR by {w['diff']:+.3f} at worst "
                    f"({w['variant']}; {p(w)})")
    if len(only):
        t = only.loc[only["diff"].idxmax()]
        said.append(f"the best single group, {t['variant']}, reached {t['uar_variant']:.3f} "
                    f"({t['diff']:+.3f}; {p(t)})")
    said += [f"{r['variant']} {r['diff']:+.3f} ({p(r)})" for _, r in other.iterrows()]
    return f"{head}: " + "; ".join(said) + "."


def tuning_said(res: Results) -> str:
    """Which cells were tuned and which ran a fixed configuration: a table that mixes both
    must say so beside it (completed Optuna trials per outer fold, as the folds record)."""
    trials = res.folds.groupby("cell_id")["n_trials"].mean()
    cells = res.cells.assign(trials=res.cells["cell_id"].map(trials).fillna(0))
    several = cells["dataset"].nunique() > 1
    tuned = cells[cells["trials"] > 0]
    if tuned.empty:
        return "Every cell ran its model's fixed configuration (no tuning)."
    if len(tuned) == len(cells):
        return ("Every cell was tuned by Optuna on inner speaker-grouped folds of each outer "
                f"training set ({tuned['trials'].min():.0f}-{tuned['trials'].max():.0f} "
                "completed, unpruned trials per outer fold).")
    named = [(f"{c.dataset} " if several else "") + f"{c.features} {c.model} {c.normalisation}"
             f" ({c.trials:.0f})" for c in tuned.itertuples()]
    return ("Tuned by Optuna on inner speaker-grouped folds of each outer training set "
            "(completed, unpruned trials per outer fold, mean): " + ", ".join(named)
            + "; every other cell ran its model's fixed configuration.")


def _wall_time(out: Path) -> str:
    """How long the run that wrote these folds took (``run.json``), or nothing."""
    path = out / "run.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    resumed = (f"; {r['tasks_resumed']} more were resumed from checkpoints (same cell ids: "
               "the same code, data and parameters computed them before)"
               if r["tasks_resumed"] else "")
    commit = (f" at commit `{r['git_commit'][:7]}`"
              + (" with uncommitted changes" if r.get("git_dirty") else "")
              if r.get("git_commit") else "")
    cold = (" How the cold run was made, in more than one invocation, and its wall time: "
            "`COLD_RUN.md`." if (out / "COLD_RUN.md").exists() else "")
    return (f"Wall time of the run{commit}: {r['wall_s']:.0f} s ({r['wall_s'] / 60:.1f} min, "
            f"extraction included) for {r['tasks_run']} tasks{resumed}, {r['n_jobs']} workers "
            f"on {r['cores']} cores.{cold}")


#: What each report file is, by the start of its path (README's file table, captions).
FILES = {
    "tables/main": "feature sets x models x corpora: UAR, WA, macro-F1, mean ± std over "
                   "outer folds",
    "tables/feature_sets": "feature sets per model and normalisation: size, speed, "
                           "budget, UAR with CI",
    "tables/feature_set_pairs_by_gender": "each pair of sets, within each gender",
    "tables/feature_set_pairs": "every pair of sets with the same model and budget: "
                                "difference with its CI, corrected t-test, Holm, verdict",
    "figures/feature_sets_": "UAR against number of features, one point per set",
    "figures/cross_corpus_": "cross-corpus UAR heat-map per feature set",
    "tables/recall_": "per-emotion recall per model",
    "tables/ablation_": "feature-group ablation",
    "tables/cross_corpus": "train corpus x test corpus UAR",
    "tables/stats": "highest-mean model vs others per set: corrected resampled t-test, Holm",
    "tables/variant_stats": "each ablation / augmentation variant vs the full bank, paired, "
                            "Holm",
    "tables/uar_ci": "pooled UAR with 95% bootstrap CI over speakers",
    "tables/speaker_norm": "every normalisation mode: pooled UAR with CI, rows scored, "
                           "share of the speaker-norm gain kept",
    "figures/speaker_norm_": "UAR against the number of enrolment recordings",
    "tables/speakers_long": "every test speaker's UAR per cell, with gender",
    "tables/speakers": "per cell: mean of the speakers' UARs, 10th percentile, worst "
                       "speaker",
    "tables/cross_gender": "trained on one gender, tested on the other, both ways",
    "tables/gender": "UAR per gender with CIs, the gap and its permutation test (Holm)",
    "figures/speakers_": "UAR per test speaker and cell, worst first",
    "speakers.csv": "each speaker's corpus, gender and files (the run's data)",
    "skipped.csv": "every file left out (scan or extraction) and why",
    "figures/confusion_": "row-normalised confusion matrices",
    "figures/recall_": "per-emotion recall bars",
    "figures/distribution_": "class and speaker distributions",
    "figures/examples_": "waveform and log-mel per emotion, one speaker",
    "figures/optuna_history": "Optuna optimisation history (best cell, final study)",
    "figures/optuna_importance": "Optuna parameter importances (fANOVA)",
    "figures/ablation_": "feature-group ablation bars",
    "paper/appendix.tex": "every table and figure with captions, the reproducibility "
                          "paragraph and references (`serbench paper` compiles it)",
    "paper/references.bib": "the BibTeX it cites",
    "paper/appendix.pdf": "the compiled appendix",
    "manifest.json": "git commit (of the report; the run's under `run`), packages, "
                     "resolved config, seeds, corpus fingerprints",
    "timestamps.json": "when the report was written (kept apart for determinism)",
    "run.json": "the run's wall time, tasks run and resumed, workers",
    "COLD_RUN.md": "how the cold run was made and how long it took",
    "summary.csv": "one row per cell, as `serbench run` printed it",
    "folds/": "per-fold checkpoints: predictions, best parameters (the stored runs)",
}


def enrolment_section(out: Path) -> list[str]:
    """The README's section on realistic speaker normalisation, when the run has one."""
    table = out / "tables" / "speaker_norm.md"
    if not table.exists():
        return []
    frame = pd.read_csv(out / "tables" / "speaker_norm.csv")
    return ["## Speaker normalisation without an oracle", "",
            normalisation.survival_said(frame), "", table.read_text().strip(), "",
            *[f"![{p.stem}](figures/{p.name})"
              for p in sorted((out / "figures").glob("speaker_norm_*.png"))], ""]


def who_fails(out: Path, notes: list[str]) -> list[str]:
    """The README's section on who the models fail: the per-gender table (or why there is
    none), the worst speakers, and the per-speaker figures."""
    lines = ["## Who the models fail", ""]
    crossed = out / "tables" / "cross_gender.md"
    if crossed.exists():
        lines += [crossed.read_text().strip(), ""]
    gender = out / "tables" / "gender.md"
    if gender.exists():
        frame = pd.read_csv(out / "tables" / "gender.csv")
        lines += [speakers.gender_said(frame), "", gender.read_text().strip(), ""]
    lines += [f"{n}" for n in notes] + ([""] if notes else [])
    worst = out / "tables" / "speakers.md"
    if worst.exists():
        lines += [worst.read_text().strip(), ""]
    lines += [f"![{p.stem}](figures/{p.name})"
              for p in sorted((out / "figures").glob("speakers_*.png"))]
    return lines + [""]


def write_readme(out: Path, experiment: str, written: list[Path], res: Results,
                 notes: list[str] = (), compared: tuple | None = None) -> Path:
    cells = res.cells
    rel = sorted(str(p.relative_to(out)) for p in written)
    headline = (out / "tables" / "main.md").read_text().strip()
    for extra in [out / "tables" / "feature_set_pairs.md",
                  *sorted((out / "tables").glob("ablation_*.md")),
                  out / "tables" / "variant_stats.md"]:
        if extra.exists():  # a run about sets or variants opens with their comparisons too
            headline += "\n\n" + extra.read_text().strip()
    lines = [f"# Results of `{experiment}`", "", opening(res, compared), "", design_said(res), "",
             headline, "",
             f"Produced by `serbench run experiments/{experiment}.toml` (then `serbench report "
             f"{experiment}`, which rebuilds everything here from the stored folds) on a "
             f"machine with {os.cpu_count()} cores. Protocols: {protocols_said(cells)}.",
             tuning_said(res), _wall_time(out), "", *enrolment_section(out),
             *who_fails(out, list(notes)),
             "## Files", "", "| file | what it is |", "|---|---|"]
    what = FILES
    for r in rel:
        desc = next((v for k, v in what.items() if r.startswith(k)), "")
        lines.append(f"| `{r}` | {desc} |")
    lines += ["", "Formats: every table as CSV (numbers), Markdown and LaTeX (booktabs, "
              "`\\pm`, best in bold); every figure as PNG and PDF.", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path




def _corpora(res: Results) -> set[str]:
    return {c for d in res.cells["dataset"] for c in d.replace("->", "+").split("+")}


def _set_names(features: str) -> list[str]:
    """The registry names a table label is built from (``bank[mfcc]+egemaps`` -> bank,
    egemaps; an ablation's ``only_mfcc`` / ``without_pitch`` -> bank)."""
    if features.startswith(("only_", "without_")):
        return ["bank"]
    return [p.split("[", 1)[0] for p in features.removesuffix("+aug").split("+")]


def design_said(res: Results) -> str:
    """Which data chose each feature set's and model's defaults; where that is data this
    experiment reports, it says so: those numbers are development-set numbers."""
    corpora = _corpora(res)
    said = []
    names = dict.fromkeys(n for f in sorted(res.cells["features"]) for n in _set_names(f)
                          if n in DESIGNED_ON)
    designs = [(n, *DESIGNED_ON[n]) for n in names]
    designs += [(m, MODELS[m].designed_on, MODELS[m].design)
                for m in sorted(res.cells["model"].unique())]
    for name, on, words in designs:
        reported = sorted(corpora & set(on))
        flag = (f" - chosen on {', '.join(reported)}, which this experiment reports: read "
                "its numbers there as development-set numbers" if reported else "")
        said.append(f"{name}: {words}{flag}")
    return "Design data (what chose each default): " + "; ".join(said) + "."
