"""Tables a paper can take: the appendix of an experiment compiles with pdflatex, with no box
wider than the text; the check fails on a table that is."""

import shutil

import pytest

from benchmark.report import write_report
from benchmark.report.paper import LatexError, compile_latex, overfull

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
    pdf = compile_latex(tex)  # raises on a LaTeX error or a box over 1 pt too wide
    assert pdf.stat().st_size > 10_000
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
