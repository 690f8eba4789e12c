"""How much of the per-speaker normalisation gain survives realistic enrolment.

The transductive mode (``speaker-norm``) standardises a test speaker with all of their own
recordings; the enrolment modes with k of them, which are then not scored
(:mod:`benchmark.preprocessing`). Per dataset, feature set and model: every mode's pooled
UAR with its speaker-bootstrap CI and the rows scored, the curve of UAR against k with the
``global`` and ``speaker-norm`` levels as horizontals, and the share of the transductive gain
(speaker-norm minus global) that k enrolment recordings keep.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark import metrics
from benchmark.metrics import N_BOOT, speaker_confusions
from benchmark.preprocessing import Normalisation
from benchmark.report.results import Results, primary
from benchmark.report.tables import Table

AXES = ["dataset", "features", "model"]


def mode_rows(res: Results) -> pd.DataFrame:
    """One row per cell: its mode (``kind``, ``k``), mean UAR over folds, pooled UAR with
    its 95% speaker-bootstrap CI, and the rows scored."""
    cells = primary(res)
    cells = cells[cells["role"] == "set"]
    means = res.folds.groupby("cell_id")["uar"].mean()
    scored = res.folds.groupby("cell_id")["n_test"].sum()
    rows = []
    for _, c in cells.iterrows():
        mode = Normalisation.parse(_config_value(c["normalisation"]))
        preds = res.predictions[res.predictions["cell_id"] == c["cell_id"]]
        conf, _ = speaker_confusions(preds, c["classes"])
        lo, hi = metrics.bootstrap_ci(conf)
        rows.append({**{k: c[k] for k in AXES}, "normalisation": c["normalisation"],
                     "kind": mode.kind, "k": mode.k, "uar": means[c["cell_id"]],
                     "pooled_uar": metrics.pooled_uar(conf), "ci_low": lo, "ci_high": hi,
                     "scored": int(scored[c["cell_id"]])})
    return pd.DataFrame(rows)


def _config_value(label: str):
    return {"global": False, "speaker-norm": True}.get(label, label)


def with_share(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each row's share of the transductive gain, (mode - global) /
    (speaker-norm - global), in pooled UAR, where its dataset, set and model have both."""
    out = []
    for _, grp in frame.groupby(AXES, sort=False):
        by = grp.set_index("kind")["pooled_uar"]
        base, top = by.get("none"), by.get("transductive")
        gain = (top - base) if base is not None and top is not None else np.nan
        out.append(grp.assign(share=(grp["pooled_uar"] - base) / gain
                              if gain == gain and gain != 0 else np.nan))
    return pd.concat(out)


def enrolment_table(res: Results) -> tuple[Table | None, pd.DataFrame]:
    """The table (``None`` when no cell enrols) and its frame."""
    frame = mode_rows(res)
    if frame.empty or not frame["kind"].isin(["enrol", "enrol_neutral"]).any():
        return None, frame
    order = {"none": 0, "enrol": 1, "enrol_neutral": 2, "transductive": 3}
    frame = with_share(frame).assign(_o=lambda f: f["kind"].map(order)).sort_values(
        [*AXES, "_o", "k"]).drop(columns="_o")
    shown = frame.assign(ci=[f"[{a:.3f}, {b:.3f}]" if a == a else "n/a"
                             for a, b in zip(frame["ci_low"], frame["ci_high"], strict=True)])
    caption = ("Per-speaker normalisation by where its statistics come from: global (none), "
               "enrol:k (k of the speaker's recordings drawn at random, seeded by the fold, "
               "never scored), enrol_neutral:k (k neutral recordings: their label is read for "
               "the draw only), speaker-norm (transductive: all of the test speaker's "
               "recordings, unlabelled). Training speakers are normalised like test speakers. "
               "Enrolment statistics are shrunk towards the training speakers' with a prior "
               "worth one recording per class. Pooled UAR of the scored rows with its 95% CI "
               f"({N_BOOT} resamples of the test speakers); share: the fraction of the "
               "speaker-norm gain over global that the mode keeps. Scored: the test rows "
               "scored (enrolment rows are not); where enrol_neutral:k takes all of a "
               "speaker's neutral recordings (RAVDESS has 4 per speaker), neutral is not "
               "scored for that speaker and its UAR averages the other classes: compare "
               "such rows with care.")
    return Table("speaker_norm", caption, shown[[
        *AXES, "normalisation", "scored", "uar", "pooled_uar", "ci", "share"]],
        (*AXES, "normalisation", "scored"), ("uar", "pooled_uar", "ci", "share"),
        bold_best=False), frame


def survival_said(frame: pd.DataFrame) -> str:
    """How much of the transductive gain survives, in a sentence per dataset."""
    said = []
    modes = [Normalisation.parse(_config_value(n)) for n in frame["normalisation"]]
    frame = frame.assign(kind=[m.kind for m in modes], k=[m.k for m in modes])
    enrol = frame[frame["kind"] == "enrol"]
    for dataset, grp in enrol.groupby("dataset", sort=True):
        parts = []
        for (features, model), g in grp.groupby(["features", "model"], sort=True):
            g = g.sort_values("k")
            shares = ", ".join(f"{s:.0%} at k = {k}" for k, s in zip(g["k"], g["share"],
                                                                    strict=True) if s == s)
            if shares:
                parts.append(f"{features} ({model}): {shares}")
        if parts:
            said.append(f"On {dataset}, the share of the speaker-norm gain over global that k "
                        f"random enrolment recordings keep: {'; '.join(parts)}.")
    return " ".join(said)


def curve(frame: pd.DataFrame, dataset: str):
    """UAR against k per feature set (enrol solid, enrol_neutral dashed; 95% CI bars), the
    global (dotted) and speaker-norm (dash-dot) levels as horizontals."""
    import matplotlib.pyplot as plt

    grp = frame[frame["dataset"] == dataset]
    keys = sorted(grp.groupby(["features", "model"]).groups)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False,
                             sharey=True)
    for ax, (features, model) in zip(axes[0], keys, strict=True):
        g = grp[(grp["features"] == features) & (grp["model"] == model)]
        for kind, style in (("enrol", "-o"), ("enrol_neutral", "--s")):
            e = g[g["kind"] == kind].sort_values("k")
            if e.empty:
                continue
            ax.errorbar(e["k"], e["pooled_uar"], yerr=[e["pooled_uar"] - e["ci_low"],
                                                       e["ci_high"] - e["pooled_uar"]],
                        fmt=style, color="black", capsize=2, linewidth=1, markersize=4,
                        label=kind.replace("_", " ") + ":k")
        for kind, style, name in (("none", ":", "global"),
                                  ("transductive", "-.", "speaker-norm")):
            level = g.loc[g["kind"] == kind, "pooled_uar"]
            if len(level):
                ax.axhline(level.iloc[0], linestyle=style, color="0.4", linewidth=1,
                           label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("enrolment recordings per speaker (k)")
        ax.set_title(f"{features}, {model}", fontsize=9)
        ax.grid(color="0.85", linewidth=0.5)
    axes[0, 0].set_ylabel("pooled UAR")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{dataset}: UAR against enrolment size", fontsize=10)
    fig.tight_layout()
    return fig


def write_normalisation_report(res: Results, out, with_figures: bool = True) -> list:
    """The table, one curve per dataset; nothing when no cell enrols."""
    from benchmark.report import figures
    from benchmark.report.tables import write

    table, frame = enrolment_table(res)
    if table is None:
        return []
    written = write(table, out / "tables")
    if with_figures:
        for dataset in sorted(frame["dataset"].unique()):
            slug = "".join(ch if ch.isalnum() else "_" for ch in dataset)
            written += figures.save(curve(frame, dataset), out / "figures",
                                    f"speaker_norm_{slug}")
    return written
