"""Placeholder until the report issue lands: writes the summary table only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_report(experiment: str, results_dir: str = "results", tracking_uri=None) -> list[Path]:
    out = Path(results_dir) / experiment
    summary = pd.read_csv(out / "summary.csv")
    path = out / "summary.md"
    path.write_text(summary.to_markdown(index=False) + "\n")
    return [path]
