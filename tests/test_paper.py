"""Tables a paper can take: the appendix of an experiment compiles with pdflatex, with no box
wider than the text; the check fails on a table that is."""

import shutil

import numpy as np
import pandas as pd
import pytest

from benchmark.report import write_report
from benchmark.report.latex import to_latex
from benchmark.report.paper import LatexError, compile_latex, overfull
from benchmark.report.tables import Table

needs_latex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                 reason="pdflatex not installed (.ci/run installs texlive)")


@needs_latex
@pytest.mark.slow  # make test-slow (CI runs it): a whole report with figures, then LaTeX
@pytest.mark.xdist_group("trained_smoke")
def test_the_smoke_appendix_compiles_and_every_table_fits(trained_smoke, tmp_path):
    results, _ = trained_smoke
    out = shutil.copytree(f"{results}/smoke", tmp_path / "smoke", ignore=shutil.ignore_patterns(
        "optuna.db"))
    write_report("smoke", tmp_path)
    tex = out / "paper" / "appendix.tex"
    text = tex.read_text()
    assert r"\input{../tables/main.tex}" in text and r"\bibliography{references}" in text
    assert "holm1979" in (out / "paper" / "references.bib").read_text()
    said = {}
    pdf = compile_latex(tex, said)  # raises on a LaTeX error or a box over 1 pt too wide
    assert pdf.stat().st_size > 10_000
    assert said["scaled"] == {}  # fitted by design, not shrunk
    main = (out / "tables" / "main.tex").read_text()
    assert "nan" not in main and r"\toprule" in main and "Norm." in main


@needs_latex
def test_the_check_fails_on_a_table_wider_than_the_text(tmp_path):
    cols = 30
    tex = tmp_path / "wide.tex"
    tex.write_text("\n".join([
        r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}",
        rf"\begin{{tabular}}{{{'r' * cols}}}", r"\toprule",
        " & ".join(f"col{i}" for i in range(cols)) + r" \\", r"\midrule",
        " & ".join("0.123" for _ in range(cols)) + r" \\", r"\bottomrule", r"\end{tabular}",
        r"\end{document}", ""]))
    with pytest.raises(LatexError, match="wider than the text"):
        compile_latex(tex)


def test_overfull_reads_the_log():
    log = ("Overfull \\hbox (0.5pt too wide) in paragraph\n"
           "Overfull \\hbox (340.2pt too wide) in alignment at lines 12--40\n")
    assert overfull(log) == ["Overfull \\hbox (340.2pt too wide) in alignment at lines 12--40"]


EMOTIONS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def _recall_like(n_sets: int = 4) -> Table:
    """A per-emotion recall table as wide as RAVDESS's: three descriptive columns and eight
    emotions, long names."""
    rng = np.random.default_rng(0)
    rows = [{"features": f, "model": m, "normalisation": n,
             **{e: float(rng.uniform(0.1, 0.9)) for e in EMOTIONS}}
            for f in ["bank", "compare", "egemaps", "librosa_classic"][:n_sets]
            for m in ["logreg", "svm_linear", "svm_rbf"] for n in ["global", "speaker-norm"]]
    return Table("recall_wide", "Per-emotion recall corrected_t_p.", pd.DataFrame(rows),
                 ("features", "model", "normalisation"), tuple(EMOTIONS))


def _tall(n: int = 90) -> Table:
    rows = [{"model": m, "features": f"set{i}", "uar": 0.5 + i / 1000}
            for m in ["logreg", "svm_rbf"] for i in range(n // 2)]
    return Table("tall", "A table taller than a page.", pd.DataFrame(rows), ("model", "features"),
                 ("uar",))


def _compile(tmp_path, tables: list[Table], options: str = "") -> tuple[dict, str]:
    for t in tables:
        (tmp_path / f"{t.name}.tex").write_text(to_latex(t))
    tex = tmp_path / "doc.tex"
    tex.write_text("\n".join([
        rf"\documentclass[{options}]{{article}}", r"\usepackage[T1]{fontenc}",
        r"\usepackage{booktabs}", r"\usepackage{graphicx}", r"\begin{document}",
        *[rf"\input{{{t.name}.tex}}" for t in tables], r"\end{document}", ""]))
    said = {}
    compile_latex(tex, said)  # raises on an error, an overfull box or a float over the page
    return said, "\n".join(p.read_text() for p in tmp_path.glob("*.tex"))


@needs_latex
def test_a_wide_table_fits_by_grouping_rows_not_by_scaling(tmp_path):
    t = _recall_like()
    said, tex = _compile(tmp_path, [t])
    assert said["scaled"] == {}
    assert r"\textit{Norm.: global" in tex  # the normalisation became group rows
    assert "SVM-RBF" in tex and "logistic regression" in tex  # names as papers write them
    assert "p (unadj.)" in tex and "corrected\\_t\\_p" not in tex  # reader terms


@needs_latex
def test_a_table_taller_than_a_page_continues_in_a_second_float(tmp_path):
    said, tex = _compile(tmp_path, [_tall()])
    assert r"Table~\ref{tab:tall}, continued." in tex and said["scaled"] == {}


@needs_latex
def test_the_same_files_fit_a_two_column_page(tmp_path):
    """One layout for both: in a two-column document a table wider than the column spans
    both columns; nothing overflows either way."""
    tables = [_recall_like(), _tall(), Table("narrow", "Two columns.", pd.DataFrame(
        {"model": ["logreg", "svm_rbf"], "uar": [0.5, 0.6]}), ("model",), ("uar",))]
    said, _ = _compile(tmp_path, tables, "twocolumn")
    assert said["scaled"] == {}
    assert said["spanning"] == ["recall_wide"]  # wider than a column, not the narrow ones
    one, _ = _compile(tmp_path, tables)
    assert one["spanning"] == []


def test_a_cell_named_header_takes_two_lines_and_the_papers_name():
    from benchmark.report.latex import _header
    from benchmark.report.page import width

    named = {}
    h = _header("svm_rbf (speaker-norm)", named)
    assert h.startswith(r"\begin{tabular}[b]") and r"SVM-RBF\\(speaker-norm)" in h
    assert list(named) == ["SVM-RBF: RBF-kernel SVM"]
    # as wide as its longer line, not both
    assert width([h], [], "normal") == width(["(speaker-norm)"], [], "normal")


@needs_latex
def test_an_appendix_with_more_floats_than_latex_keeps_compiles(tmp_path):
    """A table of twenty sets' pairs runs to dozens of pages, one float each, and an appendix
    has no text between floats to place them: more than LaTeX keeps unplaced (52 since
    2021; "Too many unprocessed floats" on results/design_loso), so it makes room for each."""
    from benchmark.report.paper import write_appendix

    (tmp_path / "tables").mkdir()
    tall = to_latex(_tall(3000))
    assert tall.count(r"\typeout{serbench table ") > 60
    (tmp_path / "tables" / "tall.tex").write_text(tall)
    tex = write_appendix(tmp_path, "many", {})[0]
    said = {}
    assert compile_latex(tex, said).stat().st_size > 10_000 and said["scaled"] == {}
