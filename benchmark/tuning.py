"""Nested tuning: an Optuna study on the inner, speaker-grouped folds of one outer training set.

The outer test speakers never reach this module. Studies are stored (SQLite by default), so an
interrupted study resumes with its finished trials.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd

from benchmark.config import TuningConfig
from benchmark.metrics import uar
from benchmark.models import ModelSpec, build_pipeline, fit_params
from benchmark.protocols import inner_splits

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class TuneResult:
    params: dict
    inner_uar: float | None  # best mean inner-fold UAR (None: not tuned)
    n_trials: int  # finished trials in the study
    n_pruned: int
    seconds: float
    note: str = ""


def with_copies(X: pd.DataFrame, y: np.ndarray, rows: np.ndarray,
                augmented: list[pd.DataFrame] | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows ``rows`` of ``X`` plus their augmented copies (those that could be computed)."""
    if not augmented:
        return X.iloc[rows], y[rows]
    parts = [X.iloc[rows]] + [A.iloc[rows] for A in augmented]
    frame = pd.concat(parts, ignore_index=True)
    labels = np.tile(y[rows], len(parts))
    keep = ~frame.drop(columns=[c for c in ("speaker", "path") if c in frame]).isna().any(
        axis=1).to_numpy()
    return frame[keep], labels[keep]


def _epoch_pruner(trial: optuna.Trial, fold: int):
    def callback(epoch: int, val_uar: float) -> None:
        if np.isfinite(val_uar):
            trial.report(val_uar, fold * 1000 + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
    return callback


def storage(url: str | None):
    """An Optuna RDB storage; SQLite gets a long lock timeout for concurrent workers."""
    if url is None:
        return None
    if url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    return optuna.storages.RDBStorage(url)


def tune(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, speakers: np.ndarray, *,
         speaker_norm: bool, budget: TuningConfig, inner_k: int, seed: int = 0,
         class_weight: bool = True, select_k: int | None = None,
         storage_url: str | None = None, study_name: str | None = None,
         augmented: list[pd.DataFrame] | None = None) -> TuneResult:
    """Best hyperparameters of ``spec`` by mean UAR over inner speaker-grouped folds.

    ``X`` holds the outer training rows only (features plus the ``speaker`` column).
    ``augmented``: copies of those rows, each aligned with ``X``; an inner fold trains on the
    copies of its own training rows, and validates on originals only.
    With fewer than two training speakers no speaker-independent tuning exists: the model's
    defaults are returned with a note saying so.
    """
    t0 = time.perf_counter()
    if budget.n_trials == 0:
        return TuneResult({}, None, 0, 0, 0.0, "tuning disabled (n_trials = 0): defaults")
    splits = inner_splits(speakers, y, inner_k, seed)
    if not splits:
        return TuneResult({}, None, 0, 0, 0.0,
                          "not tuned: fewer than 2 training speakers; defaults used")

    def objective(trial: optuna.Trial) -> float:
        params = spec.space(trial)
        scores = []
        for step, (tr, va) in enumerate(splits):
            pipe = build_pipeline(spec, params, speaker_norm=speaker_norm, seed=seed,
                                  class_weight=class_weight, select_k=select_k)
            Xtr, ytr = with_copies(X, y, tr, augmented)
            extra = fit_params(spec, ytr, class_weight)
            if spec.input == "audio":  # networks are pruned per epoch, on their val UAR
                extra["clf__epoch_callback"] = _epoch_pruner(trial, step)
            pipe.fit(Xtr, ytr, **extra)
            scores.append(uar(y[va], pipe.predict(X.iloc[va])))
            if spec.input != "audio":
                trial.report(float(np.mean(scores)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(scores))

    pruner = (optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
              if budget.pruning else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", study_name=study_name,
                                storage=storage(storage_url), load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=states))
    if done < budget.n_trials:
        study.optimize(objective, n_trials=budget.n_trials - done, timeout=budget.timeout_s,
                       catch=(ValueError,))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    pruned = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,)))
    seconds = time.perf_counter() - t0
    if not complete:
        return TuneResult({}, None, 0, pruned, seconds, "no trial finished: defaults used")
    best = study.best_trial
    return TuneResult(dict(best.params), float(best.value), len(complete), pruned, seconds)
