"""Tables a paper can take as they are: LaTeX (booktabs) that fits the text width.

Fitted by design first: readable short headers (the long meaning stays in the caption), no
constant columns (a single dataset goes to the caption), a CI as one ``[low, high]`` column,
p-values as ``< 0.001``, ``n/a`` instead of ``nan``, numbers right-aligned at fixed decimals
(so their decimal points align), names as papers write them. Putting the cells on the page
(a smaller font, group rows, continued floats, two columns) is :mod:`benchmark.report.page`'s.
Needs ``booktabs`` and ``graphicx`` (for the scaling).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from benchmark.report.page import fits, grouped, pages, table_float

#: Program names -> column headers a reader understands.
HEADERS = {
    "dataset": "Dataset", "features": "Features", "model": "Model", "normalisation": "Norm.",
    "n_features": "Dim.", "files_per_s": "Files/s", "budget": "Budget", "uar": "UAR",
    "pooled UAR": "UAR (pooled)", "pooled_uar": "UAR (pooled)", "speakers": "Spk.",
    "diff": r"$\Delta$ UAR", "gap": r"Gap (f$-$m)", "k": "$k$", "corrected_t_p": "p (unadj.)",
    "p_holm": "p (Holm)", "wilcoxon_p": "p (Wilcoxon)", "wilcoxon_min_p": "min p (W.)",
    "p_perm": "p (perm.)", "verdict": "Verdict", "a": "Set a", "b": "Set b",
    "best": "Best", "other": "Other", "variant": "Variant", "base": "Base",
    "uar_variant": "UAR variant", "uar_base": "UAR base", "n_female": "$n_f$",
    "n_male": "$n_m$", "uar_female": "UAR f", "uar_male": "UAR m", "mean": "Mean",
    "p10": "P10", "worst": "Worst", "worst_speaker": "Who", "scored": "Scored",
    "share": "Share", "diff_female": r"$\Delta$ f", "diff_male": r"$\Delta$ m",
    "female_to_male": r"f$\to$m", "male_to_female": r"m$\to$f", "train": "Train",
    **dict.fromkeys(("female_ci", "male_ci", "ci_female", "ci_male", "gap_ci",
                     "female_to_male_ci", "male_to_female_ci"), "95\\,\\% CI"),
}
#: The names papers use for the built-in feature sets and models (a fusion's parts each), with
#: what the caption says of the short ones; any other name prints as written.
NAMES = {"egemaps": ("eGeMAPS", None), "compare": ("ComParE", None),
         "librosa_classic": ("librosa", "librosa: the classic librosa recipe"),
         "logreg": ("LR", "LR: logistic regression"),
         "svm_linear": ("SVM-lin", "SVM-lin: linear SVM"),
         "svm_rbf": ("SVM-RBF", "SVM-RBF: RBF-kernel SVM"), "rf": ("RF", "RF: random forest"),
         "xgboost": ("XGBoost", None), "knn": ("$k$-NN", "$k$-NN: $k$ nearest neighbours"),
         "cnn": ("CNN", "CNN: the log-mel CNN")}
#: Decimals of a column when not the table's own (a throughput is a count per second).
DIGITS = {"files_per_s": 0}
#: Pairs of columns shown as one ``[low, high]`` column, and its header.
CI_PAIRS = (("ci_low", "ci_high", "95\\,\\% CI"), ("CI low", "CI high", "95\\,\\% CI"),
            ("diff_ci_low", "diff_ci_high", "95\\,\\% CI"),
            ("gap_ci_low", "gap_ci_high", "95\\,\\% CI"))


_SPECIAL = {"\\": r"\textbackslash{}", "$": r"\$", "{": r"\{", "}": r"\}", "_": r"\_",
            "%": r"\%", "&": r"\&", "#": r"\#", "^": r"\textasciicircum{}",
            "~": r"\textasciitilde{}", "->": r"$\rightarrow$", "±": r"$\pm$",
            "Δ": r"$\Delta$"}


def escape(s: str) -> str:
    """Text as LaTeX typesets it literally (one pass: no replacement is escaped again)."""
    return re.sub(r"->|[\\$&%#_{}^~±Δ]", lambda m: _SPECIAL[m.group(0)], s)


def _text(v) -> str:
    """A descriptive cell as text: a missing value is "n/a", never "nan"."""
    return "n/a" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _is_p(col: str) -> bool:
    return col in ("corrected_t_p", "p_holm", "wilcoxon_p", "wilcoxon_min_p", "p_perm") \
        or col.endswith("_p")


def _number(v, digits: int, p: bool) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    if isinstance(v, str):  # an interval already in words gets real minus signs
        return escape(v).replace("-", "$-$") if v.startswith("[") else escape(v)
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{v:d}"
    if p:
        return "$<$\\,0.001" if v < 0.001 else f"{v:.3f}"
    return f"{v:.{digits}f}".replace("-", "$-$")


def layout(t) -> tuple[list[str], list[list[str]], str, str]:
    """Headers, rows of cells, column spec and the caption's additions of table ``t``
    (:class:`benchmark.report.tables.Table`)."""
    frame = t.frame.reset_index(drop=True)
    index = [c for c in t.index]
    said = []
    best = _best(t)  # by the table's own column names
    original: dict[str, str] = {}
    values = list(t.paper or t.values)
    if t.paper:
        rest = [HEADERS.get(c, escape(c)) for c in t.values if c not in t.paper]
        said.append(f"More columns ({', '.join(rest)}) in {escape(t.name)}.csv.")
    if len(frame) > 1:  # a column with one value says it once, in the caption
        for c in [*index, *values]:
            if f"{c}_std" in frame and frame[f"{c}_std"].notna().any():
                continue  # a measurement with its spread stays a column
            kept = pd.unique(frame[c].map(_text))
            if len(kept) == 1 and len(index) + len(values) > 2:
                shown = escape(kept[0]) if c in index or not isinstance(frame[c].iloc[0], float) \
                    else _number(frame[c].iloc[0], t.digits, _is_p(c))
                said.append(f"{HEADERS.get(c, escape(c))}: {shown}.")
                (index if c in index else values).remove(c)
    # a single dataset named in every header ("ravdess UAR", "ravdess WA"): once, in the caption
    firsts = {v.split(" ", 1)[0] for v in values if " " in v}
    if len(firsts) == 1 and all(" " in v for v in values if not v.endswith("_std")) \
            and "Dataset:" not in " ".join(said):
        said.append(f"Dataset: {escape(firsts.pop())}.")
        short = {v: v.split(" ", 1)[1] for v in values}
        frame = frame.rename(columns={**short, **{f"{v}_std": f"{short[v]}_std"
                                                  for v in values if f"{v}_std" in frame}})
        values = [short[v] for v in values]
        original = {new: old for old, new in short.items()}
    frame = frame.copy()
    for c in [*index, *values]:  # a long text of few kinds: a short code, the text in the
        # caption (a tuning budget in words would take half the page on every row)
        col = frame[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            texts = col.map(_text)
            kinds = list(dict.fromkeys(texts))
            if texts.str.len().max() > 24 and len(kinds) <= 6:
                codes = {k: f"({chr(97 + i)})" for i, k in enumerate(kinds)}
                frame[c] = texts.map(codes)
                said.append(f"{HEADERS.get(c, c)}: " + "; ".join(
                    f"{codes[k]} {escape(k)}" for k in kinds) + ".")
    merged: dict[str, tuple[str, str, str]] = {}
    for lo, hi, header in CI_PAIRS:
        if lo in values and hi in values:
            merged[lo] = (lo, hi, header)
            values.remove(hi)
    headers = [escape(HEADERS.get(c, c)) if c not in HEADERS else HEADERS[c] for c in index]
    named: dict[str, None] = {}
    headers += [merged[c][2] if c in merged else HEADERS[c] if c in HEADERS
                else _header(c, named) for c in values]
    rows = []
    for i, r in frame.iterrows():
        row = [_text(r[c]) if _text(r[c]).startswith("(") and len(_text(r[c])) == 3 else
               _named(_text(r[c]), named) if not isinstance(r[c], float)
               else _number(r[c], DIGITS.get(c, t.digits), False) for c in index]
        for c in values:
            if c in merged:
                lo, hi = r[merged[c][0]], r[merged[c][1]]
                text = "n/a" if pd.isna(lo) else \
                    f"[{_number(lo, t.digits, False)}, {_number(hi, t.digits, False)}]"
            else:
                text = _number(r[c], DIGITS.get(c, t.digits), _is_p(c))
                std = r.get(f"{c}_std")
                if std is not None and not isinstance(std, str) and not pd.isna(std) \
                        and text != "n/a":
                    text += f" $\\pm$ {_number(std, t.digits, False)}"
            row.append(f"\\textbf{{{text}}}" if i in best.get(original.get(c, c), ())
                       else text)
        rows.append(row)
    spec = "l" * len(index) + "r" * len(values)
    if named:
        said.append("; ".join(named) + ".")
    if any("n/a" in cell for row in rows for cell in row):
        said.append("n/a: no value (too few speakers or folds for it, or not measured).")
    return headers, rows, spec, " ".join(said)


def _header(column: str, named: dict[str, None]) -> str:
    """A value column's header: a cell's name ``model (normalisation)`` as two lines, the
    model as papers name it (:data:`NAMES`; its meaning joins ``named``)."""
    m = re.fullmatch(r"(\S+) \((.+)\)", column)
    if m is None:
        return escape(column.replace("_", " "))
    name = _named(m[1], named)
    return rf"\begin{{tabular}}[b]{{@{{}}r@{{}}}}{name}\\({escape(m[2])})\end{{tabular}}"


def _named(text: str, named: dict[str, None]) -> str:
    """A descriptive cell with the built-in names as papers write them (:data:`NAMES`);
    ``named`` collects the meanings the caption owes the reader."""
    parts = []
    for part in text.split("+"):
        label, meaning = NAMES.get(part, (None, None))
        parts.append(label or escape(part))
        if meaning:
            named[meaning] = None
    return "+".join(parts)


def _best(t) -> dict[str, set[int]]:
    from benchmark.report.tables import _best_rows

    return _best_rows(t)


def reader_terms(caption: str) -> str:
    r"""An escaped caption naming columns as the LaTeX headers do (``p (Holm)``, not
    ``p\_holm``): the captions are shared with the CSV and Markdown, which keep the program
    names."""
    for name, header in sorted(HEADERS.items(), key=lambda kv: -len(kv[0])):
        if "_" in name:
            caption = re.sub(rf"(?<![\w\\]){re.escape(escape(name))}(?!\w)",
                             lambda _m, h=header: h, caption)
    return re.sub(r"(?<!\w)diff:", lambda _m: HEADERS["diff"] + ":", caption)


def to_latex(t) -> str:
    """The table as floating tables that fit a one-column article's text width and
    height (a table taller than a page continues in a second float).

    In a two-column document, a table wider than the column spans both (``table*``), so one
    file serves both layouts."""
    headers, rows, spec, said = layout(t)
    n_index = spec.count("l")
    headers, groups = grouped(headers, rows, n_index)
    n_index -= len(spec) - len(headers)
    spec = "l" * n_index + "r" * (len(headers) - n_index)
    size = fits(headers, [r for _, g in groups for r in g]) or "footnotesize"
    caption = reader_terms(escape(t.caption)) + (f" {said}" if said else "")
    if len(groups) > 1:
        caption += " Rows are grouped under the values they share."
    label = f"tab:{t.name.replace('_', '-')}"
    lines = []
    for k, part in enumerate(pages(groups, size, caption)):
        lines += table_float(t.name if k == 0 else f"{t.name}/{k + 1}",
                             caption if k == 0 else rf"Table~\ref{{{label}}}, continued.",
                             label if k == 0 else f"{label}-{k + 1}", headers, spec, size, part)
    return "\n".join(lines) + "\n"
