"""Past one machine: a Dask cluster gives the same features and tables as loky, and one
Optuna study can be tuned from several processes at once."""

import subprocess
import sys

import numpy as np
import optuna
import pytest

from benchmark.corpora import open_corpus
from features import FeatureBank, FeatureConfig
from features.cache import Cache
from features.parallel import extract
from tests.conftest import SMOKE

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, one thread each, as a user would start one."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def test_dask_backend_matches_loky(tmp_path, synth_root, cluster):
    from features.parallel import compute_backend

    paths = list(open_corpus("synth", synth_root).scan().manifest.path[:8])
    bank = FeatureBank(FeatureConfig(groups=("temporal", "mfcc")))
    loky, _ = extract(paths, bank, Cache(tmp_path / "a"), n_jobs=2, progress=False)
    with compute_backend(None, 2, cluster.scheduler_address):
        dask, report = extract(paths, bank, Cache(tmp_path / "b"), n_jobs=2, chunk_size=2,
                               progress=False)
    assert report.misses == 8 and not report.errors
    for a, b in zip(loky, dask, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # make test-slow: whole runs and processes on a cluster
def test_smoke_experiment_on_a_cluster_equals_loky_byte_for_byte(tmp_path, cluster):
    """Extraction and every (cell, fold) task on the cluster; this process writes the
    checkpoints and the report. The tables are the loky run's, byte for byte."""
    from benchmark.config import load_experiment
    from benchmark.report import write_report
    from benchmark.run import RunOptions, run

    tables = {}
    for mode, scheduler in (("loky", None), ("dask", cluster.scheduler_address)):
        results = tmp_path / mode
        cfg = load_experiment(SMOKE, results_dir=str(results), final_model="none")
        run(cfg, RunOptions(cache_dir=str(tmp_path / f"cache-{mode}"), n_jobs=2,
                            progress=False, scheduler=scheduler))
        write_report("smoke", results)
        tables[mode] = {p.relative_to(results): p.read_bytes()
                        for p in sorted((results / "smoke" / "tables").iterdir())}
    assert tables["dask"] and tables["dask"] == tables["loky"]


TUNE = """
import sys, time
from pathlib import Path
import numpy as np, pandas as pd
from benchmark.config import TuningConfig
from benchmark.models import MODELS
from benchmark.tuning import tune
rng = np.random.default_rng(0)
speakers = np.repeat([f"s{i}" for i in range(4)], 12)
y = np.tile(np.arange(3), 16)
X = pd.DataFrame(rng.standard_normal((48, 4)) + y[:, None] * 0.5, columns=list("abcd"))
X["speaker"] = speakers
ready = Path(sys.argv[3])  # start together, whatever each process's import time
(ready / sys.argv[2]).touch()
while len(list(ready.iterdir())) < 2:
    time.sleep(0.01)
tune(MODELS["svm_rbf"], X, y, speakers, speaker_norm=False, seed=int(sys.argv[2]),
     budget=TuningConfig(n_trials=10, pruning=False), inner_k=2, storage_url=sys.argv[1],
     study_name="shared")
"""


@pytest.mark.slow  # make test-slow: whole runs and processes on a cluster
@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_one_study_tuned_from_two_processes_records_every_trial_once(tmp_path, kind):
    url = (f"journal:{tmp_path / 'optuna.journal'}" if kind == "journal"
           else f"sqlite:///{tmp_path / 'optuna.db'}")
    from benchmark.tuning import storage

    optuna.create_study(study_name="shared", storage=storage(url), direction="maximize")
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", TUNE, url, str(seed), str(ready)],
                              stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = optuna.load_study(study_name="shared", storage=storage(url)).trials
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # each trial recorded once
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 10 <= len(done) <= 11  # the budget, give or take the one both started at once
    owners = {t.user_attrs["serbench.owner"] for t in done}
    assert len(owners) == 2  # both processes did share the work
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials)
