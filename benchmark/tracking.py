"""MLflow: one experiment per config, a parent run per cell, a nested run per outer fold.

Thin and explicit: the client API only, so logging from the main process while workers
compute needs no global run state.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

# No network at run time: MLflow's usage telemetry stays off.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID  # noqa: E402

CELL_TAG = "serbench.cell"
FOLD_TAG = "serbench.fold"
PLAN_TAG = "serbench.plan"  # the experiment-level run of one plan (a set of cells)
NOTE = "mlflow.note.content"  # the run description the UI shows


def default_uri(results_dir: str | Path) -> str:
    return f"sqlite:///{(Path(results_dir) / 'mlflow.db').resolve()}"


class Tracker:
    def __init__(self, uri: str, experiment: str, artifact_root: str | Path | None = None):
        # creating a new store says so at INFO, line by line, through the progress bars
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient(uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            location = Path(artifact_root).resolve().as_uri() if artifact_root else None
            self.experiment_id = self.client.create_experiment(experiment, location)
        else:
            self.experiment_id = found.experiment_id
        # MLflow 3 opens an experiment of unknown kind on its GenAI trace views: ours are
        # training runs, so the UI should open on the runs table
        self.client.set_experiment_tag(self.experiment_id, "mlflow.experimentKind",
                                       "custom_model_development")
        self.uri = uri
        self.open: set[str] = set()  # runs this process started or resumed, not yet ended

    def _runs(self, cell_id: str, fold: str | None):
        query = f"tags.`{CELL_TAG}` = '{cell_id}'"
        query += f" and tags.`{FOLD_TAG}` = '{fold}'" if fold else f" and tags.`{FOLD_TAG}` = '-'"
        return self.client.search_runs([self.experiment_id], query, max_results=50)

    def _find(self, cell_id: str, fold: str | None):
        runs = self._runs(cell_id, fold)
        finished = [r for r in runs if r.info.status == "FINISHED"]
        return (finished or runs or [None])[0]

    def experiment_run(self, plan: str, name: str, params: dict, tags: dict) -> str:
        """One run for a whole ``serbench run`` plan, the row that expands to its cells in
        the UI; found again when the same plan is resumed."""
        found = self.client.search_runs([self.experiment_id], f"tags.`{PLAN_TAG}` = '{plan}'",
                                        max_results=1)
        if found:
            self.open.add(found[0].info.run_id)
            return found[0].info.run_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={PLAN_TAG: plan, **tags})
        self.open.add(run.info.run_id)
        self._log(run.info.run_id, params=params)
        return run.info.run_id

    def parent(self, cell_id: str, name: str, params: dict, tags: dict,
               parent_run: str | None = None, artifacts: dict | None = None) -> str:
        """The cell's parent run (nested under ``parent_run``), created on first use, found
        again on resume."""
        run = self._find(cell_id, None)
        if run is not None:
            if run.info.status != "FINISHED":
                self.open.add(run.info.run_id)
            return run.info.run_id
        extra = {MLFLOW_PARENT_RUN_ID: parent_run} if parent_run else {}
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={CELL_TAG: cell_id, FOLD_TAG: "-", **extra, **tags})
        self.open.add(run.info.run_id)
        self._log(run.info.run_id, params=params)
        self._artifacts(run.info.run_id, artifacts or {})
        return run.info.run_id

    def fold_done(self, cell_id: str, fold: str) -> bool:
        run = self._find(cell_id, fold)
        return run is not None and run.info.status == "FINISHED"

    def log_fold(self, parent_id: str, cell_id: str, fold: str, name: str, params: dict,
                 metrics: dict, tags: dict, artifacts: dict[str, object]) -> str:
        """A finished nested run; ``artifacts`` maps file names to JSON-able values, text
        or paths of files to copy. A half-logged run of the same fold (its process was
        killed) is deleted first, so every fold has exactly one run."""
        for stale in self._runs(cell_id, fold):
            if stale.info.status != "FINISHED":
                self.client.delete_run(stale.info.run_id)
        run = self.client.create_run(
            self.experiment_id, run_name=name,
            tags={MLFLOW_PARENT_RUN_ID: parent_id, CELL_TAG: cell_id, FOLD_TAG: fold, **tags})
        run_id = run.info.run_id
        self.open.add(run_id)
        self._log(run_id, params=params, metrics=metrics)
        self._artifacts(run_id, artifacts)
        self._end(run_id)
        return run_id

    def finish_parent(self, parent_id: str, metrics: dict, artifacts: dict[str, object]):
        """Log a cell's summary. The parent is found again when a run resumes or an
        experiment is recomputed into the same store: values it holds already are not logged
        twice, changed ones (timings) are logged at the current time, so the history has one
        entry per (name, time, step), as ``log_model`` needs to link the metrics to a model."""
        held = self.client.get_run(parent_id).data.metrics
        fresh = {k: v for k, v in metrics.items() if held.get(k) != float(v)}
        self._log(parent_id, metrics=fresh, timestamp=int(time.time() * 1000) if held else 0)
        self._artifacts(parent_id, artifacts)
        self._end(parent_id)

    def finish(self, run_id: str, metrics: dict) -> None:
        self._log(run_id, metrics=metrics)
        self._end(run_id)

    def _end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)
        self.open.discard(run_id)

    def close_open(self) -> int:
        """End every run this process left open as KILLED (after an interrupt), so the store
        shows no run as still running; a resume finds and finishes them. Returns how many."""
        n = 0
        for run_id in list(self.open):
            self._end(run_id, "KILLED")
            n += 1
        return n

    def log_model(self, parent_id: str, log_fn):
        """Run ``log_fn()`` (an ``mlflow.<flavor>.log_model`` call) inside the parent run."""
        with mlflow.start_run(run_id=parent_id):
            return log_fn()

    def _log(self, run_id: str, params: dict | None = None, metrics: dict | None = None,
             timestamp: int = 0):
        ps = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        ms = [Metric(k, float(v), timestamp, 0) for k, v in (metrics or {}).items()]
        for i in range(0, max(len(ps), len(ms), 1), 100):
            self.client.log_batch(run_id, metrics=ms[i:i + 100], params=ps[i:i + 100],
                                  tags=[RunTag("serbench.logged", "1")] if i == 0 else [])

    def _artifacts(self, run_id: str, artifacts: dict[str, object]):
        if not artifacts:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for fname, value in artifacts.items():
                target = Path(tmp) / fname
                if isinstance(value, Path):
                    target.write_bytes(value.read_bytes())
                elif isinstance(value, str):
                    target.write_text(value)
                elif hasattr(value, "savefig"):
                    import matplotlib.pyplot as plt

                    value.savefig(target, dpi=120, bbox_inches="tight")
                    plt.close(value)
                else:
                    target.write_text(json.dumps(value, indent=1, sort_keys=True))
            self.client.log_artifacts(run_id, tmp)
