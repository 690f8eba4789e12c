"""Nested tuning: an Optuna study on the inner, speaker-grouped folds of one outer training set.

The outer test speakers never reach this module. Studies are stored (SQLite by default), so an
interrupted study resumes with its finished trials.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import optuna
import pandas as pd

from benchmark.config import TuningConfig
from benchmark.metrics import uar
from benchmark.models import SELECT, ModelSpec, build_pipeline, fit_params
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


STARTUP_TRIALS = 4  # trials the median pruner lets finish before it compares


def tunes_selection(spec: ModelSpec, budget: TuningConfig) -> bool:
    """Whether this cell's trials draw a selection percentile: a tuned model that reads
    feature columns (a network reads audio, it has none to select)."""
    return bool(budget.n_trials and budget.select_percentiles) and spec.input == "features"


def _epoch_pruner(trial: optuna.Trial, fold: int):
    def callback(epoch: int, val_uar: float) -> None:
        if np.isfinite(val_uar):
            trial.report(val_uar, fold * 1000 + epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
    return callback


JOURNAL = "journal:"


def storage(url: str | None):
    """An Optuna storage from a URL: ``journal:<path>`` is Optuna's journal file (safe on a
    shared file system, for several machines), anything else an SQLAlchemy URL (``sqlite:///``
    gets a long lock timeout for concurrent workers; ``postgresql://...`` for a server)."""
    if url is None:
        return None
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = url[len(JOURNAL):]
        return optuna.storages.JournalStorage(
            JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    if url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    return optuna.storages.RDBStorage(url)


ORPHAN = "serbench.orphan"  # a trial whose process died while it ran
OWNER = "serbench.owner"  # "host:pid" of the process running a trial
#: A trial that has not said who runs it yet is another process's for this long after it
#: started: the owner is written at the objective's first line, a moment after Optuna creates
#: the trial, and a process opening the study in that moment must not fail a live trial.
OWNERLESS_GRACE_S = 60.0


def _sampler(seed: int, n: int) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(seed=(seed * 1_000_003 + n) % 2**32)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _orphaned(trial: optuna.trial.FrozenTrial) -> bool:
    """A RUNNING trial whose process is gone: it ran on this host and its pid is dead, or it
    never said who ran it (killed before its first step) and started more than
    :data:`OWNERLESS_GRACE_S` ago. A trial another live process, or another machine, is
    running is left alone (several processes may tune one study)."""
    owner = trial.user_attrs.get(OWNER)
    if owner is None:
        started = trial.datetime_start
        if started is None:
            return True
        now = datetime.now(started.tzinfo)  # Optuna's storages give naive local times
        return (now - started).total_seconds() > OWNERLESS_GRACE_S
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _fail_orphans(study: optuna.Study, store) -> None:
    """Mark FAIL the trials left RUNNING by a killed process, so that the budget they used
    is given again and the study's record says what happened."""
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    running = [t for t in running if _orphaned(t)]
    if not running or store is None:  # an in-memory study is new at every call
        return
    study_id = store.get_study_id_from_name(study.study_name)
    for t in running:
        trial_id = store.get_trial_id_from_study_id_trial_number(study_id, t.number)
        store.set_trial_system_attr(trial_id, ORPHAN, True)
        store.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)


def _counted(study: optuna.Study) -> int:
    """Trials that used up budget: finished, pruned, or failed by themselves (not orphans)."""
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done)
               if not t.system_attrs.get(ORPHAN))


class _WithFixed:
    """A trial that answers the config's fixed parameters itself: they are never sampled,
    so a fixed value is the one used and the search runs over the others only."""

    def __init__(self, trial: optuna.Trial, fixed: dict):
        self._trial, self._fixed = trial, fixed

    def __getattr__(self, name):
        attr = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attr

        def suggest(param, *args, **kwargs):
            return self._fixed[param] if param in self._fixed else attr(param, *args, **kwargs)
        return suggest


def tune(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, speakers: np.ndarray, *,
         speaker_norm: bool, budget: TuningConfig, inner_k: int, seed: int = 0,
         class_weight: bool = True, select_k: int | None = None,
         storage_url: str | None = None, study_name: str | None = None,
         augmented: list[pd.DataFrame] | None = None,
         fixed: dict | None = None) -> TuneResult:
    """Best hyperparameters of ``spec`` by mean UAR over inner speaker-grouped folds.

    ``X`` holds the outer training rows only (features plus the ``speaker`` column).
    ``augmented``: copies of those rows, each aligned with ``X``; an inner fold trains on the
    copies of its own training rows, and validates on originals only.
    ``fixed``: parameters taken as given, never tuned over.
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

    # A network reports its inner fold's UAR after every epoch, for the pruner to stop it
    # early; that costs a pass over the fold's rows per epoch (a third of a 1-D CNN trial),
    # so only where pruning can happen: after the median pruner's startup trials.
    watch_epochs = budget.pruning and budget.n_trials > STARTUP_TRIALS

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(OWNER, _owner())
        params = spec.space(_WithFixed(trial, fixed or {}))
        if tunes_selection(spec, budget):
            params[SELECT] = trial.suggest_categorical(SELECT, list(budget.select_percentiles))
        scores = []
        for step, (tr, va) in enumerate(splits):
            pipe = build_pipeline(spec, params, speaker_norm=speaker_norm, seed=seed,
                                  class_weight=class_weight, select_k=select_k)
            Xtr, ytr = with_copies(X, y, tr, augmented)
            extra = fit_params(spec, ytr, class_weight)
            if spec.input == "audio" and watch_epochs:  # pruned per epoch on this fold's UAR
                extra["clf__epoch_callback"] = _epoch_pruner(trial, step)
                extra["clf__eval_set"] = (X.iloc[va], y[va])
            pipe.fit(Xtr, ytr, **extra)
            scores.append(uar(y[va], pipe.predict(X.iloc[va])))
            if spec.input != "audio":
                trial.report(float(np.mean(scores)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(scores))

    pruner = (optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)
              if budget.pruning else optuna.pruners.NopPruner())
    store = storage(storage_url)
    study = optuna.create_study(direction="maximize", study_name=study_name, storage=store,
                                load_if_exists=True, sampler=_sampler(seed, 0), pruner=pruner)
    _fail_orphans(study, store)
    deadline = time.monotonic() + budget.timeout_s
    while (n := _counted(study)) < budget.n_trials and time.monotonic() < deadline:
        # Trial n is drawn by a sampler seeded from (seed, n) and the history before it, so a
        # study resumed after a kill draws exactly what the uninterrupted one would have.
        study.sampler = _sampler(seed, n)
        study.optimize(objective, n_trials=1, catch=(ValueError,))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    pruned = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,)))
    seconds = time.perf_counter() - t0
    if not complete:
        return TuneResult({}, None, 0, pruned, seconds, "no trial finished: defaults used")
    best = study.best_trial
    return TuneResult(dict(best.params), float(best.value), len(complete), pruned, seconds)
