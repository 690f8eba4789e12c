"""The MLflow tracker: a cell's parent run found again (resume, or an experiment recomputed
into the same store) keeps a history a logged model can link to."""

import mlflow
import numpy as np
from sklearn.dummy import DummyClassifier

from benchmark.tracking import Tracker


def test_a_parent_finished_twice_logs_no_duplicate_and_a_model_still_links(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "t", tmp_path / "artifacts")
    parent = tracker.parent("cell-1", "cell", {"model": "dummy"}, {})
    tracker.finish_parent(parent, {"uar_mean": 0.5, "fit_s": 1.0}, {})
    again = tracker.parent("cell-1", "cell", {"model": "dummy"}, {})  # the rerun finds it
    assert again == parent
    tracker.finish_parent(parent, {"uar_mean": 0.5, "fit_s": 2.0}, {})
    history = {k: tracker.client.get_metric_history(parent, k) for k in ("uar_mean", "fit_s")}
    assert [m.value for m in history["uar_mean"]] == [0.5]  # unchanged: logged once
    assert sorted(m.value for m in history["fit_s"]) == [1.0, 2.0]
    assert tracker.client.get_run(parent).data.metrics["fit_s"] == 2.0  # the latest shows
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    info = tracker.log_model(parent, lambda: mlflow.sklearn.log_model(model, name="model"))
    assert mlflow.sklearn.load_model(info.model_uri).predict(np.zeros((2, 1))).shape == (2,)
