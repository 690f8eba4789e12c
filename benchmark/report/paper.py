"""One appendix per experiment, ready for a paper: ``paper/appendix.tex`` with every table and
figure, the reproducibility paragraph and the references, compiled by ``serbench paper``.

The appendix reads the report's own files (``../tables/*.tex``, ``../figures/*.pdf``), so it
is always the report it sits beside. Compiling checks what a reader's build would: no LaTeX
error, no box more than 1 pt wider than the text (:func:`overfull`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from benchmark.report.latex import escape
from benchmark.report.page import TEXT_WIDTH_PT

PAPER = "paper"
#: The BibTeX of what a serbench appendix may cite, by key.
REFERENCES = {
    "eyben2010opensmile": """@inproceedings{eyben2010opensmile,
  author = {Eyben, Florian and W{\\"o}llmer, Martin and Schuller, Bj{\\"o}rn},
  title = {{openSMILE}: The {Munich} Versatile and Fast Open-Source Audio Feature Extractor},
  booktitle = {Proceedings of the 18th ACM International Conference on Multimedia},
  pages = {1459--1462}, year = {2010}, doi = {10.1145/1873951.1874246}}""",
    "eyben2016gemaps": """@article{eyben2016gemaps,
  author = {Eyben, Florian and Scherer, Klaus R. and Schuller, Bj{\\"o}rn W. and Sundberg, Johan
            and Andr{\\'e}, Elisabeth and Busso, Carlos and Devillers, Laurence Y. and Epps,
            Julien and Laukka, Petri and Narayanan, Shrikanth S. and Truong, Khiet P.},
  title = {The {Geneva} Minimalistic Acoustic Parameter Set ({GeMAPS}) for Voice Research and
           Affective Computing},
  journal = {IEEE Transactions on Affective Computing}, volume = {7}, number = {2},
  pages = {190--202}, year = {2016}, doi = {10.1109/TAFFC.2015.2457417}}""",
    "schuller2016compare": """@inproceedings{schuller2016compare,
  author = {Schuller, Bj{\\"o}rn and Steidl, Stefan and Batliner, Anton and Hirschberg, Julia
            and Burgoon, Judee K. and Baird, Alice and Elkins, Aaron and Zhang, Yue and
            Coutinho, Eduardo and Evanini, Keelan},
  title = {The {INTERSPEECH} 2016 Computational Paralinguistics Challenge: Deception,
           Sincerity \\& Native Language},
  booktitle = {Proc. Interspeech 2016}, pages = {2001--2005}, year = {2016},
  doi = {10.21437/Interspeech.2016-129}}""",
    "nadeau2003inference": """@article{nadeau2003inference,
  author = {Nadeau, Claude and Bengio, Yoshua},
  title = {Inference for the Generalization Error},
  journal = {Machine Learning}, volume = {52}, number = {3}, pages = {239--281},
  year = {2003}, doi = {10.1023/A:1024068626366}}""",
    "holm1979": """@article{holm1979,
  author = {Holm, Sture},
  title = {A Simple Sequentially Rejective Multiple Test Procedure},
  journal = {Scandinavian Journal of Statistics}, volume = {6}, number = {2},
  pages = {65--70}, year = {1979}}""",
    "livingstone2018ravdess": """@article{livingstone2018ravdess,
  author = {Livingstone, Steven R. and Russo, Frank A.},
  title = {The {Ryerson} Audio-Visual Database of Emotional Speech and Song ({RAVDESS}): A
           dynamic, multimodal set of facial and vocal expressions in {North American}
           {English}},
  journal = {PLoS ONE}, volume = {13}, number = {5}, pages = {e0196391}, year = {2018},
  doi = {10.1371/journal.pone.0196391}}""",
    "dupuis2010tess": """@misc{dupuis2010tess,
  author = {Dupuis, Kate and Pichora-Fuller, M. Kathleen},
  title = {{Toronto} Emotional Speech Set ({TESS})},
  publisher = {University of Toronto, Psychology Department}, year = {2010},
  doi = {10.5683/SP2/E8H2MF}}""",
    "cao2014cremad": """@article{cao2014cremad,
  author = {Cao, Houwei and Cooper, David G. and Keutmann, Michael K. and Gur, Ruben C. and
            Nenkova, Ani and Verma, Ragini},
  title = {{CREMA-D}: Crowd-sourced Emotional Multimodal Actors Dataset},
  journal = {IEEE Transactions on Affective Computing}, volume = {5}, number = {4},
  pages = {377--390}, year = {2014}, doi = {10.1109/TAFFC.2014.2336244}}""",
    "haq2009savee": """@inproceedings{haq2009savee,
  author = {Haq, Sanaul and Jackson, Philip J. B.},
  title = {Speaker-Dependent Audio-Visual Emotion Recognition},
  booktitle = {Proc. Int. Conf. on Auditory-Visual Speech Processing (AVSP)},
  pages = {53--58}, year = {2009}}""",
    "burkhardt2005emodb": """@inproceedings{burkhardt2005emodb,
  author = {Burkhardt, Felix and Paeschke, Astrid and Rolfes, Miriam and Sendlmeier, Walter F.
            and Weiss, Benjamin},
  title = {A Database of {German} Emotional Speech},
  booktitle = {Proc. Interspeech 2005}, pages = {1517--1520}, year = {2005},
  doi = {10.21437/Interspeech.2005-446}}""",
    "vryzas2018aesdd": """@article{vryzas2018aesdd,
  author = {Vryzas, Nikolaos and Kotsakis, Rigas and Liatsou, Aikaterini and Dimoulas,
            Charalampos A. and Kalliris, George},
  title = {Speech Emotion Recognition for Performance Interaction},
  journal = {Journal of the Audio Engineering Society}, volume = {66}, number = {6},
  pages = {457--467}, year = {2018}, doi = {10.17743/jaes.2018.0036}}""",
}
CORPUS_KEYS = {"ravdess": "livingstone2018ravdess", "tess": "dupuis2010tess",
               "crema-d": "cao2014cremad", "savee": "haq2009savee", "emodb": "burkhardt2005emodb",
               "aesdd": "vryzas2018aesdd"}
SET_KEYS = {"egemaps": ["eyben2010opensmile", "eyben2016gemaps"],
            "compare": ["eyben2010opensmile", "schuller2016compare"]}


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _cite(keys: list[str]) -> str:
    return f"\\cite{{{','.join(dict.fromkeys(keys))}}}"


def reproducibility(out: Path, experiment: str) -> tuple[str, list[str]]:
    """The paragraph (LaTeX) and the reference keys it cites."""
    run, data = _read(out / "run.json"), _read(out / "data.json")
    config = _read(out / "config.resolved.json")
    corpora = sorted(data)
    sets = [s for s in config.get("feature_sets", []) for s in s.split("+")]
    keys = [CORPUS_KEYS[c] for c in corpora if c in CORPUS_KEYS]
    set_keys = [k for s in sets for k in SET_KEYS.get(s, [])]
    commit = run.get("git_commit", "unknown")
    dirty = " (with uncommitted changes)" if run.get("git_dirty") else ""
    said = [f"These results were produced by \\texttt{{serbench run experiments/"
            f"{escape(experiment)}.toml}} at commit \\texttt{{{commit[:12]}}}{dirty} on a "
            f"machine with {run.get('cores', '?')} cores ({run.get('n_jobs', '?')} workers), in "
            f"{run.get('wall_s', float('nan')):.0f}\\,s of wall time "
            f"({run.get('tasks_run', '?')} tasks run, {run.get('tasks_resumed', '?')} resumed); "
            f"\\texttt{{serbench report {escape(experiment)}}} rebuilds every table and figure "
            "here from the stored folds."]
    if corpora:
        described = "; ".join(
            f"{escape(c)}{' ' + _cite([CORPUS_KEYS[c]]) if c in CORPUS_KEYS else ''}: "
            f"{data[c].get('files', '?')} files, {data[c].get('speakers', '?')} speakers, "
            f"BLAKE2b \\texttt{{{str(data[c].get('blake2b', '?'))[:16]}}}" for c in corpora)
        said.append(f"Data: {described}.")
    if set_keys:
        said.append(f"openSMILE feature sets {_cite(set_keys)}.")
    said.append("Feature sets are compared with the corrected resampled t-test "
                f"{_cite(['nadeau2003inference'])}, and every table's p-values are "
                f"Holm-adjusted {_cite(['holm1979'])}.")
    return " ".join(said), [*keys, *set_keys, "nadeau2003inference", "holm1979"]


def write_appendix(out: Path, experiment: str, figure_captions: dict[str, str]) -> list[Path]:
    """``paper/appendix.tex`` and ``paper/references.bib`` beside the report's tables and
    figures; returns their paths."""
    folder = out / PAPER
    folder.mkdir(exist_ok=True)
    text, keys = reproducibility(out, experiment)
    tables = sorted((out / "tables").glob("*.tex"), key=lambda p: (p.stem != "main", p.stem))
    figures = sorted((out / "figures").glob("*.pdf"))
    body = [f"\\input{{../tables/{p.name}}}" for p in tables]
    for k, fig in enumerate(figures):
        caption = next((v for pre, v in figure_captions.items()
                        if f"figures/{fig.stem}".startswith(pre)), fig.stem)
        body += [r"\begin{figure}[tbp]", r"\centering",
                 rf"\includegraphics[width=\linewidth,height=0.8\textheight,keepaspectratio]"
                 rf"{{../figures/{fig.name}}}",
                 rf"\caption{{{escape(caption[:1].upper() + caption[1:])} "
                 rf"(\texttt{{{escape(fig.stem)}}}).}}",
                 rf"\label{{fig:{fig.stem.replace('_', '-')}}}", r"\end{figure}"]
        if k % 2 == 1:
            body.append(r"\clearpage")  # floats are placed before they pile up
    # a long table is one float per page, so a table of many sets holds more floats than
    # LaTeX keeps unplaced (52 since 2021): a place for each, or "Too many unprocessed floats"
    n_floats = len(figures) + sum(p.read_text().count(r"\typeout{serbench table ")
                                  for p in tables)
    tex = "\n".join([
        r"\documentclass{article}", r"\usepackage[T1]{fontenc}", r"\usepackage{booktabs}",
        r"\usepackage{graphicx}", rf"\extrafloats{{{n_floats}}}",
        r"\pdfsuppressptexinfo=-1 \pdftrailerid{}  % the same PDF on every build",
        r"\begin{document}",
        r"\sloppy  % hashes and commands in \texttt do not hyphenate: stretch spaces instead",
        rf"\section*{{Appendix: {escape(experiment)}}}", "", text, "",
        r"\clearpage", *body, r"\clearpage", r"\bibliographystyle{plain}",
        r"\bibliography{references}", r"\end{document}", ""])
    (folder / "appendix.tex").write_text(tex)
    (folder / "references.bib").write_text(
        "\n\n".join(REFERENCES[k] for k in dict.fromkeys(keys)) + "\n")
    return [folder / "appendix.tex", folder / "references.bib"]


class LatexError(RuntimeError):
    """The appendix did not compile, or a box is wider than the text."""


def overfull(log: str, tolerance_pt: float = 1.0) -> list[str]:
    """The overfull boxes of a LaTeX log wider than ``tolerance_pt``, and the floats taller
    than the page by as much."""
    return [m.group(0) for m in re.finditer(
        r"Overfull \\[hv]box \(([\d.]+)pt too \w+\)[^\n]*|Float too large for page by "
        r"([\d.]+)pt[^\n]*", log) if float(m.group(1) or m.group(2)) > tolerance_pt]


def measured(log: str) -> list[tuple[str, float, str]]:
    """Each table's name, natural width (pt) and float (``table`` or ``table*``), from the
    ``serbench table`` lines its float writes to the log."""
    return [(name, float(w), env) for name, w, env in
            re.findall(r"serbench table (\S+): ([\d.]+)pt in (table\*?)", log)]


def scaled(log: str, width_pt: float = TEXT_WIDTH_PT) -> dict[str, float]:
    """Tables whose natural width exceeds the text width, with the scale LaTeX applied to fit
    them."""
    return {name: width_pt / w for name, w, _ in measured(log) if w > width_pt}


def compile_latex(tex: Path, report: dict | None = None) -> Path:
    """``pdflatex``, ``bibtex``, ``pdflatex`` twice, in ``tex``'s folder, reproducibly; returns
    the PDF, and in ``report`` (if given) the tables scaled to fit (``"scaled"``,
    :func:`scaled`) and those spanning both columns of a two-column document (``"spanning"``).
    Raises :class:`LatexError` naming the first error or the overfull boxes, and
    ``FileNotFoundError`` when ``pdflatex`` is not installed."""
    if shutil.which("pdflatex") is None:
        raise FileNotFoundError("pdflatex is not installed (Debian: texlive-latex-base "
                                "texlive-latex-recommended)")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    steps = [["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name]]
    if (tex.parent / "references.bib").exists():
        steps += [["bibtex", tex.stem]]
    steps += [steps[0], steps[0]]
    for cmd in steps:
        done = subprocess.run(cmd, cwd=tex.parent, env=env, capture_output=True,
                              encoding="utf-8", errors="replace",  # TeX echoes 8-bit text
                              timeout=300)
        if done.returncode != 0:
            log = tex.with_suffix(".log")
            text = log.read_text(errors="replace") if log.exists() else done.stdout
            first = next((line for line in text.splitlines() if line.startswith("!")),
                         done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "")
            raise LatexError(f"{tex}: {cmd[0]} failed: {first}")
    log = tex.with_suffix(".log").read_text(errors="replace")
    if report is not None:
        report["scaled"] = scaled(log)
        report["spanning"] = sorted({name for name, _, env in measured(log) if env == "table*"})
    wide = overfull(log)
    if wide:
        raise LatexError(f"{tex}: {len(wide)} box(es) wider than the text: {wide[0]}")
    for ext in (".aux", ".bbl", ".blg", ".out", ".log"):  # the PDF is what is kept (the log
        # names this machine's paths)
        tex.with_suffix(ext).unlink(missing_ok=True)
    return tex.with_suffix(".pdf")
