"""A laid-out table on the page of a one-column article: how wide and tall it will set,
descriptive columns turned into group rows until it fits the width, parts that each fit the
height, and the float that measures itself (spanning both columns of a two-column document
when wider than one, scaled only when wider than the page, and then said).

Estimates are conservative glyph counts; LaTeX has the last word (the float measures its box),
and ``serbench paper`` reports any table it had to scale.
"""

from __future__ import annotations

import re

TEXT_WIDTH_PT = 345.0  # \linewidth of a one-column article with the default margins
_CHAR_PT = {"normal": 5.5, "footnotesize": 4.4}  # a digit's width and some margin, pt
TEXT_HEIGHT_PT = 550.0  # \textheight of that article
_LINE_PT = {"normal": 12.0, "footnotesize": 9.5}  # a row's height
_CAPTION_CHARS = 75  # characters per caption line at the text width


def width(headers: list[str], rows: list[list[str]], size: str) -> float:
    """An estimate of the tabular's natural width, pt: a column is as wide as its longest
    cell (LaTeX markup discounted; capitals, bold and punctuation weighted by their glyph
    widths in Computer Modern), plus its separation."""
    def visible(s: str) -> float:
        if s.startswith(r"\begin{tabular}"):  # a header on two lines: its longer line
            return max(visible(line) for line in s[s.index("}}") + 2:-len(r"\end{tabular}")]
                       .split(r"\\"))
        bold = 1.1 if "\\textbf" in s else 1.0
        s = re.sub(r"\\textbf\{(.*)\}", r"\1", s)
        s = re.sub(r"\$\\pm\$", "±", s)
        s = re.sub(r"\$(-|<|\\Delta|\\to)\$", "M", s)  # a math sign: as wide as a capital
        s = re.sub(r"\\[a-zA-Z]+\{?\}?|[{}$]", "", s)
        return bold * sum(1.4 if ch.isupper() else 0.55 if ch in ".,:;()[]-'|!il " else 1.0
                          for ch in s)
    cols = list(zip(headers, *rows, strict=True)) if rows else [(h,) for h in headers]
    sep = 12.0 if size == "normal" else 8.0
    return sum(max(visible(c) for c in col) * _CHAR_PT[size] + sep for col in cols)


def fits(headers: list[str], rows: list[list[str]]) -> str | None:
    """The font size at which the table fits the text width, or None."""
    return next((size for size in ("normal", "footnotesize")
                 if width(headers, rows, size) <= TEXT_WIDTH_PT), None)


def grouped(headers: list[str], rows: list[list[str]], n_index: int
            ) -> tuple[list[str], list[tuple[str, list[list[str]]]]]:
    """A table too wide for the page as a paper sets it: descriptive columns of few values
    (the normalisation, the model) become group rows above their rows, fewest groups first,
    until it fits. Returns the remaining headers and ``(group label, rows)`` pairs; one
    group when the table fits as it is."""
    out: list[int] = []
    while fits(_drop(headers, out), [_drop(r, out) for r in rows]) is None:
        options = [j for j in range(n_index) if j not in out
                   and len({r[j] for r in rows}) <= 8 and n_index - len(out) > 1]
        if not options:
            break
        # the fewest groups (a table's height grows with each), then the longest values
        j = min(options, key=lambda j: (len({r[j] for r in rows}),
                                        -max(len(r[j]) for r in rows), j))
        out.append(j)
    if not out:
        return headers, [("", rows)]
    groups: dict[tuple, list[list[str]]] = {}
    for r in rows:  # in order of first appearance: the table's own order within a group
        groups.setdefault(tuple(r[j] for j in out), []).append(_drop(r, out))
    labels = {key: ", ".join(f"{headers[j]}: {v}" for j, v in zip(out, key, strict=True))
              for key in groups}
    return _drop(headers, out), [(labels[k], g) for k, g in groups.items()]


def _drop(cells: list[str], cols: list[int]) -> list[str]:
    return [c for j, c in enumerate(cells) if j not in cols]


def pages(groups: list[tuple[str, list[list[str]]]], size: str, caption: str
          ) -> list[list[tuple[str, list[list[str]]]]]:
    """The groups in parts that each fit a page: the first under the whole caption, the
    others under a one-line "continued" caption; a group cut between parts repeats its
    label."""
    def room(first: bool) -> float:
        lines = -(-len(caption) // _CAPTION_CHARS) if first else 1
        # the float's separations, the rules and the header row
        return TEXT_HEIGHT_PT - 12.0 * lines - 40.0 - _LINE_PT[size]
    line = _LINE_PT[size]
    parts: list[list[tuple[str, list[list[str]]]]] = [[]]
    used = 0.0
    for label, g in groups:
        current = None
        for k, row in enumerate(g):
            opening = (line if label else 0.0) + 3.0 if current is None else 0.0  # label, rule
            if parts[-1] and used + opening + line > room(len(parts) == 1):
                parts.append([])
                used, current = 0.0, None
                opening = (line if label else 0.0) + 3.0
            if current is None:
                current = (f"{label} (cont.)" if label and k else label, [])
                parts[-1].append(current)
            current[1].append(row)
            used += opening + line
    return parts


def table_float(name: str, caption: str, label: str, headers: list[str], spec: str, size: str,
                groups: list[tuple[str, list[list[str]]]]) -> list[str]:
    """One ``table`` float: the tabular measured in a box, spanning both columns of a
    two-column document when it is wider than one, scaled (and said) only if wider than
    the page."""
    body = []
    for k, (group, g) in enumerate(groups):
        if group:
            body += [*([r"\midrule"] if k else []),
                     rf"\multicolumn{{{len(headers)}}}{{@{{}}l}}{{\textit{{{group}}}}} \\"]
        body += [" & ".join(row) + r" \\" for row in g]
    return [r"\ifdefined\serbenchbox\else\newsavebox{\serbenchbox}\fi",
            r"\begin{lrbox}{\serbenchbox}",
            *([r"\footnotesize", r"\setlength{\tabcolsep}{4pt}"]
              if size == "footnotesize" else []),
            rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(headers) + r" \\",
            r"\midrule", *body, r"\bottomrule", r"\end{tabular}", r"\end{lrbox}",
            # two columns (\columnwidth < \textwidth) and too wide for one: span both
            r"\def\serbenchfloat{table}\ifdim\wd\serbenchbox>\columnwidth"
            r"\ifdim\columnwidth<\textwidth\def\serbenchfloat{table*}\fi\fi",
            # the natural width and the float, in the log: what `serbench paper` reports
            rf"\typeout{{serbench table {name}: \the\wd\serbenchbox\space in \serbenchfloat}}",
            r"\expandafter\begin\expandafter{\serbenchfloat}[tbp]",
            r"\centering",
            # scaled only if, after all the design, it is still too wide; then said
            rf"\caption{{{caption}\ifdim\wd\serbenchbox>\linewidth{{}} "
            r"(Scaled to the text width.)\fi}",
            rf"\label{{{label}}}",
            r"\ifdim\wd\serbenchbox>\linewidth\resizebox{\linewidth}{!}{\usebox{\serbenchbox}}"
            r"\else\usebox{\serbenchbox}\fi",
            r"\expandafter\end\expandafter{\serbenchfloat}"]
