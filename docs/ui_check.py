"""Look at the MLflow UI as a user would: a real headless Chromium, driven by Playwright.

    python docs/ui_check.py runs/smoke/mlflow.db smoke docs/

starts ``mlflow ui`` on 127.0.0.1 over the store, opens the experiment, expands the run of the
whole ``serbench run``, shows the axis params (dataset, features, model, normalisation) and
``uar_mean`` as columns, and checks that each cell's row shows its own values; then switches
to the chart view grouped by ``params.model`` and checks that the ``uar_mean`` chart has one
bar per model with the mean the store holds. Saves ``mlflow-ui-table.png`` and
``mlflow-ui-chart.png`` in the output folder; exits 1 if a check fails. Needs a system
Chromium (``/usr/bin/chromium``, or ``CHROMIUM``) and the ``playwright`` package (``pip install
-e '.[ui]'``; no browser download). The selectors are MLflow 3's (checked on 3.17).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
AXES = ("dataset", "features", "model", "normalisation")
GROUPS = ("Attributes", "Parameters", "Metrics", "Tags")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(uri: str):
    """``mlflow ui`` over ``uri`` on a free local port; yields its base URL."""
    port = _port()
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen([str(mlflow), "ui", "--backend-store-uri", uri, "--host",
                               "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"mlflow ui did not answer on {base} within 2 minutes")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def expected(uri: str, experiment: str) -> tuple[str, list[dict], dict[str, float]]:
    """The experiment id, each cell run's axes and ``uar_mean``, and the mean per model."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(f"no experiment {experiment!r} in {uri}")
    cells = [{**{a: r.data.params[a] for a in AXES}, "uar_mean": r.data.metrics["uar_mean"]}
             for r in client.search_runs([exp.experiment_id], "params.model != ''")
             if "uar_mean" in r.data.metrics]
    by_model: dict[str, list[float]] = {}
    for c in cells:
        by_model.setdefault(c["model"], []).append(c["uar_mean"])
    return exp.experiment_id, cells, {m: sum(v) / len(v) for m, v in by_model.items()}


def _toggle_column(page, group: str, name: str) -> bool:
    """Tick (or untick) one entry of the Columns menu, under its group heading."""
    page.get_by_placeholder("Search columns").fill(name)
    page.wait_for_timeout(600)
    nodes = page.locator(".du-bois-light-tree-treenode")
    current = None
    for i in range(nodes.count()):
        text = nodes.nth(i).inner_text().strip()
        head = text.split(" ")[0]
        if head in GROUPS and (text == head or text.startswith(head + " (")):
            current = head
        elif current == group and text == name:
            nodes.nth(i).locator(".du-bois-light-tree-checkbox").click()
            page.wait_for_timeout(400)
            return True
    return False


def table_view(page, base: str, exp_id: str, cells: list[dict], out: Path) -> dict[str, bool]:
    page.goto(f"{base}/#/experiments/{exp_id}/runs")
    page.wait_for_timeout(6000)
    assistant = page.locator('[aria-label*="lose"]')  # MLflow 3 opens an assistant panel
    if assistant.count():
        assistant.first.click()
        page.wait_for_timeout(800)
    page.locator('button[data-component-id*="runnamecellrenderer"]').first.click()  # expand
    page.wait_for_timeout(2000)
    page.get_by_role("button", name="Columns").first.click()
    page.wait_for_timeout(1500)
    ticked = [_toggle_column(page, "Attributes", a) for a in ("Dataset", "Source", "Models")]
    ticked += [_toggle_column(page, "Parameters", a) for a in AXES]
    ticked.append(_toggle_column(page, "Metrics", "uar_mean"))
    page.keyboard.press("Escape")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "mlflow-ui-table.png"))
    headers = page.locator(".ag-header-cell").evaluate_all(
        "hs => hs.map(h => h.getAttribute('col-id'))")
    rows = page.locator(".ag-center-cols-container .ag-row")
    shown = [r.inner_text() for r in rows.all()]
    checks = {"columns ticked": all(ticked),
              "axis columns shown": all(f"params.`{a}`" in headers for a in AXES)
              and "metrics.`uar_mean`" in headers}
    for c in cells:  # each cell's row carries its own axes and its UAR
        want = [c[a] for a in AXES] + [f"{c['uar_mean']:.4f}"[:5]]
        checks[f"row {'/'.join(c[a] for a in AXES)}"] = any(
            all(w in row for w in want) for row in shown)
    return checks


def chart_view(page, by_model: dict[str, float], out: Path) -> dict[str, bool]:
    page.locator('input[name="runs-view-mode"][value="CHART"]').evaluate("e => e.click()")
    page.wait_for_timeout(4000)
    page.get_by_placeholder("Search metric charts").fill("uar_mean")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Group by").first.click()
    page.wait_for_timeout(1000)
    page.get_by_placeholder("Search").last.fill("model")
    page.wait_for_timeout(1000)
    page.locator('[role="menuitemcheckbox"]', has_text="model").filter(
        has_not_text="models").last.click()  # the last "model" item is the param's
    page.keyboard.press("Escape")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "mlflow-ui-chart.png"))
    cards = page.locator('[data-testid="experiment-view-compare-runs-card"]').all()
    text = next((t for t in (c.text_content() or "" for c in cards)
                 if "uar_mean" in t and "best_uar_mean" not in t), "")
    checks = {"grouped by model": "Group by: model" in page.inner_text("body")}
    for model, mean in by_model.items():
        checks[f"bar {model} = {mean:.2f}"] = model in text and f"{mean:.2f}" in text
    return checks


def main(store: str, experiment: str, out_dir: str = "docs") -> int:
    from playwright.sync_api import sync_playwright

    uri = f"sqlite:///{Path(store).resolve()}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    exp_id, cells, by_model = expected(uri, experiment)
    with serve(uri) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        checks = table_view(page, base, exp_id, cells, out)
        checks.update(chart_view(page, by_model, out))
        browser.close()
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
