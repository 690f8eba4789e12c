"""The MLflow UI, driven in a real headless Chromium: the axes are columns, the chart view plots
UAR by model (docs/ui_check.py; `make ui-check` makes the README's screenshots the same way)."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import ui_check  # noqa: E402

pytestmark = [
    pytest.mark.ui, pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="playwright not installed (pip install -e '.[ui]')"),
    pytest.mark.skipif(shutil.which(ui_check.CHROMIUM) is None,
                       reason=f"no Chromium at {ui_check.CHROMIUM}"),
]


def test_mlflow_ui_shows_axes_as_columns_and_uar_by_model(tmp_path):
    serbench = Path(sys.executable).with_name("serbench")
    subprocess.run([str(serbench), "run", str(ROOT / "experiments" / "smoke.toml"), "-q",
                    "--results-dir", str(tmp_path / "runs"), "--cache-dir",
                    str(tmp_path / "cache"), "--n-jobs", "2", "--no-report"], check=True)
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "ui_check.py"),
                           str(tmp_path / "runs" / "mlflow.db"), "smoke", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("ok   row ") for line in lines) == 4  # 2 models x 2 norms
    assert any(line.startswith("ok   bar svm_rbf") for line in lines)
    for png in ("mlflow-ui-table.png", "mlflow-ui-chart.png"):
        assert (tmp_path / png).stat().st_size > 20_000
