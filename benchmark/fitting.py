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
from benchmark.preprocessing import (
    Normalisation,
    draw_enrolment,
    enrolment_normalise,
    enrolment_prior,
)
from benchmark.tuning import tune, with_copies


def fit_fold(X: np.ndarray, columns: list[str], speakers: np.ndarray, y: np.ndarray,
             train: np.ndarray, test: np.ndarray, cell: Cell, cfg: ExperimentConfig,
             storage_url: str | None, study_name: str | None, keep_model: bool,
             paths: np.ndarray | None = None, X_aug: list[np.ndarray] | None = None,
             fold_key: str = "", neutral: np.ndarray | None = None) -> dict:
    """Tune on inner folds of ``train`` speakers, refit on all of ``train``, score ``test``.

    ``X_aug``: augmented copies of every row (aligned with ``X``, NaN where a copy failed).
    Only copies of ``train`` rows are ever used, and only for fitting (see
    :func:`benchmark.tuning.with_copies`); test rows are always originals.

    An enrolment mode (``enrol:k``, ``enrol_neutral:k``) first standardises every speaker's
    rows with the statistics of k of its own rows, drawn per ``fold_key`` (training speakers
    from their training rows, test speakers from their test rows); the test speakers'
    enrolment rows are then not scored. ``neutral`` (rows whose label is neutral) is given for
    ``enrol_neutral`` only: no other mode reads a label to normalise.
    """
    from threadpoolctl import threadpool_limits

    spec = MODELS[cell.model]
    norm = Normalisation.parse(cell.speaker_norm)
    enrolment = np.zeros(0, int)
    if norm.enrols:
        eligible = neutral if norm.kind == "enrol_neutral" else None
        if norm.kind == "enrol_neutral" and neutral is None:
            raise ValueError("enrol_neutral needs the rows' neutral mask")
        X = np.array(X, dtype=np.float32)  # this task's copy, normalised in place
        prior = enrolment_prior(X, speakers, train)  # training rows only
        strength = len(np.unique(y))  # the prior counts as one recording per class
        for side in (train, test):
            if len(side):
                drawn = draw_enrolment(speakers, side, norm.k, fold_key, cfg.seed, eligible)
                X[side] = enrolment_normalise(X, speakers, side, drawn, prior, strength)
                if side is test:
                    enrolment = np.sort(np.concatenate(list(drawn.values())))
        test = np.setdiff1d(test, enrolment)  # enrolment recordings are never scored
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
                     speaker_norm=norm.per_speaker, budget=budget,
                     inner_k=budget.inner_k or cfg.protocol.inner_k, seed=cfg.seed,
                     class_weight=cfg.class_weight, select_k=cfg.select_k,
                     storage_url=storage_url, study_name=study_name,
                     augmented=[c.iloc[train] for c in copies], fixed=fixed)
        Xtr, ytr = with_copies(frame, y, train, copies)
        params = {**tuned.params, **fixed}
        if keep_model:
            params.update(spec.final_params)
        t0 = time.perf_counter()
        pipe = build_pipeline(spec, params, speaker_norm=norm.per_speaker, seed=cfg.seed,
                              class_weight=cfg.class_weight, select_k=cfg.select_k)
        pipe.fit(Xtr, ytr, **fit_params(spec, ytr, cfg.class_weight))
        fit_s = time.perf_counter() - t0
        pred = pipe.predict(frame.iloc[test]) if len(test) else np.zeros(0, dtype=y.dtype)
    out = {"params": {**spec.defaults, **params}, "tuned_params": tuned.params,
           "inner_uar": tuned.inner_uar, "n_trials": tuned.n_trials, "n_pruned": tuned.n_pruned,
           "tune_s": round(tuned.seconds, 2), "fit_s": round(fit_s, 2), "note": tuned.note,
           "test": test.tolist(), "y_pred": pred.tolist(), "n_train": int(len(train)),
           "enrolment": enrolment.tolist(),
           "n_train_fitted": int(len(ytr))}
    clf = getattr(pipe, "named_steps", {}).get("clf", pipe)
    if hasattr(clf, "seconds_per_epoch_"):  # a network: how long it trained, and how fast
        out["epochs"] = int(clf.n_epochs_)
        out["seconds_per_epoch"] = round(float(clf.seconds_per_epoch_), 3)
    if keep_model:
        out["model"] = pipe
        if norm.enrols:  # what serving shrinks a new speaker's enrolment statistics towards
            out["enrolment_prior"] = {"mean": prior[0].tolist(), "var": prior[1].tolist(),
                                      "strength": strength}
    return out
