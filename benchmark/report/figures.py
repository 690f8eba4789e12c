"""Figures for papers: PNG and PDF, readable in greyscale (hatches and grey maps, not hue)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo", "---", "+++")
GREYS = ("0.15", "0.45", "0.7", "0.9", "0.3", "0.6", "0.8", "1.0")
plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "savefig.dpi": 150,
                     "pdf.fonttype": 42, "svg.hashsalt": "serbench"})


def save(fig, folder: Path, name: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], bbox_inches="tight", metadata={"Software": None})
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
    return paths


def confusion_grid(panels: list[tuple[str, np.ndarray]], classes: list[str], title: str):
    """Row-normalised confusion matrices (recall on the diagonal), one panel per model."""
    n = len(panels)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows + 0.4), squeeze=False)
    for ax, (label, cm) in zip(axes.flat, panels, strict=False):
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Greys", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{norm[i, j]:.2f}"[1:] if norm[i, j] < 1 else "1",
                        ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.55 else "black")
        ax.set_xticks(range(len(classes)), [c[:4] for c in classes], rotation=90, fontsize=7)
        ax.set_yticks(range(len(classes)), [c[:4] for c in classes], fontsize=7)
        ax.set_title(label)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(frame: pd.DataFrame, ylabel: str, title: str, ylim=(0, 1)):
    """Bars for each row of ``frame`` (index: groups on x, columns: series)."""
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(frame) * max(1, frame.shape[1]) / 3), 3))
    width = 0.8 / max(frame.shape[1], 1)
    x = np.arange(len(frame))
    for k, col in enumerate(frame.columns):
        ax.bar(x + (k - (frame.shape[1] - 1) / 2) * width, frame[col].to_numpy(), width,
               label=str(col), color=GREYS[k % len(GREYS)], edgecolor="black",
               hatch=HATCHES[k % len(HATCHES)], linewidth=0.5)
    ax.set_xticks(x, [str(i) for i in frame.index], rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.legend(fontsize=7, ncols=min(4, frame.shape[1]), loc="upper left",
              bbox_to_anchor=(0, -0.3), frameon=False)
    ax.grid(axis="y", color="0.85", linewidth=0.5)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


MARKERS = ("o", "s", "^", "D", "v", "P")


def uar_vs_size(best: pd.DataFrame, title: str):
    """UAR against the number of features (log axis): one point per feature set and
    normalisation, with its CI as an error bar and the set named beside it.

    ``best``: rows with ``features``, ``normalisation``, ``n_features``, ``uar``, ``ci_low``,
    ``ci_high`` (one dataset).
    """
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for k, (norm, grp) in enumerate(best.groupby("normalisation", sort=True)):
        err = np.stack([grp["uar"] - grp["ci_low"], grp["ci_high"] - grp["uar"]]).clip(0)
        ax.errorbar(grp["n_features"], grp["uar"], yerr=err, fmt=MARKERS[k % len(MARKERS)],
                    color=GREYS[k % 2], markeredgecolor="black", capsize=3, label=norm,
                    linestyle="none")
        for r in grp.itertuples():
            ax.annotate(r.features, (r.n_features, r.uar), textcoords="offset points",
                        xytext=(5, 3 if k == 0 else -9), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("number of features (log scale)")
    ax.set_ylabel("UAR")
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    ax.grid(color="0.85", linewidth=0.5)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


def heatmap(grid: pd.DataFrame, title: str):
    """A train x test matrix of UARs in greys, each cell labelled with its value."""
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2, 1.0 * grid.shape[0] + 1.2))
    values = grid.to_numpy(dtype=float)
    ax.imshow(values, cmap="Greys", vmin=0, vmax=1)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize=8,
                        color="white" if values[i, j] > 0.55 else "black")
    ax.set_xticks(range(grid.shape[1]), [f"test {c}" for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"train {r}" for r in grid.index])
    ax.set_title(title)
    fig.tight_layout()
    return fig


def distributions(counts: pd.Series, speakers: pd.Series, title: str):
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.8), width_ratios=[1, 1.6])
    a.bar(counts.index.astype(str), counts.to_numpy(), color="0.5", edgecolor="black",
          linewidth=0.5)
    a.set_title("files per emotion")
    a.tick_params(axis="x", rotation=45)
    b.bar(range(len(speakers)), speakers.to_numpy(), color="0.7", edgecolor="black",
          linewidth=0.5)
    b.set_xticks(range(len(speakers)), [s.split(":", 1)[-1] for s in speakers.index],
                 rotation=90, fontsize=6)
    b.set_title("files per speaker")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def waveforms_and_logmels(examples: list[tuple[str, np.ndarray, np.ndarray]], sr: int,
                          hop_s: float, title: str):
    """One column per emotion: the waveform above its log-mel spectrogram."""
    n = len(examples)
    fig, axes = plt.subplots(2, n, figsize=(1.9 * n, 3.6), squeeze=False,
                             height_ratios=[1, 1.4])
    for k, (emotion, y, logmel) in enumerate(examples):
        t = np.arange(y.size) / sr
        axes[0, k].plot(t, y, color="black", linewidth=0.3)
        axes[0, k].set_title(emotion)
        axes[0, k].set_ylim(-1, 1)
        axes[0, k].set_xticks([])
        axes[1, k].imshow(logmel, origin="lower", aspect="auto", cmap="Greys",
                          extent=(0, logmel.shape[1] * hop_s, 0, logmel.shape[0]))
        axes[1, k].set_xlabel("s")
        if k:
            axes[0, k].set_yticks([])
            axes[1, k].set_yticks([])
        else:
            axes[1, k].set_ylabel("mel band")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def optuna_views(study) -> list[tuple[str, object]]:
    """Optimisation history and parameter importances of a study (where they exist)."""
    import warnings

    import optuna
    from optuna.visualization import matplotlib as ovm

    out = []
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if complete:
            ax = ovm.plot_optimization_history(study)
            ax.set_ylabel("inner-fold UAR")
            out.append(("history", ax.figure))
        varied = len({tuple(sorted(t.params.items())) for t in complete}) > 1
        if len(complete) >= 3 and varied and complete[0].params:
            ax = ovm.plot_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
            out.append(("importance", ax.figure))
    for _, fig in out:  # optuna's style is hue-coded: make it greyscale, one title
        ax = fig.axes[0]
        for line in ax.get_lines():
            line.set_color("black")
        for coll in ax.collections:
            coll.set_color("0.4")
        for patch in ax.patches:
            patch.set_facecolor("0.6")
            patch.set_edgecolor("black")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if fig._suptitle is not None:
            fig._suptitle.set_text("")
        for loc in ("left", "center", "right"):
            ax.set_title("", loc=loc)
        ax.set_facecolor("white")
        ax.grid(color="0.85")
        fig.set_size_inches(5.5, 3)
        fig.tight_layout()
    return out


def speaker_grid(grid: pd.DataFrame, title: str):
    """Test speakers (rows) x cells (columns), UAR in greys; values written where they fit."""
    n_rows, n_cols = grid.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * n_cols + 2.5), max(2.5, 0.28 * n_rows + 1.8)))
    values = grid.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    if n_cols <= 12:
        for i in range(n_rows):
            for j in range(n_cols):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if values[i, j] > 0.55 else "black")
    ax.set_xticks(range(n_cols), list(grid.columns), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_rows), list(grid.index), fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="UAR")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
