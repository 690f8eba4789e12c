"""Cells and their checkpoints: what a cell is, what names it, and its files on disk.

A *cell* is (dataset, feature variant, model, speaker normalisation, protocol); its id ends
in a digest of everything its numbers depend on, the data's fingerprint included, so a
changed setting or a changed corpus never reuses a checkpoint. A finished task leaves
``<results>/<experiment>/folds/<cell id>/<fold>.json``; the run's ``plan.json`` lists the
cells of its last run, the only ones a report reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.config import ExperimentConfig
from benchmark.models import MODELS
from benchmark.preprocessing import norm_label

FINAL = "final"
PLAN = "plan.json"
OPTUNA_DB = "optuna.db"  # the default Optuna store, beside the checkpoints


@dataclass(frozen=True)
class Cell:
    dataset: str
    variant: str  # the feature set's label: "bank", "egemaps", "only_mfcc", "logmel" (CNN)
    spec: str  # the feature set it names: "bank[mfcc]" for only_mfcc
    model: str
    speaker_norm: bool | str  # a normalisation mode (benchmark.preprocessing.Normalisation)
    protocol: str
    augmented: bool = False

    @property
    def norm_label(self) -> str:
        return norm_label(self.speaker_norm)

    @property
    def label(self) -> str:
        """The feature variant as tables show it: ``bank``, ``without_pitch``, ``bank+aug``."""
        return self.variant + ("+aug" if self.augmented else "")

    @property
    def run_name(self) -> str:
        """The MLflow name of the cell's run; its fold runs append ``/fold00``."""
        return f"{self.dataset}/{self.label}/{self.model}/{self.norm_label}"

    def id(self, digest: str) -> str:
        name = (f"{self.dataset}__{self.label}__{self.model}__{self.norm_label}__"
                f"{self.protocol}__{digest}")
        return re.sub(r"[+\[\],:]", "-", name.replace("/", "_"))


def best_cells(summary: pd.DataFrame, normalisation: str | None = "global") -> pd.DataFrame:
    """Each dataset's best cell of a run's summary by mean UAR (the first on a tie, in the
    summary's order). ``normalisation`` restricts the choice to ``global`` or
    ``speaker-norm`` cells where a dataset has any; ``None``: the best of each normalisation."""
    if normalisation is None:
        return pd.concat([best_cells(summary, n) for n in sorted(set(summary["normalisation"]))],
                         ignore_index=True).drop_duplicates("cell_id", ignore_index=True)
    ranked = summary.assign(_own=summary["normalisation"] == normalisation).sort_values(
        ["_own", "uar_mean"], ascending=False, kind="stable")
    return ranked.groupby("dataset", sort=False).head(1).drop(columns="_own").reset_index(
        drop=True)


def cell_digest(cfg: ExperimentConfig, cell: Cell, features: str, data: dict[str, str]) -> str:
    """What the cell's numbers depend on. ``features``: the feature set's digest (its
    extractors' parameters and versions, its columns); ``data`` maps each corpus of the cell's
    dataset to its fingerprint, so new, removed, repaired or relabelled files make a new
    cell; the model spec's version, defaults and search space (``ModelSpec.fingerprint``), so
    a changed model does too."""
    key = {"features": features, "spec": cell.spec, "model": MODELS[cell.model].fingerprint(),
           "protocol": cfg.to_dict()["protocol"],
           "tuning": cfg.tuning.for_cell(cell.model, cell.variant).__dict__,
           "seed": cfg.seed, "class_weight": cfg.class_weight,
           "select_k": cfg.select_k, "fixed": dict(cfg.fixed_params.get(cell.model, {})),
           "labels": [dict(cfg.label_map), list(cfg.drop_labels)],
           "augmentation": cfg.augmentation.digest() if cell.augmented else None,
           "data": dict(sorted(data.items()))}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()
                          ).hexdigest()[:8]


def write_json(path: Path, value) -> None:
    """Atomically: a temporary file, then a rename."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(v):
    if isinstance(v, np.integer | np.floating):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


class CorruptCheckpoint(ValueError):
    """A checkpoint file that cannot be read; the message names it."""


#: Keys every finished outer-fold checkpoint has (a final-model checkpoint has fewer).
FOLD_KEYS = ("scores", "y_true", "y_pred", "paths", "speakers", "params", "inner_uar")


def read_checkpoint(path: Path) -> dict:
    """A task's checkpoint; :class:`CorruptCheckpoint` naming the file if it is unreadable."""
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpoint(f"checkpoint {path} is unreadable ({exc})") from exc
    if not isinstance(value, dict):
        raise CorruptCheckpoint(f"checkpoint {path} is not a JSON object")
    missing = [k for k in FOLD_KEYS if k not in value] if path.stem.startswith("fold") else []
    if missing:
        raise CorruptCheckpoint(f"checkpoint {path} lacks {missing}")
    return value


def load_cell_results(folder: Path) -> tuple[dict, list[dict]]:
    """A cell's metadata and its finished outer folds, in fold order."""
    meta = read_checkpoint(folder / "cell.json") if (folder / "cell.json").exists() else {}
    folds = [read_checkpoint(p) for p in sorted(folder.glob("fold*.json"))]
    return meta, folds


def write_plan(out_dir: Path, cell_ids: list[str], data: dict,
               optuna_storage: str | None) -> None:
    """``optuna_storage``: a storage URL given by the user; ``None``: the default SQLite
    file :data:`OPTUNA_DB` beside the plan (no machine's path is written)."""
    write_json(out_dir / PLAN, {"cells": sorted(cell_ids), "data": data,
                                "optuna_storage": optuna_storage})


def read_plan(out_dir: Path) -> dict:
    """The last run's plan (empty for results older than plans)."""
    path = out_dir / PLAN
    return json.loads(path.read_text()) if path.exists() else {}


def planned_cells(out_dir: Path) -> list[str] | None:
    """The cell ids of the experiment's last run (``None`` for results older than plans)."""
    return read_plan(out_dir).get("cells")


def describe_change(old: dict, new: dict) -> str:
    """Words for how a corpus's fingerprint changed, e.g. ``480 -> 360 files``."""
    parts = [f"{old.get(k)} -> {new.get(k)} {k}" for k in ("files", "speakers", "bytes")
             if old.get(k) != new.get(k)]
    return ", ".join(parts) or "same size, different content or labels"
