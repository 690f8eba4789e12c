"""Tables in CSV, Markdown and LaTeX (booktabs), built from one tidy frame each.

Cells hold numbers in the CSV and ``mean ± std`` text in Markdown/LaTeX; the best value of a
column is bold. Every table carries a caption naming its protocol.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Table:
    name: str  # file stem
    caption: str
    frame: pd.DataFrame  # numbers; ``<col>`` and optional ``<col>_std`` pairs
    index: tuple[str, ...]  # descriptive columns, left
    values: tuple[str, ...]  # numeric columns (bold-best), each may have ``_std``
    higher_is_better: bool = True
    digits: int = 3
    bold_best: bool = True  # off for tables of p-values, where "best" means nothing
    # the value columns a paper's LaTeX table shows (None: all); the rest stay in the CSV and
    # Markdown, and the caption says so
    paper: tuple[str, ...] | None = None


def _fmt(mean: float, std: float | None, digits: int) -> str:
    if isinstance(mean, str):  # a cell already in words: an interval, a verdict
        return mean
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "–"
    if std is None or (isinstance(std, float) and np.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _label(value) -> str:
    """A descriptive cell: a missing measurement is "n/a", never "nan"."""
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:g}"
    return str(value)


def _best_rows(t: Table) -> dict[str, set[int]]:
    best = {col: set() for col in t.values}
    if not t.bold_best:
        return best
    for col in t.values:
        if not pd.api.types.is_numeric_dtype(t.frame[col]):
            continue  # words, not measurements
        col_values = t.frame[col].astype(float)
        if col_values.notna().any():
            target = col_values.max() if t.higher_is_better else col_values.min()
            best[col] = set(np.flatnonzero(np.isclose(col_values, target)))
        else:
            best[col] = set()
    return best


def _cells(t: Table, bold: callable, pm: str) -> list[list[str]]:
    best = _best_rows(t)
    rows = []
    for i, (_, r) in enumerate(t.frame.iterrows()):
        row = [_label(r[c]) for c in t.index]
        for col in t.values:
            std = r.get(f"{col}_std")
            text = _fmt(r[col], std, t.digits).replace(" ± ", pm)
            row.append(bold(text) if i in best[col] else text)
        rows.append(row)
    return rows


def to_markdown(t: Table) -> str:
    header = list(t.index) + list(t.values)
    lines = [f"**{t.caption}**", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in _cells(t, lambda s: f"**{s}**", " ± ")]
    return "\n".join(lines) + "\n"


def to_latex(t: Table) -> str:
    """The table as LaTeX that fits a one-column article (:mod:`benchmark.report.latex`)."""
    from benchmark.report.latex import to_latex as fitted

    return fitted(t)


#: Said in the caption of every table with a transductive (``speaker-norm``) row.
TRANSDUCTIVE = ("speaker-norm: transductive (the test speaker's own recordings, unlabelled, "
                "give the statistics).")


def write(t: Table, folder: Path) -> list[Path]:
    if "normalisation" in t.frame and (t.frame["normalisation"] == "speaker-norm").any() \
            and TRANSDUCTIVE not in t.caption:
        t = dataclasses.replace(t, caption=f"{t.caption} {TRANSDUCTIVE}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{t.name}.{ext}" for ext in ("csv", "md", "tex")]
    t.frame.to_csv(paths[0], index=False, float_format="%.6f", lineterminator="\n")
    paths[1].write_text(to_markdown(t))
    paths[2].write_text(to_latex(t))
    return paths
