"""One experiment config, end to end and resumable: corpora -> features -> folds -> tuned
models -> scores, checkpointed per (cell, fold) and logged to MLflow.

A *task* is one outer fold of a cell (:mod:`benchmark.cells`), or the cell's final model
refitted on all its data; :func:`benchmark.fitting.fit_fold` computes it in a worker, and this
module alone writes checkpoints and MLflow runs, in the main process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmark import metrics, model_folder
from benchmark.cells import (
    FINAL,
    OPTUNA_DB,
    Cell,
    CorruptCheckpoint,
    best_cells,
    cell_digest,
    describe_change,
    load_cell_results,
    read_checkpoint,
    write_json,
    write_plan,
)
from benchmark.config import ExperimentConfig
from benchmark.corpora import data_root as resolve_root
from benchmark.corpora import open_corpus
from benchmark.corpora.base import NOT_AUDIO
from benchmark.datasets import SPEAKERS, Dataset, make_datasets, resolve_corpora, speaker_table
from benchmark.fitting import fit_fold
from benchmark.locations import remember_store
from benchmark.lock import results_lock
from benchmark.models import MODELS
from benchmark.preprocessing import Normalisation
from benchmark.protocols import Fold, check_disjoint, make_folds
from benchmark.provenance import (
    corpus_fingerprint,
    file_digests,
    git_state,
    package_versions,
    shared_recordings,
)
from benchmark.tracking import NOTE, Tracker, default_uri
from benchmark.tuning import storage as optuna_storage
from benchmark.tuning import tunes_selection
from features import FeatureBank, FeatureConfig
from features.cache import Cache
from features.parallel import (
    column_key,
    compute_backend,
    extract,
    extract_columns,
    extractors_of,
    leave_interrupts_to,
    set_columns,
)
from features.sets import Extractor, FeatureSet, feature_set

# loky restarts a worker whose memory grew by 300 MB since its first task (its leak guard);
# tasks on ComParE's 6,373 columns or the CNN grow that much legitimately. The restarted
# worker's queued tasks go to the others and nothing is lost, but loky warns, line by line,
# through the progress bar: that one message from that one module is silenced.
warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given",
                        category=UserWarning, module="joblib.externals.loky.process_executor")
# Ctrl-C stops the workers' generator: joblib then counts the results it drops, through the
# one line the interrupt is said in; the line says it already (rerun to resume).
warnings.filterwarnings("ignore", message=r"\d+ tasks have been successfully executed",
                        category=UserWarning, module="joblib.parallel")


@dataclass(frozen=True)
class RunOptions:
    data_root: str | None = None
    cache_dir: str | None = None
    n_jobs: int = 2
    tracking_uri: str | None = None
    optuna_storage: str | None = None
    progress: bool = True
    scheduler: str | None = None  # a Dask scheduler address; None: joblib's loky locally


@dataclass(frozen=True)
class CellPlan:
    """A cell with everything its tasks and their recording need."""

    cell: Cell
    cell_id: str
    folder: Path
    parent: str  # the MLflow parent run
    meta: dict
    table: pd.DataFrame
    tags: dict
    y: np.ndarray
    features: FeatureConfig  # what the logged model computes from audio
    rel_paths: np.ndarray  # each row's file, relative to its data root
    folds: list[Fold] = field(default_factory=list)


@contextlib.contextmanager
def _shielded():
    """Ignore Ctrl-C inside the block (only the main thread can set signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Deferred:
    """Ctrl-C waits while the MLflow store is written: an interrupt inside an SQLite
    transaction leaves it locked and the run ends in a traceback instead of one line. Inside
    :meth:`writing` a SIGINT is noted and raised when the block ends; elsewhere (waiting for
    workers) at once."""

    def __init__(self):
        self.depth, self.pending, self.previous = 0, False, None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)

    def uninstall(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None

    def _handler(self, signum, frame):
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def writing(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt


_WRITES = _Deferred()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, once the run's open MLflow runs are closed; its message says what is kept."""


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------
def feature_sets(cfg: ExperimentConfig, data_root: str | None = None
                 ) -> dict[str, FeatureSet]:
    """Every feature variant of the experiment (label -> set); an imported table's relative
    path is read against the data root."""
    root = str(resolve_root(data_root or cfg.data_root))
    return {label: feature_set(v.spec, v.config or cfg.features, root)
            for label, v in cfg.feature_variants().items()}


@dataclass(frozen=True)
class Loaded:
    """The experiment's data, per corpus: every extractor's features (one extraction each,
    whatever the sets built on it), fingerprint, extraction timing and data root; every
    file's content digest; and every file left out, with its reason."""

    tables: dict[str, pd.DataFrame]
    prints: dict[str, dict]
    timing: dict[str, dict]
    roots: dict[str, str]
    digests: dict[str, str]
    skipped: pd.DataFrame  # corpus, path (relative to its data root), stage, reason


def load_tables(cfg: ExperimentConfig, opts: RunOptions, sets: dict[str, FeatureSet]
                ) -> Loaded:
    """Scan and extract every corpus. A file that one extractor cannot use is dropped from
    every set, so that all sets share the same folds; skipped and failed files are named
    (files not named as audio in one line per corpus) and kept in the result."""
    cache = Cache(opts.cache_dir)
    extractors = extractors_of(sets.values())
    tables, prints, timing, digests = {}, {}, {}, {}
    roots, left_out = {}, []
    for given, root in resolve_corpora(cfg, opts.data_root, opts.cache_dir).items():
        corpus = open_corpus(given, root)
        name = corpus.name  # a CSV corpus is named by its file's stem, as its rows say
        roots[name] = root
        scan = corpus.scan()
        others = scan.skipped["reason"] == NOT_AUDIO
        for row in scan.skipped[~others].itertuples():
            _say(f"[{name}] skipped {row.path}: {row.reason}")
        if others.any():
            names = [Path(p).name for p in scan.skipped.loc[others, "path"]]
            _say(f"[{name}] {len(names)} file(s) not named as audio left aside: "
                 f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
        left_out += [(name, os.path.relpath(r.path, root), "scan", r.reason)
                     for r in scan.skipped.itertuples()]
        table, reports = extract_columns(scan.manifest, extractors, cache, root=root,
                                         n_jobs=opts.n_jobs, progress=opts.progress)
        _check_imported(name, extractors, reports, cfg.missing_features)
        for space, report in reports.items():
            _say(f"[{name}] {space}: {report.summary()}")
            for path, reason in report.errors:
                _say(f"[{name}] failed {reason}")
                left_out.append((name, os.path.relpath(path, root), f"extract {space}",
                                 reason))
        failed = len(scan.manifest) - len(table)
        if failed and len(extractors) > 1:
            _say(f"[{name}] {failed} file(s) left out of every feature set (above), so that "
                 "all sets are compared on the same files")
        tables[name] = table
        digests.update(file_digests(table["path"]))
        prints[name] = {**corpus_fingerprint(table, digests), "skipped": len(scan.skipped),
                        "failed": failed}
        timing[name] = {space: {"files": r.n_files, "computed": r.misses,
                                "seconds": round(r.seconds, 3)} for space, r in reports.items()}
    skipped = pd.DataFrame(left_out, columns=["corpus", "path", "stage", "reason"])
    return Loaded(tables, prints, timing, roots, digests, skipped)


def _check_imported(corpus: str, extractors, reports: dict, policy: str) -> None:
    """An imported table's extra rows are said; files without a usable row stop the run,
    named and counted, unless ``missing_features = "drop"`` (then they are left out of every
    set, as unreadable files are)."""
    for ex in extractors:
        if not hasattr(ex, "rows_for"):
            continue
        report = reports[ex.cache_namespace()]
        if report.extra:
            _say(f"[{corpus}] import:{ex.path}: {len(report.extra)} row(s) for files not in "
                 f"{corpus}, unused: {', '.join(report.extra[:3])}"
                 f"{' ...' if len(report.extra) > 3 else ''}")
        if report.errors and policy == "stop":
            shown = "; ".join(reason for _, reason in report.errors[:3])
            raise ValueError(
                f"import:{ex.path}: {len(report.errors)} file(s) of {corpus} without a usable "
                f"row: {shown}{' ...' if len(report.errors) > 3 else ''}; complete the table, "
                "or set missing_features = \"drop\" to leave them out of every set")


def augmented_features(table: pd.DataFrame, extractors: list[Extractor], aug_cfg,
                       opts: RunOptions) -> list[pd.DataFrame]:
    """Every extractor's features of every augmented copy of every row, named as the table's
    columns (NaN where a copy failed, said)."""
    from benchmark.augment import Copy

    cache = Cache(opts.cache_dir)
    paths = list(table["path"])
    out = []
    for c in range(aug_cfg.copies):
        blocks = []
        for ex in extractors:
            values, report = extract(paths, ex, cache, n_jobs=opts.n_jobs,
                                     progress=opts.progress, transform=Copy(aug_cfg, c))
            _say(f"augmented copy {c}, {ex.cache_namespace()}: {report.summary()}")
            for _, reason in report.errors:
                _say(f"  augmentation failed {reason}")
            nan = np.full(len(ex.feature_names), np.nan, np.float32)
            blocks.append(pd.DataFrame(np.stack([v if v is not None else nan for v in values]),
                                       columns=[column_key(ex, n) for n in ex.feature_names]))
        out.append(pd.concat(blocks, axis=1))
    return out


def write_timing(out_dir: Path, timing: dict[str, dict]) -> None:
    """Keep, per corpus and extractor, the latest extraction that computed files: a rerun
    served from the cache measures nothing and must not erase the measurement."""
    path = out_dir / "extraction.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    for corpus, spaces in timing.items():
        for space, t in spaces.items():
            if t["computed"] or space not in kept.get(corpus, {}):
                kept.setdefault(corpus, {})[space] = t
    write_json(path, kept)


# -- the experiment ----------------------------------------------------------------------------
def run(cfg: ExperimentConfig, opts: RunOptions = RunOptions()) -> pd.DataFrame:
    """Run every cell of ``cfg``; returns the per-cell summary (also written to
    ``<results_dir>/<name>/summary.csv``).

    With a scheduler (``opts.scheduler`` or the config's ``scheduler``), extraction and the
    tasks run on that Dask cluster; this process alone writes checkpoints and MLflow runs.
    """
    scheduler = opts.scheduler or cfg.scheduler
    if scheduler:
        _say(f"{cfg.name}: sending extraction and tasks to the Dask cluster at {scheduler}")
    with results_lock(cfg.results_dir, f"serbench run {cfg.name}"), \
            compute_backend(None, opts.n_jobs, scheduler):
        _WRITES.install()
        try:
            return _run(cfg, opts)
        finally:
            _WRITES.uninstall()


def _run(cfg: ExperimentConfig, opts: RunOptions) -> pd.DataFrame:
    t_start = time.perf_counter()
    git = git_state()  # the code that computes, recorded before anything can change it
    if opts.cache_dir:  # workers (and the CNN inside them) find the same cache
        os.environ["SERBENCH_CACHE"] = str(Path(opts.cache_dir).resolve())
    out_dir = Path(cfg.results_dir) / cfg.name
    (out_dir / "folds").mkdir(parents=True, exist_ok=True)
    bank = FeatureBank(cfg.features)
    sets = feature_sets(cfg, opts.data_root)
    loaded = load_tables(cfg, opts, sets)
    tables, prints, timing, roots, digests = (loaded.tables, loaded.prints, loaded.timing,
                                              loaded.roots, loaded.digests)
    datasets = make_datasets(cfg, tables)
    for ds in datasets:  # before any split: a copy on each side would leak its recording
        shared = shared_recordings(ds.table, digests)
        if shared:
            raise ValueError(
                f"{ds.name}: {len(shared)} recording(s) with identical audio under two "
                "speakers or corpora, which a speaker-independent split could put on both "
                f"sides: {'; '.join(shared[:5])}{' ...' if len(shared) > 5 else ''}; remove "
                "the copies (or keep one of each)")
    if any(MODELS[m].input == "audio" for m in cfg.models):
        cache = Cache(opts.cache_dir)
        for name, table in tables.items():  # the CNN's log-mels, cached once, in parallel
            _, report = extract(list(table["path"]), bank, cache, kind="logmel",
                                n_jobs=opts.n_jobs, progress=opts.progress)
            _say(f"[{name}] log-mels: {report.summary()}")
    storage_url = opts.optuna_storage or f"sqlite:///{(out_dir / OPTUNA_DB).resolve()}"
    optuna_storage(storage_url)  # create the schema here, before workers race to do it
    tracking_uri = opts.tracking_uri or default_uri(cfg.results_dir)
    remember_store(tracking_uri)
    tracker = Tracker(tracking_uri, cfg.name, Path(cfg.results_dir) / "mlartifacts")
    write_json(out_dir / "config.resolved.json", cfg.to_dict())
    write_json(out_dir / "data.json", prints)
    # every file left out and why, beside the counts (data.json): paths relative to the data
    # root, so the list means the same on any machine
    loaded.skipped.to_csv(out_dir / "skipped.csv", index=False)
    speaker_table(tables).to_csv(out_dir / SPEAKERS, index=False, lineterminator="\n")
    write_timing(out_dir, timing)
    with _WRITES.writing():
        top = _experiment_run(cfg, tracker, prints)
    plans: list[CellPlan] = []
    try:
        return _run_cells(cfg, opts, datasets, sets, prints, roots, tracker, out_dir, top,
                          storage_url, plans, git, t_start)
    except KeyboardInterrupt:
        with _shielded():  # a second Ctrl-C must not leave the store half-closed
            tracker.close_open()
        done = sum(len(list(p.folder.glob("fold*.json"))) for p in plans)
        total = sum(len(p.folds) for p in plans)
        raise Interrupted(f"{cfg.name}: interrupted, {done} of {total} fold tasks done and "
                          "kept; rerun the same command to resume") from None


def _run_cells(cfg: ExperimentConfig, opts: RunOptions, datasets: list[Dataset],
               sets: dict[str, FeatureSet], prints: dict, roots: dict[str, str],
               tracker: Tracker, out_dir: Path, top: str, storage_url: str,
               plans: list[CellPlan], git: dict, t_start: float) -> pd.DataFrame:
    """Plan, compute and summarise every cell (``plans`` is filled as they are planned, so
    that an interrupted run can say how far it got)."""
    cells = [c for ds in datasets
             for c in _plan_dataset(cfg, opts, ds, sets, prints, roots, tracker, out_dir, top)]
    plans += [plan for plan, _, _ in cells]
    every_final = cfg.final_model == "all"
    jobs = [job for plan, X, X_aug in cells
            for job in _pending_tasks(cfg, plan, tracker, X, X_aug, storage_url, every_final)]
    write_plan(out_dir, [p.cell_id for p in plans], prints, opts.optuna_storage)
    _report_stale(out_dir, {p.cell_id for p in plans}, prints)
    done = sum(len(p.folds) + every_final for p in plans) - len(jobs)
    _say(f"{cfg.name}: {len(plans)} cells, {len(jobs)} tasks to run ({done} already done)")
    _execute(_longest_first(jobs), tracker, cfg.name, opts)
    summary = summarise_cells(plans, tracker)
    if cfg.final_model == "best" and len(summary):
        jobs += _best_final_models(cfg, cells, summary, tracker, storage_url, opts)
    summary.to_csv(out_dir / "summary.csv", index=False)
    if len(summary):
        with _WRITES.writing():
            tracker.finish(top, {"cells": len(summary),
                                 "best_uar_mean": summary["uar_mean"].max()})
    wall = time.perf_counter() - t_start
    write_json(out_dir / "run.json", {"git_commit": git["commit"], "git_dirty": git["dirty"],
                                      "wall_s": round(wall, 1), "tasks_run": len(jobs),
                                      "tasks_resumed": done, "n_jobs": opts.n_jobs,
                                      "cores": os.cpu_count()})
    _say(f"{cfg.name}: done in {wall:.0f} s; results in {out_dir}")
    return summary


def _best_final_models(cfg: ExperimentConfig, cells: list, summary: pd.DataFrame,
                       tracker: Tracker, storage_url: str, opts: RunOptions) -> list:
    """Refit and log the final models of each dataset's best cell per normalisation (what
    is served), once the folds have chosen them; refitting every cell would cost a third of
    the run. Returns the tasks run."""
    chosen = set(best_cells(summary, None)["cell_id"])
    finals = [job for plan, X, X_aug in cells if plan.cell_id in chosen
              for job in _pending_tasks(cfg, plan, tracker, X, X_aug, storage_url, True,
                                        folds=False)]
    if finals:
        _say(f"{cfg.name}: refitting the final models of {len(finals)} best cell(s) on all "
             "their data")
    _execute(finals, tracker, f"{cfg.name} (final models)", opts)
    return finals


def _base_tags(cfg: ExperimentConfig) -> dict[str, str]:
    git = git_state()
    return {"git_commit": git["commit"], "git_dirty": str(git["dirty"]),
            "feature_config": cfg.features.digest(), "experiment_config": cfg.digest(),
            **{f"version.{k}": v for k, v in package_versions().items()}}


def _experiment_run(cfg: ExperimentConfig, tracker: Tracker, prints: dict) -> str:
    """The experiment-level MLflow run: one per config and data, every cell nested under it,
    the whole config as an artifact."""
    fingerprints = {c: p["blake2b"] for c, p in sorted(prints.items())}
    plan = hashlib.sha256(json.dumps([cfg.digest(), fingerprints]).encode()).hexdigest()[:16]
    return tracker.experiment_run(
        plan, f"{cfg.name} (all cells)",
        {"corpora": ",".join(sorted(prints)), "feature_sets": ",".join(cfg.feature_sets),
         "models": ",".join(cfg.models), "protocol": cfg.protocol.kind, "seed": cfg.seed},
        {**_base_tags(cfg), **{f"data.{c}": f for c, f in fingerprints.items()},
         NOTE: f"`serbench run` of {cfg.name}: {', '.join(cfg.feature_sets)} x "
               f"{', '.join(cfg.models)} on {', '.join(sorted(prints))}"})


def _plan_dataset(cfg: ExperimentConfig, opts: RunOptions, ds: Dataset,
                  sets: dict[str, FeatureSet], prints: dict, roots: dict[str, str],
                  tracker: Tracker, out_dir: Path, top: str):
    """Every cell of one dataset, with its feature matrix (and augmented copies): feature
    sets x models x normalisations (x augmentation); an audio model (the CNN) once."""
    aug_cfg = cfg.augmentation
    aug_modes = ((False, True) if aug_cfg.compare else (True,)) if aug_cfg.copies else (False,)
    variants = cfg.feature_variants()
    base_tags = _base_tags(cfg)
    table = ds.table
    y = np.array([ds.classes.index(e) for e in table["emotion"]])
    protocol = (dataclasses.replace(cfg.protocol, train=ds.train, test=ds.test) if ds.train
                else cfg.protocol)
    folds = make_folds(protocol, table, seed=cfg.seed)
    if protocol.kind == "cross_gender" and (table["gender"] == "unknown").any():
        unknown = table.loc[table["gender"] == "unknown", "speaker"]
        _say(f"[{ds.name}] cross_gender: {len(unknown)} file(s) of {unknown.nunique()} "
             "speaker(s) of unknown gender on neither side of any fold")
    if protocol.kind == "group_kfold" and len(folds) < protocol.k:  # said, never silent
        _say(f"[{ds.name}] [protocol] k = {protocol.k}, but the data has {len(folds)} "
             f"speakers: {len(folds)} folds, one per speaker (leave-one-speaker-out)")
    corpora = sorted(set(table["corpus"]))
    data = {c: {k: prints[c][k] for k in ("files", "speakers", "bytes", "blake2b")}
            for c in corpora}
    data_tag = ";".join(f"{c}:{prints[c]['blake2b']}" for c in corpora)
    # checkpoints name files relative to their data root (``ravdess/Actor_01/...``), so they
    # mean the same on any machine; readers resolve them against theirs
    rel_paths = np.array([os.path.relpath(p, roots[c]) for p, c in
                          zip(table["path"], table["corpus"], strict=True)])
    aug_all = (augmented_features(table, extractors_of(sets.values()), aug_cfg, opts)
               if aug_cfg.copies else [])
    logmel = FeatureSet("logmel", ())  # what an audio model reads: the bank's log-mels
    grid = [(label, v.spec, v.role, v.base, sets[label], m, n, a)
            for label, v in variants.items() for m in cfg.models
            if MODELS[m].input != "audio" for n in cfg.speaker_norm for a in aug_modes]
    # a network on log-mels reads audio, not feature rows, and standardises its own log-mel
    # bands (globally or per speaker): one cell per dataset and normalisation
    grid += [("logmel", "logmel", "set", None, logmel, m, n, False) for m in cfg.models
             if MODELS[m].input == "audio" for n in cfg.speaker_norm]
    matrices: dict[str, tuple] = {}  # one matrix per feature set, shared by its cells
    impossible = {n: _enrolment_impossible(n, table) for n in cfg.speaker_norm}
    for n, why in impossible.items():
        if why:
            _say(f"[{ds.name}] speaker_norm {n!r} skipped: {why}")
    for label, spec, role, base, fs, model, norm, augmented in grid:
        if impossible[norm]:
            continue
        if label not in matrices:
            keys = set_columns(fs)
            matrices[label] = (table[keys].to_numpy(np.float32),
                               [A[keys].to_numpy(np.float32) for A in aug_all])
        X, copies = matrices[label]
        X_aug = copies if augmented else None
        own = variants[label].config if label in variants else None  # a bank variant's
        cell = Cell(ds.name, label, spec, model, norm, cfg.protocol.kind, augmented)
        digest = cfg.features.logmel_digest() if fs is logmel else fs.digest()
        cid = cell.id(cell_digest(cfg, cell, digest, {c: d["blake2b"] for c, d in data.items()}))
        folder = out_dir / "folds" / cid
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"cell": cell.__dict__, "cell_id": cid, "classes": ds.classes,
                "protocol": protocol.describe(len(folds)),
                "speaker_dependent": cfg.protocol.speaker_dependent,
                "n_folds": len(folds), "n_features": len(fs.feature_names),
                "n_rows": len(table), "input": MODELS[model].input, "role": role,
                # what the cell is compared with: an ablation with the bank, a +aug cell
                # with the same set without augmentation
                "base": label if augmented else base,
                "feature_set": spec, "feature_set_digest": digest,
                "columns": fs.feature_names, "data": data,
                **({"bank_config": own.to_dict()} if own else {})}
        write_json(folder / "cell.json", meta)
        tags = {**base_tags, "data_fingerprint": data_tag, "dataset": ds.name,
                "model": model, "feature_set": spec, "feature_variant": cell.label,
                "speaker_norm": str(norm), "protocol": meta["protocol"],
                "speaker_dependent": str(cfg.protocol.speaker_dependent)}
        budget = cfg.tuning.for_cell(model, cell.variant)
        params = {"dataset": ds.name, "feature_set": spec, "features": cell.label,
                  "model": model, "normalisation": cell.norm_label, "protocol": protocol.kind,
                  "n_features": len(fs.feature_names), "n_folds": len(folds),
                  "n_trials": budget.n_trials, "inner_k": budget.inner_k or protocol.inner_k,
                  "augmented": augmented, "role": role,
                  **({"select_percentiles": list(budget.select_percentiles)}
                     if tunes_selection(MODELS[model], budget) else {}),
                  **{f"fixed.{k}": v for k, v in cfg.fixed_params.get(model, {}).items()}}
        words = (f"{model} on {ds.name}, features {cell.label} ({len(fs.feature_names)}), "
                 f"{Normalisation.parse(norm).words}, "
                 f"{meta['protocol']}, {budget.n_trials} Optuna trials per fold")
        with _WRITES.writing():
            parent = tracker.parent(cid, cell.run_name, params, {**tags, NOTE: words}, top,
                                    {"config.json": cfg.to_dict()})
        yield (CellPlan(cell, cid, folder, parent, meta, table, tags, y, own or cfg.features,
                        rel_paths, list(folds)), X, X_aug)


def _enrolment_impossible(value, table: pd.DataFrame) -> str | None:
    """Why an enrolment mode cannot run on this data (a speaker with fewer than k eligible
    recordings, or none left to score), or ``None``."""
    norm = Normalisation.parse(value)
    if not norm.enrols:
        return None
    rows = table if norm.kind == "enrol" else table[table["emotion"] == "neutral"]
    counts = rows.groupby("speaker").size().reindex(table["speaker"].unique(), fill_value=0)
    total = table.groupby("speaker").size()
    short = counts[(counts < norm.k) | (total.reindex(counts.index) <= norm.k)]
    if short.empty:
        return None
    what = "recordings" if norm.kind == "enrol" else "neutral recordings"
    return (f"it needs {norm.k} {what} per speaker and one more to score; "
            f"{len(short)} speaker(s) have fewer (e.g. {short.index[0]}: {short.iloc[0]})")


def _pending_tasks(cfg: ExperimentConfig, plan: CellPlan, tracker: Tracker, X: np.ndarray,
                   X_aug, storage_url: str, final: bool, folds: bool = True) -> list:
    """The cell's tasks (its outer ``folds``, its ``final`` model) without a valid
    checkpoint. A checkpointed fold is (re)logged to MLflow if it is not there yet; a
    corrupt checkpoint is named and recomputed."""
    tasks = list(plan.folds) if folds else []
    if final:
        tasks.append(Fold(len(plan.folds), np.arange(len(plan.table)), np.zeros(0, int)))
    speakers = plan.table["speaker"].to_numpy()
    paths = plan.table["path"].to_numpy()
    # the one mode that reads a label to normalise: enrol_neutral, for its draw only
    neutral = (plan.table["emotion"].to_numpy() == "neutral"
               if Normalisation.parse(plan.cell.speaker_norm).kind == "enrol_neutral" else None)
    jobs = []
    for fold in tasks:
        fname = FINAL if fold.index == len(plan.folds) else fold.name
        done = plan.folder / f"{fname}.json"
        if done.exists():
            try:
                result = read_checkpoint(done)
            except CorruptCheckpoint as exc:
                _say(f"{exc}: removed, recomputing")
                done.unlink()
            else:
                if fname != FINAL:  # checkpointed: make sure MLflow has it too
                    with _WRITES.writing():
                        log_fold(tracker, plan, fname, result)
                continue
        if fname != FINAL and not fold.speaker_dependent:
            check_disjoint(speakers, fold.train, fold.test)
        jobs.append(((plan, fname), joblib.delayed(fit_fold)(
            X, plan.meta["columns"], speakers, plan.y, fold.train, fold.test, plan.cell, cfg,
            storage_url, f"{plan.cell_id}/{fname}", fname == FINAL, paths, X_aug,
            fold_key=fname, neutral=neutral)))
    return jobs


def _report_stale(out_dir: Path, current: set[str], prints: dict) -> None:
    """Say which earlier cells this run does not report because their data changed."""
    changed: dict[str, tuple[int, str]] = {}
    for meta_path in (out_dir / "folds").glob("*/cell.json"):
        if meta_path.parent.name in current:
            continue
        try:
            old = read_checkpoint(meta_path).get("data", {})
        except CorruptCheckpoint:
            continue
        for corpus, fp in old.items():
            if corpus in prints and fp.get("blake2b") != prints[corpus]["blake2b"]:
                n, _ = changed.get(corpus, (0, ""))
                changed[corpus] = (n + 1, describe_change(fp, prints[corpus]))
    for corpus, (n, what) in sorted(changed.items()):
        _say(f"{corpus} changed since {n} earlier cell(s) were computed ({what}): they are "
             "kept on disk but not reported; this run computes the cells anew")


def _longest_first(jobs: list) -> list:
    """The tasks, the likely longest first (networks, then the widest feature sets), so that
    two workers do not end the run with one long task running alone."""
    def size(job):
        meta = job[0][0].meta
        return (meta["input"] == "audio", meta["n_features"])
    return sorted(jobs, key=size, reverse=True)


def _execute(jobs: list, tracker: Tracker, name: str, opts: RunOptions) -> None:
    """Run the tasks in parallel; each result is checkpointed and logged as it arrives."""
    if not jobs:
        return
    bar = tqdm(total=len(jobs), unit="task", desc=name, disable=not opts.progress)
    runner = joblib.Parallel(n_jobs=opts.n_jobs, return_as="generator_unordered")
    calls = [joblib.delayed(_keyed)(k, call, os.getpid()) for k, (_, call) in enumerate(jobs)]
    for k, result in runner(calls):
        plan, fname = jobs[k][0]
        with _WRITES.writing():  # checkpoint and MLflow runs: whole, or not at all
            _record(tracker, plan, fname, result)
        bar.update()
    bar.close()


def _keyed(k, call, main_pid):
    leave_interrupts_to(main_pid)
    fn, args, kwargs = call
    return k, fn(*args, **kwargs)


def _record(tracker: Tracker, plan: CellPlan, fname: str, result: dict) -> None:
    """Checkpoint a finished task, then log it to MLflow."""
    classes = list(plan.meta["classes"])
    model = result.pop("model", None)
    prior = result.pop("enrolment_prior", None)
    if fname == FINAL:
        if model is not None:
            from benchmark.serving import log_audio_model

            info = tracker.log_model(plan.parent, lambda: log_audio_model(
                model, plan.features, plan.meta["feature_set"], plan.meta["columns"], classes,
                str(plan.table["path"].iloc[0]), audio_input=plan.meta["input"] == "audio",
                normalisation=plan.cell.speaker_norm, enrolment_prior=prior))
            result["model_uri"] = info.model_uri
            result["model_logged"] = True
            # the folder is code: its digest, recorded in the store, is checked before loading
            result["model_digest"] = model_folder.record(tracker.client, plan.parent,
                                                         info.model_uri)
        write_json(plan.folder / f"{fname}.json", result)
        return
    test = np.asarray(result["test"], dtype=int)
    y_true = [classes[i] for i in plan.y[test]]
    y_pred = [classes[i] for i in result["y_pred"]]
    s = metrics.scores(y_true, y_pred, classes)
    enrolled = np.asarray(result.get("enrolment", []), dtype=int)
    result["enrolment"] = plan.rel_paths[enrolled].tolist()  # not scored: named, by file
    result.update({"scores": s, "y_true": y_true, "y_pred": y_pred,
                   "paths": plan.rel_paths[test].tolist(),
                   "speakers": plan.table["speaker"].iloc[test].tolist()})
    write_json(plan.folder / f"{fname}.json", result)
    log_fold(tracker, plan, fname, result)


def log_fold(tracker: Tracker, plan: CellPlan, fname: str, result: dict) -> None:
    """Log a checkpointed fold to MLflow unless a finished run of it exists; called after
    the checkpoint is written and again on resume, so a kill between the two loses nothing."""
    if tracker.fold_done(plan.cell_id, fname):
        return
    s, y_true, y_pred = result["scores"], result["y_true"], result["y_pred"]
    m = {"uar": s["uar"], "wa": s["wa"], "macro_f1": s["macro_f1"],
         **{f"recall_{c}": v["recall"] for c, v in s["per_class"].items() if v["support"]}}
    if result["inner_uar"] is not None:
        m["inner_uar"] = result["inner_uar"]
    for key in ("epochs", "seconds_per_epoch"):  # networks only
        if result.get(key) is not None:
            m[key] = result[key]
    preds = pd.DataFrame({"path": result["paths"], "speaker": result["speakers"],
                          "true": y_true, "pred": y_pred}).to_csv(index=False)
    tracker.log_fold(plan.parent, plan.cell_id, fname,
                     f"{plan.cell.run_name}/{fname}",
                     {f"best_{k}": v for k, v in result["params"].items()}, m,
                     {**plan.tags, "note": result["note"]},
                     {"predictions.csv": preds, "confusion.json": s["confusion"]})


def summarise_cells(plans: list[CellPlan], tracker: Tracker | None = None) -> pd.DataFrame:
    """One row per finished cell (mean and std over its outer folds); finishes its parent
    MLflow run with those metrics, the pooled UAR and its speaker-bootstrap CI, the seconds
    spent, and its confusion figure, per-fold table and predictions."""
    rows = []
    for plan in plans:
        meta, folds = load_cell_results(plan.folder)
        if len(folds) < meta["n_folds"]:
            continue
        uar_m, uar_s = metrics.summarise(f["scores"]["uar"] for f in folds)
        wa_m, wa_s = metrics.summarise(f["scores"]["wa"] for f in folds)
        f1_m, f1_s = metrics.summarise(f["scores"]["macro_f1"] for f in folds)
        cell = plan.cell
        rows.append({"dataset": cell.dataset, "features": cell.label, "model": cell.model,
                     "normalisation": cell.norm_label, "protocol": meta["protocol"],
                     "speaker_dependent": meta["speaker_dependent"], "folds": len(folds),
                     "n_features": meta["n_features"], "uar_mean": uar_m, "uar_std": uar_s,
                     "wa_mean": wa_m, "wa_std": wa_s, "macro_f1_mean": f1_m,
                     "macro_f1_std": f1_s, "cell_id": plan.cell_id})
        if tracker is not None:
            with _WRITES.writing():
                tracker.finish_parent(plan.parent, *_cell_record(plan, folds, rows[-1]))
    return pd.DataFrame(rows)


def _cell_record(plan: CellPlan, folds: list[dict], row: dict) -> tuple[dict, dict]:
    """A finished cell's MLflow metrics and artifacts."""
    from benchmark.report import figures

    classes = list(plan.meta["classes"])
    preds = pd.DataFrame([{"fold": k, "path": p, "speaker": s, "true": t, "pred": q}
                          for k, f in enumerate(folds) for p, s, t, q in
                          zip(f["paths"], f["speakers"], f["y_true"], f["y_pred"],
                              strict=True)])
    conf, speakers = metrics.speaker_confusions(preds, classes)
    lo, hi = metrics.bootstrap_ci(conf)
    m = {k: row[k] for k in ("uar_mean", "uar_std", "wa_mean", "wa_std", "macro_f1_mean",
                             "macro_f1_std")}
    m.update({"pooled_uar": metrics.pooled_uar(conf), "pooled_uar_ci_low": lo,
              "pooled_uar_ci_high": hi, "fit_s": sum(f["fit_s"] for f in folds),
              "tune_s": sum(f["tune_s"] for f in folds)})
    genders = dict(zip(plan.table["speaker"], plan.table["gender"], strict=True))
    m.update(metrics.speaker_breakdown(conf, speakers, genders))  # who the cell fails
    timed = [f for f in folds if f.get("seconds_per_epoch") is not None]  # networks
    if timed:
        m["seconds_per_epoch"] = float(np.mean([f["seconds_per_epoch"] for f in timed]))
        m["epochs_mean"] = float(np.mean([f["epochs"] for f in timed]))
    per_fold = pd.DataFrame([{"fold": k, "uar": f["scores"]["uar"], "wa": f["scores"]["wa"],
                              "macro_f1": f["scores"]["macro_f1"], "n_test": len(f["y_true"]),
                              "inner_uar": f["inner_uar"], "fit_s": f["fit_s"],
                              "tune_s": f["tune_s"]} for k, f in enumerate(folds)])
    fig = figures.confusion_grid([(f"{plan.cell.model} ({plan.cell.norm_label})",
                                   conf.sum(axis=0))], classes,
                                 f"{plan.cell.dataset}, {plan.cell.label}: recall")
    return m, {"confusion.png": fig, "folds.csv": per_fold.to_csv(index=False),
               "predictions.csv": preds.to_csv(index=False)}
