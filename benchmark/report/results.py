"""Stored results -> tidy tables. Reads the per-fold checkpoints a run wrote; never refits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Results:
    """Everything a report needs, as plain tables.

    ``cells``: one row per cell (dataset, features, model, normalisation, protocol, classes).
    ``folds``: one row per (cell, outer fold) with its scores and per-class recall.
    ``predictions``: one row per scored test file (cell, fold, path, speaker, true, pred).
    """

    cells: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame


def collect(out_dir: str | Path) -> Results:
    out_dir = Path(out_dir)
    cell_rows, fold_rows, pred_rows = [], [], []
    for folder in sorted((out_dir / "folds").iterdir() if (out_dir / "folds").exists() else []):
        meta_path = folder / "cell.json"
        if not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        folds = sorted(folder.glob("fold*.json"))
        if len(folds) < meta["n_folds"]:
            continue  # unfinished cells are not reported
        c = meta["cell"]
        features = c["variant"] + ("+aug" if c.get("augmented") else "")
        cell = {"cell_id": meta["cell_id"], "dataset": c["dataset"], "features": features,
                "model": c["model"], "normalisation": "speaker-norm" if c["speaker_norm"]
                else "global", "protocol": meta["protocol"],
                "speaker_dependent": meta["speaker_dependent"], "n_folds": meta["n_folds"],
                "n_features": meta["n_features"], "classes": list(meta["classes"])}
        cell_rows.append(cell)
        for p in folds:
            f = json.loads(p.read_text())
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
