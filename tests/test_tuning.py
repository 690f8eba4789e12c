"""A resumed Optuna study is the study it would have been."""

import numpy as np
import optuna
import pandas as pd

from benchmark import tuning
from benchmark.config import TuningConfig
from benchmark.models import MODELS
from benchmark.tuning import ORPHAN, tune


def _data(n_speakers=4, per=12):
    rng = np.random.default_rng(0)
    speakers = np.repeat([f"s{i}" for i in range(n_speakers)], per)
    y = np.tile(np.arange(3), n_speakers * per // 3)
    X = pd.DataFrame(rng.standard_normal((len(y), 4)) + y[:, None] * 0.5,
                     columns=list("abcd"))
    X["speaker"] = speakers
    return X, y, speakers


def _tune(n_trials, url, name="study"):
    X, y, speakers = _data()
    return tune(MODELS["svm_rbf"], X, y, speakers, speaker_norm=False,
                budget=TuningConfig(n_trials=n_trials, pruning=False), inner_k=2, seed=3,
                storage_url=url, study_name=name)


def _params(url, name="study"):
    study = optuna.load_study(study_name=name, storage=url)
    done = (optuna.trial.TrialState.COMPLETE,)
    return [t.params for t in study.get_trials(states=done)]


def test_a_study_killed_and_resumed_draws_what_the_uninterrupted_one_drew(tmp_path,
                                                                          monkeypatch):
    # the killed trial never said who ran it; the resumed process treats it as orphaned at
    # once here, as it would once OWNERLESS_GRACE_S had passed
    monkeypatch.setattr(tuning, "OWNERLESS_GRACE_S", -1.0)
    whole = f"sqlite:///{tmp_path / 'whole.db'}"
    _tune(8, whole)
    resumed = f"sqlite:///{tmp_path / 'resumed.db'}"
    _tune(3, resumed)  # the first process stops after 3 trials ...
    study = optuna.load_study(study_name="study", storage=resumed)
    study.ask()  # ... and was killed during the 4th, which stays RUNNING
    result = _tune(8, resumed)
    assert _params(resumed) == _params(whole)
    assert len(_params(whole)) == 8 and result.n_trials == 8
    states = [t.state for t in optuna.load_study(study_name="study", storage=resumed).trials]
    assert optuna.trial.TrialState.RUNNING not in states
    failed = [t for t in optuna.load_study(study_name="study", storage=resumed).trials
              if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 1 and failed[0].system_attrs[ORPHAN]


def test_a_trial_just_started_by_another_process_is_not_failed_as_an_orphan(tmp_path):
    """Optuna creates a trial, then our objective writes who runs it: a process opening the
    study in between (two processes tuning one study) must leave that live trial running,
    not mark it FAIL under its owner (which then crashed on its next report)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="study", storage=url, direction="maximize")
    live = study.ask()  # another process's trial, a moment before its owner is written
    result = _tune(3, url)
    assert result.n_trials == 3
    states = {t.number: t.state for t in optuna.load_study(study_name="study",
                                                            storage=url).trials}
    assert states[live.number] == optuna.trial.TrialState.RUNNING
