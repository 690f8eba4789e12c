"""One experiment config, end to end and resumable: corpora -> features -> folds -> tuned
models -> scores, checkpointed per (cell, fold) and logged to MLflow.

A *cell* is (dataset, feature variant, model, speaker normalisation, protocol); a *task* is
one outer fold of a cell, or the cell's final model refitted on all its data. A finished task
leaves a JSON checkpoint under ``results/<experiment>/folds/<cell id>/``; a rerun skips it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmark import metrics
from benchmark.config import ExperimentConfig
from benchmark.corpora import data_root as resolve_root
from benchmark.corpora import find, open_corpus
from benchmark.labels import EMOTIONS
from benchmark.models import MODELS, build_pipeline, fit_params
from benchmark.protocols import Fold, check_disjoint, make_folds
from benchmark.provenance import corpus_fingerprint, git_state, package_versions
from benchmark.tracking import Tracker, default_uri
from benchmark.tuning import storage as optuna_storage
from benchmark.tuning import tune, with_copies
from features import FeatureBank
from features.cache import Cache
from features.cache import default_dir as default_cache_dir
from features.parallel import extract, extract_table

FINAL = "final"


@dataclass(frozen=True)
class Dataset:
    """A feature table ready for folds: one corpus, several combined, or a cross-corpus pair."""

    name: str
    table: pd.DataFrame
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    dataset: str
    variant: str
    groups: tuple[str, ...]
    model: str
    speaker_norm: bool
    protocol: str
    augmented: bool = False

    @property
    def norm_label(self) -> str:
        return "speaker-norm" if self.speaker_norm else "global"

    @property
    def label(self) -> str:
        """The feature variant as tables show it: ``full``, ``without_pitch``, ``full+aug``."""
        return self.variant + ("+aug" if self.augmented else "")

    def id(self, digest: str) -> str:
        return (f"{self.dataset}__{self.label}__{self.model}__{self.norm_label}__"
                f"{self.protocol}__{digest}").replace("/", "_").replace("+", "-")


@dataclass(frozen=True)
class RunOptions:
    data_root: str | None = None
    cache_dir: str | None = None
    n_jobs: int = 2
    tracking_uri: str | None = None
    optuna_storage: str | None = None
    progress: bool = True


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------
def resolve_corpora(cfg: ExperimentConfig, opts: RunOptions) -> dict[str, str]:
    """Corpus name -> data root holding it. With ``corpora = ["*"]`` and nothing found, falls
    back to the synthetic corpus and says so in a banner."""
    root = resolve_root(opts.data_root or cfg.data_root)
    available = find(root, include_synth=True)
    if cfg.corpora == ("*",):
        real = {n: str(root) for n in available if n != "synth"}
        if real:
            return real
        if not cfg.synthetic_fallback:
            raise FileNotFoundError(f"no corpus found under {root.resolve()}")
        synth = synthetic_root(opts.cache_dir)
        banner = "=" * 78
        _say(f"{banner}\n NO REAL CORPUS FOUND under {root.resolve()}: running on the "
             f"built-in SYNTHETIC corpus\n ({synth}/synth). Its numbers say nothing about "
             "real speech.\n Point SERBENCH_DATA or --data-root at a folder holding "
             f"ravdess/, crema-d/, tess/, ...\n{banner}")
        return {"synth": str(synth)}
    out = {}
    for name in cfg.corpora:
        if name == "synth" and name not in available:
            out[name] = str(synthetic_root(opts.cache_dir))
        elif name.endswith(".csv") or name in available:
            out[name] = str(root)
        else:
            raise FileNotFoundError(f"corpus {name!r} not found under {root.resolve()}; point "
                                    "SERBENCH_DATA or --data-root at the folder holding it")
    return out


def synthetic_root(cache_dir: str | None, n_speakers: int = 8) -> Path:
    """The synthetic corpus, written once under the cache directory (it is deterministic)."""
    from benchmark.synth import write_corpus

    root = default_cache_dir(cache_dir) / f"synth-corpus-{n_speakers}"
    done = root / ".complete"
    if not done.exists():
        write_corpus(root / "synth", n_speakers=n_speakers, seed=0)
        done.write_text("ok\n")
    return root


def load_tables(cfg: ExperimentConfig, opts: RunOptions, bank: FeatureBank
                ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """Feature table and fingerprint per corpus; skipped and failed files are reported."""
    cache = Cache(opts.cache_dir)
    tables, prints = {}, {}
    for name, root in resolve_corpora(cfg, opts).items():
        scan = open_corpus(name, root).scan()
        for row in scan.skipped.itertuples():
            _say(f"[{name}] skipped {row.path}: {row.reason}")
        table, report = extract_table(scan.manifest, bank, cache, n_jobs=opts.n_jobs,
                                      progress=opts.progress)
        _say(f"[{name}] features: {report.summary()}")
        for _, reason in report.errors:
            _say(f"[{name}] failed {reason}")
        tables[name] = table
        prints[name] = {**corpus_fingerprint(scan.manifest), "root": str(root),
                        "skipped": len(scan.skipped), "failed": len(report.errors)}
    return tables, prints


def make_datasets(cfg: ExperimentConfig, tables: dict[str, pd.DataFrame]) -> list[Dataset]:
    """Apply label maps and drops; combine corpora or keep them apart; restrict cross-corpus
    data to the emotions both sides share."""
    def relabel(t: pd.DataFrame) -> pd.DataFrame:
        t = t.assign(emotion=t["emotion"].map(lambda e: cfg.label_map.get(e, e)))
        return t[~t["emotion"].isin(cfg.drop_labels)].reset_index(drop=True)

    tables = {k: relabel(v) for k, v in tables.items()}
    if cfg.protocol.kind == "cross_corpus":
        p = cfg.protocol
        absent = [c for c in (*p.train, *p.test) if c not in tables]
        if absent:
            raise FileNotFoundError(f"cross_corpus needs corpora {absent}, not found")
        side = {c: set(tables[c]["emotion"]) for c in (*p.train, *p.test)}
        shared = set.intersection(*(set.union(*(side[c] for c in s)) for s in (p.train, p.test)))
        table = pd.concat([tables[c] for c in (*p.train, *p.test)], ignore_index=True)
        table = table[table["emotion"].isin(shared)].reset_index(drop=True)
        name = f"{'+'.join(p.train)}->{'+'.join(p.test)}"
        return [Dataset(name, table, _ordered(shared))]
    if cfg.combine and len(tables) > 1:
        table = pd.concat(tables.values(), ignore_index=True)
        return [Dataset("+".join(tables), table, _ordered(set(table["emotion"])))]
    return [Dataset(k, t, _ordered(set(t["emotion"]))) for k, t in tables.items()]


def _ordered(labels) -> tuple[str, ...]:
    return tuple(e for e in EMOTIONS if e in labels)


# -- one task --------------------------------------------------------------------------------
def fit_fold(X: np.ndarray, columns: list[str], speakers: np.ndarray, y: np.ndarray,
             train: np.ndarray, test: np.ndarray, cell: Cell, cfg: ExperimentConfig,
             storage_url: str | None, study_name: str | None, keep_model: bool,
             paths: np.ndarray | None = None, X_aug: list[np.ndarray] | None = None) -> dict:
    """Tune on inner folds of ``train`` speakers, refit on all of ``train``, score ``test``.

    ``X_aug``: augmented copies of every row (aligned with ``X``, NaN where a copy failed).
    Only copies of ``train`` rows are ever used, and only for fitting (see
    :func:`benchmark.tuning.with_copies`); test rows are always originals.
    """
    from threadpoolctl import threadpool_limits

    spec = MODELS[cell.model]
    with threadpool_limits(1):

        def as_frame(values):
            f = pd.DataFrame(values, columns=columns, copy=False)
            f["speaker"] = speakers
            if paths is not None:
                f["path"] = paths
            return f

        frame = as_frame(X)
        copies = [as_frame(A) for A in X_aug] if (X_aug and cell.augmented) else []
        budget = cfg.tuning.for_model(cell.model)
        tuned = tune(spec, frame.iloc[train], y[train], speakers[train],
                     speaker_norm=cell.speaker_norm, budget=budget,
                     inner_k=budget.inner_k or cfg.protocol.inner_k, seed=cfg.seed,
                     class_weight=cfg.class_weight, select_k=cfg.select_k,
                     storage_url=storage_url, study_name=study_name,
                     augmented=[c.iloc[train] for c in copies])
        Xtr, ytr = with_copies(frame, y, train, copies)
        params = {**cfg.fixed_params.get(cell.model, {}), **tuned.params}
        if keep_model:
            params.update(spec.final_params)
        t0 = time.perf_counter()
        pipe = build_pipeline(spec, params, speaker_norm=cell.speaker_norm, seed=cfg.seed,
                              class_weight=cfg.class_weight, select_k=cfg.select_k)
        pipe.fit(Xtr, ytr, **fit_params(spec, ytr, cfg.class_weight))
        fit_s = time.perf_counter() - t0
        pred = pipe.predict(frame.iloc[test]) if len(test) else np.zeros(0, dtype=y.dtype)
    out = {"params": {**spec.defaults, **params}, "tuned_params": tuned.params,
           "inner_uar": tuned.inner_uar, "n_trials": tuned.n_trials, "n_pruned": tuned.n_pruned,
           "tune_s": round(tuned.seconds, 2), "fit_s": round(fit_s, 2), "note": tuned.note,
           "test": test.tolist(), "y_pred": pred.tolist(), "n_train": int(len(train)),
           "n_train_fitted": int(len(ytr))}
    if keep_model:
        out["model"] = pipe
    return out


# -- the experiment ----------------------------------------------------------------------------
def run(cfg: ExperimentConfig, opts: RunOptions = RunOptions()) -> pd.DataFrame:
    """Run every cell of ``cfg``; returns the per-cell summary (also written to
    ``results/<name>/summary.csv``)."""
    t_start = time.perf_counter()
    if opts.cache_dir:  # workers (and the CNN inside them) find the same cache
        os.environ["SERBENCH_CACHE"] = str(Path(opts.cache_dir).resolve())
    out_dir = Path(cfg.results_dir) / cfg.name
    (out_dir / "folds").mkdir(parents=True, exist_ok=True)
    bank = FeatureBank(cfg.features)
    tables, prints = load_tables(cfg, opts, bank)
    if any(MODELS[m].input == "audio" for m in cfg.models):
        cache = Cache(opts.cache_dir)
        for name, table in tables.items():  # the CNN's log-mels, cached once, in parallel
            _, report = extract(list(table["path"]), bank, cache, kind="logmel",
                                n_jobs=opts.n_jobs, progress=opts.progress)
            _say(f"[{name}] log-mels: {report.summary()}")
    datasets = make_datasets(cfg, tables)
    aug_cfg = cfg.augmentation
    aug_modes = ((False, True) if aug_cfg.compare else (True,)) if aug_cfg.copies else (False,)
    variants = cfg.feature_variants()
    group_cols = bank.group_columns()
    storage_url = opts.optuna_storage or f"sqlite:///{(out_dir / 'optuna.db').resolve()}"
    optuna_storage(storage_url)  # create the schema here, before workers race to do it
    tracker = Tracker(opts.tracking_uri or default_uri(cfg.results_dir), cfg.name,
                      Path(cfg.results_dir) / "mlartifacts")
    git = git_state()
    base_tags = {"git_commit": git["commit"], "git_dirty": str(git["dirty"]),
                 "feature_config": cfg.features.digest(), "experiment_config": cfg.digest(),
                 **{f"version.{k}": v for k, v in package_versions().items()}}
    resolved = json.dumps(cfg.to_dict(), sort_keys=True)
    (out_dir / "config.resolved.json").write_text(json.dumps(cfg.to_dict(), indent=2,
                                                             sort_keys=True) + "\n")
    (out_dir / "data.json").write_text(json.dumps(prints, indent=2, sort_keys=True) + "\n")

    jobs, cells = [], []
    for ds in datasets:
        table = ds.table
        speakers = table["speaker"].to_numpy()
        paths = table["path"].to_numpy()
        y = np.array([ds.classes.index(e) for e in table["emotion"]])
        folds = make_folds(cfg.protocol, table, seed=cfg.seed)
        data_tag = ";".join(f"{c}:{prints[c]['blake2b']}" for c in sorted(set(table["corpus"])))
        aug_all = augmented_features(table, bank, aug_cfg, opts) if aug_cfg.copies else []
        for variant, groups in variants.items():
            columns = [c for g in groups for c in group_cols[g]]
            X = table[columns].to_numpy(np.float32)
            X_aug = [A[columns].to_numpy(np.float32) for A in aug_all]
            for model, norm, augmented in (
                    (m, n, a) for m in cfg.models
                    # a network on log-mels normalises per band itself: one variant only
                    for n in ((False,) if MODELS[m].input == "audio" else cfg.speaker_norm)
                    # augmented copies are feature rows: the CNN reads audio, so it gets none
                    for a in (aug_modes if MODELS[m].input != "audio" else (False,))):
                cell = Cell(ds.name, variant, groups, model, norm, cfg.protocol.kind,
                            augmented)
                cid = cell.id(_cell_digest(cfg, cell))
                folder = out_dir / "folds" / cid
                folder.mkdir(parents=True, exist_ok=True)
                meta = {"cell": cell.__dict__, "cell_id": cid, "classes": ds.classes,
                        "protocol": cfg.protocol.describe(len(folds)),
                        "speaker_dependent": cfg.protocol.speaker_dependent,
                        "n_folds": len(folds), "n_features": len(columns),
                        "n_rows": len(table), "input": MODELS[model].input,
                        "columns": columns}
                _write_json(folder / "cell.json", meta)
                tags = {**base_tags, "data_fingerprint": data_tag, "dataset": ds.name,
                        "model": model, "feature_variant": cell.label,
                        "speaker_norm": str(norm), "protocol": meta["protocol"],
                        "speaker_dependent": str(cfg.protocol.speaker_dependent)}
                parent = tracker.parent(cid, f"{ds.name}/{cell.label}/{model}/"
                                        f"{cell.norm_label}", {"config": resolved,
                                        "n_features": len(columns)}, tags)
                cells.append((cell, cid, folder, parent, meta, table, tags))
                tasks = list(folds)
                if cfg.final_model:
                    tasks.append(Fold(len(folds), np.arange(len(table)), np.zeros(0, int)))
                for fold in tasks:
                    fname = FINAL if fold.index == len(folds) else fold.name
                    done = folder / f"{fname}.json"
                    if done.exists():
                        if fname != FINAL:  # checkpointed: make sure MLflow has it too
                            log_fold(tracker, cell, cid, parent, fname, tags,
                                     json.loads(done.read_text()))
                        continue
                    if fname != FINAL and not fold.speaker_dependent:
                        check_disjoint(speakers, fold.train, fold.test)
                    jobs.append(((cell, cid, folder, parent, fname, meta, table, tags, y,
                                  cfg.features),
                                 joblib.delayed(fit_fold)(
                                     X, columns, speakers, y, fold.train, fold.test, cell,
                                     cfg, storage_url, f"{cid}/{fname}", fname == FINAL,
                                     paths, X_aug if augmented else None)))
    _say(f"{cfg.name}: {len(cells)} cells, {len(jobs)} tasks to run "
         f"({_count_done(cells)} already done)")
    if jobs:
        bar = tqdm(total=len(jobs), unit="task", desc=cfg.name, disable=not opts.progress)
        runner = joblib.Parallel(n_jobs=opts.n_jobs, return_as="generator_unordered")
        by_key = {}
        calls = []
        for k, (ctx, call) in enumerate(jobs):
            by_key[k] = ctx
            calls.append(joblib.delayed(_keyed)(k, call))
        for k, result in runner(calls):
            _record(tracker, by_key[k], result)
            bar.update()
        bar.close()
    summary = summarise_cells(cells, tracker)
    summary.to_csv(out_dir / "summary.csv", index=False)
    _say(f"{cfg.name}: done in {time.perf_counter() - t_start:.0f} s; results in {out_dir}")
    return summary


def augmented_features(table: pd.DataFrame, bank: FeatureBank, aug_cfg, opts: RunOptions
                       ) -> list[pd.DataFrame]:
    """Bank features of every augmented copy of every row (NaN where a copy failed, said)."""
    from benchmark.augment import Copy

    cache = Cache(opts.cache_dir)
    out = []
    for c in range(aug_cfg.copies):
        values, report = extract(list(table["path"]), bank, cache, n_jobs=opts.n_jobs,
                                 progress=opts.progress, transform=Copy(aug_cfg, c))
        _say(f"augmented copy {c}: {report.summary()}")
        for _, reason in report.errors:
            _say(f"  augmentation failed {reason}")
        nan = np.full(len(bank.feature_names), np.nan, np.float32)
        out.append(pd.DataFrame(np.stack([v if v is not None else nan for v in values]),
                                columns=bank.feature_names))
    return out


def _keyed(k, call):
    fn, args, kwargs = call
    return k, fn(*args, **kwargs)


def _cell_digest(cfg: ExperimentConfig, cell: Cell) -> str:
    """What the cell's numbers depend on, so a changed setting never reuses a checkpoint."""
    import hashlib

    key = {"features": cfg.features.digest(), "groups": cell.groups,
           "protocol": cfg.to_dict()["protocol"], "tuning": cfg.tuning.for_model(
               cell.model).__dict__, "seed": cfg.seed, "class_weight": cfg.class_weight,
           "select_k": cfg.select_k, "fixed": dict(cfg.fixed_params.get(cell.model, {})),
           "labels": [dict(cfg.label_map), list(cfg.drop_labels)],
           "augmentation": cfg.augmentation.digest() if cell.augmented else None}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()
                          ).hexdigest()[:8]


def _record(tracker: Tracker, ctx, result: dict) -> None:
    """Checkpoint a finished task, then log it to MLflow."""
    cell, cid, folder, parent, fname, meta, table, tags, y, feature_config = ctx
    classes = list(meta["classes"])
    model = result.pop("model", None)
    if fname == FINAL:
        if model is not None:
            from benchmark.serving import log_audio_model

            info = tracker.log_model(parent, lambda: log_audio_model(
                model, feature_config, meta["columns"], classes, str(table["path"].iloc[0]),
                audio_input=meta["input"] == "audio"))
            result["model_uri"] = info.model_uri
            result["model_logged"] = True
        _write_json(folder / f"{fname}.json", result)
        return
    test = np.asarray(result["test"], dtype=int)
    y_true = [classes[i] for i in y[test]]
    y_pred = [classes[i] for i in result["y_pred"]]
    s = metrics.scores(y_true, y_pred, classes)
    rows = table.iloc[test]
    result.update({"scores": s, "y_true": y_true, "y_pred": y_pred,
                   "paths": rows["path"].tolist(), "speakers": rows["speaker"].tolist()})
    _write_json(folder / f"{fname}.json", result)
    log_fold(tracker, cell, cid, parent, fname, tags, result)


def log_fold(tracker: Tracker, cell: Cell, cid: str, parent: str, fname: str, tags: dict,
             result: dict) -> None:
    """Log a checkpointed fold to MLflow unless a finished run of it exists; called after
    the checkpoint is written and again on resume, so a kill between the two loses nothing."""
    if not tracker.fold_done(cid, fname):
        s, y_true, y_pred = result["scores"], result["y_true"], result["y_pred"]
        m = {"uar": s["uar"], "wa": s["wa"], "macro_f1": s["macro_f1"],
             **{f"recall_{c}": v["recall"] for c, v in s["per_class"].items() if v["support"]}}
        if result["inner_uar"] is not None:
            m["inner_uar"] = result["inner_uar"]
        preds = pd.DataFrame({"path": result["paths"], "speaker": result["speakers"],
                              "true": y_true, "pred": y_pred}).to_csv(index=False)
        tracker.log_fold(parent, cid, fname, f"{cid.split('__')[0]}/{cell.model}/{fname}",
                         {f"best_{k}": v for k, v in result["params"].items()}, m,
                         {**tags, "note": result["note"]},
                         {"predictions.csv": preds, "confusion.json": s["confusion"]})


def _count_done(cells) -> int:
    return sum(len(list(folder.glob("*.json"))) - 1 for _, _, folder, *_ in cells)


def load_cell_results(folder: Path) -> tuple[dict, list[dict]]:
    """A cell's metadata and its finished outer folds, in fold order."""
    meta = json.loads((folder / "cell.json").read_text())
    folds = [json.loads(p.read_text()) for p in sorted(folder.glob("fold*.json"))]
    return meta, folds


def summarise_cells(cells, tracker: Tracker | None = None) -> pd.DataFrame:
    rows = []
    for cell, cid, folder, parent, meta, *_ in cells:
        meta, folds = load_cell_results(folder)
        if len(folds) < meta["n_folds"]:
            continue
        uar_m, uar_s = metrics.summarise(f["scores"]["uar"] for f in folds)
        wa_m, wa_s = metrics.summarise(f["scores"]["wa"] for f in folds)
        f1_m, f1_s = metrics.summarise(f["scores"]["macro_f1"] for f in folds)
        rows.append({"dataset": cell.dataset, "features": cell.label, "model": cell.model,
                     "normalisation": cell.norm_label, "protocol": meta["protocol"],
                     "speaker_dependent": meta["speaker_dependent"], "folds": len(folds),
                     "n_features": meta["n_features"], "uar_mean": uar_m, "uar_std": uar_s,
                     "wa_mean": wa_m, "wa_std": wa_s, "macro_f1_mean": f1_m,
                     "macro_f1_std": f1_s, "cell_id": cid})
        if tracker is not None and parent is not None:
            tracker.finish_parent(parent, {"uar_mean": uar_m, "uar_std": uar_s, "wa_mean": wa_m,
                                           "macro_f1_mean": f1_m}, {})
    return pd.DataFrame(rows)


def _write_json(path: Path, value) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(v):
    if isinstance(v, np.integer | np.floating):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")
