"""Stored results -> tidy tables. Reads the per-fold checkpoints a run wrote; never refits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.cells import describe_change, load_cell_results, planned_cells
from benchmark.preprocessing import norm_label


@dataclass(frozen=True)
class Results:
    """Everything a report needs, as plain tables.

    ``cells``: one row per cell (dataset, features, model, normalisation, protocol, classes;
    ``role``: ``set`` for a configured feature set, ``ablation`` for a bank subset; ``base``:
    what a variant is compared with; ``budget``: its tuning budget in words, ``fixed`` for a
    fixed configuration; ``n_speakers``: its test speakers over all folds).
    ``folds``: one row per (cell, outer fold) with its scores and per-class recall.
    ``predictions``: one row per scored test file (cell, fold, path, speaker, true, pred).
    """

    cells: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame


def collect(out_dir: str | Path) -> Results:
    """The finished cells of the experiment's last run (its ``plan.json``).

    Raises ``ValueError`` naming the corpus if the cells were computed on different versions
    of one corpus, and naming the file if a checkpoint is unreadable.
    """
    out_dir = Path(out_dir)
    cell_rows, fold_rows, pred_rows = [], [], []
    plan = planned_cells(out_dir)
    folders = sorted((out_dir / "folds").iterdir() if (out_dir / "folds").exists() else [])
    if plan is not None:
        folders = [f for f in folders if f.name in set(plan)]
    seen: dict[str, tuple[dict, str]] = {}
    config_path = out_dir / "config.resolved.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else None
    for folder in folders:
        if not (folder / "cell.json").exists():
            continue
        meta, fold_values = load_cell_results(folder)
        folds = sorted(folder.glob("fold*.json"))
        if len(folds) < meta["n_folds"]:
            continue  # unfinished cells are not reported
        _check_same_data(seen, meta)
        c = meta["cell"]
        features = c["variant"] + ("+aug" if c.get("augmented") else "")
        role = meta.get("role", "set" if c["variant"] == "full" else "ablation")
        base = meta["base"] if "base" in meta else (
            None if c["variant"] == "full" and not c.get("augmented") else "full")
        cell = {"cell_id": meta["cell_id"], "dataset": c["dataset"], "features": features,
                "model": c["model"], "normalisation": norm_label(c["speaker_norm"]),
                "protocol": meta["protocol"],
                "speaker_dependent": meta["speaker_dependent"], "n_folds": meta["n_folds"],
                "n_features": meta["n_features"], "classes": list(meta["classes"]),
                "role": role, "base": base, "augmented": bool(c.get("augmented")),
                "feature_set": meta.get("feature_set", c["variant"]),
                "budget": budget(config, c["model"], c["variant"]) if config else "unknown",
                "n_speakers": len({s for f in fold_values for s in f["speakers"]})}
        cell_rows.append(cell)
        for p, f in zip(folds, fold_values, strict=True):
            s = f["scores"]
            fold_rows.append({
                "cell_id": cell["cell_id"], "fold": p.stem, "uar": s["uar"], "wa": s["wa"],
                "macro_f1": s["macro_f1"], "n_test": len(f["y_true"]), "n_train": f["n_train"],
                "inner_uar": f["inner_uar"], "n_trials": f["n_trials"],
                **{f"recall_{k}": v["recall"] for k, v in s["per_class"].items()
                   if v["support"]}})
            pred_rows += [{"cell_id": cell["cell_id"], "fold": p.stem, "path": path,
                           "speaker": spk, "true": t, "pred": pr}
                          for path, spk, t, pr in zip(f["paths"], f["speakers"], f["y_true"],
                                                      f["y_pred"], strict=True)]
    return Results(pd.DataFrame(cell_rows), pd.DataFrame(fold_rows), pd.DataFrame(pred_rows))


def budget(config: dict, model: str, variant: str) -> str:
    """A cell's tuning budget in words, from the run's resolved config (the model's overrides,
    then its feature set's, as ``TuningConfig.for_cell`` applies them): ``fixed``, or the
    trials, inner folds, selection percentiles and pruning its Optuna study had."""
    from benchmark.models import MODELS

    tuning = config["tuning"]
    values = {**tuning, **tuning.get("per_model", {}).get(model, {}),
              **tuning.get("per_set", {}).get(variant, {})}
    if not values["n_trials"]:
        return "fixed"
    inner = values.get("inner_k") or config["protocol"]["inner_k"]
    words = f"{values['n_trials']} trials on {inner} inner folds"
    if values.get("select_percentiles") and MODELS[model].input == "features":
        words += f", selection {'/'.join(map(str, values['select_percentiles']))} %"
    return words + (", pruned" if values.get("pruning") else "")


def _check_same_data(seen: dict, meta: dict) -> None:
    """Refuse a report that would put numbers computed on two versions of a corpus side by
    side (checkpoints copied together by hand, say)."""
    for corpus, fp in meta.get("data", {}).items():
        first = seen.setdefault(corpus, (fp, meta["cell_id"]))
        if first[0]["blake2b"] != fp["blake2b"]:
            raise ValueError(
                f"{corpus}: cell {meta['cell_id']} was computed on other data than cell "
                f"{first[1]} ({describe_change(first[0], fp)}); rerun the experiment so that "
                "every cell uses the same corpus")


def primary(res: Results) -> pd.DataFrame:
    """The cells of the configured feature sets (not ablations, not augmented copies)."""
    c = res.cells
    return c[(c["role"] == "set") & ~c["augmented"]]


def protocols_said(cells: pd.DataFrame) -> str:
    """Each dataset's protocol, for a caption: ``ravdess: loso; tess: group_kfold``."""
    parts = [f"{ds}: {p}" for ds, p in
             cells.groupby("dataset")["protocol"].first().sort_index().items()]
    return "; ".join(parts)
