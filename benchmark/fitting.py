"""One task of an experiment: tune on the inner folds of an outer training set, refit, score.

Runs in a worker process; it sees arrays and the config, never files, trackers or checkpoints.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmark.cells import Cell
from benchmark.config import ExperimentConfig
from benchmark.models import MODELS, build_pipeline, fit_params
from benchmark.tuning import tune, with_copies


def fit_fold(X: np.ndarray, columns: list[str], speakers: np.ndarray, y: np.ndarray,
             train: np.ndarray, test: np.ndarray, cell: Cell, cfg: ExperimentConfig,
             storage_url: str | None, study_name: str | None, keep_model: bool,
             paths: np.ndarray | None = None, X_aug: list[np.ndarray] | None = None) -> dict:
    """Tune on inner folds of ``train`` speakers, refit on all of ``train``, score ``test``.

    ``X_aug``: augmented copies of every row (aligned with ``X``, NaN where a copy failed).
    Only copies of ``train`` rows are ever used, and only for fitting (see
    :func:`benchmark.tuning.with_copies`); test rows are always originals.
    """
    from threadpoolctl import threadpool_limits

    spec = MODELS[cell.model]
    with threadpool_limits(1):

        def as_frame(values):
            f = pd.DataFrame(values, columns=columns, copy=False)
            f["speaker"] = speakers
            if paths is not None:
                f["path"] = paths
            return f

        frame = as_frame(X)
        copies = [as_frame(A) for A in X_aug] if (X_aug and cell.augmented) else []
        budget = cfg.tuning.for_cell(cell.model, cell.variant)
        fixed = dict(cfg.fixed_params.get(cell.model, {}))
        tuned = tune(spec, frame.iloc[train], y[train], speakers[train],
                     speaker_norm=cell.speaker_norm, budget=budget,
                     inner_k=budget.inner_k or cfg.protocol.inner_k, seed=cfg.seed,
                     class_weight=cfg.class_weight, select_k=cfg.select_k,
                     storage_url=storage_url, study_name=study_name,
                     augmented=[c.iloc[train] for c in copies], fixed=fixed)
        Xtr, ytr = with_copies(frame, y, train, copies)
        params = {**tuned.params, **fixed}
        if keep_model:
            params.update(spec.final_params)
        t0 = time.perf_counter()
        pipe = build_pipeline(spec, params, speaker_norm=cell.speaker_norm, seed=cfg.seed,
                              class_weight=cfg.class_weight, select_k=cfg.select_k)
        pipe.fit(Xtr, ytr, **fit_params(spec, ytr, cfg.class_weight))
        fit_s = time.perf_counter() - t0
        pred = pipe.predict(frame.iloc[test]) if len(test) else np.zeros(0, dtype=y.dtype)
    out = {"params": {**spec.defaults, **params}, "tuned_params": tuned.params,
           "inner_uar": tuned.inner_uar, "n_trials": tuned.n_trials, "n_pruned": tuned.n_pruned,
           "tune_s": round(tuned.seconds, 2), "fit_s": round(fit_s, 2), "note": tuned.note,
           "test": test.tolist(), "y_pred": pred.tolist(), "n_train": int(len(train)),
           "n_train_fitted": int(len(ytr))}
    clf = getattr(pipe, "named_steps", {}).get("clf", pipe)
    if hasattr(clf, "seconds_per_epoch_"):  # a network: how long it trained, and how fast
        out["epochs"] = int(clf.n_epochs_)
        out["seconds_per_epoch"] = round(float(clf.seconds_per_epoch_), 3)
    if keep_model:
        out["model"] = pipe
    return out
