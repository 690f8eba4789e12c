"""Manifest -> feature table, through the cache, in parallel with joblib.

Cache hits are served in the calling process (hash the file, read the entry); only misses are
sent to workers, in chunks large enough to amortise dispatch. Each worker writes every entry
the moment it is computed, so an interrupted run loses at most the files in flight.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import joblib
import numpy as np
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from benchmark import audio
from features.bank import FeatureBank
from features.cache import Cache, content_hash
from features.heap import keep_freed_memory
from features.sets.base import Extractor, FeatureSet, Part
from features.warm import warm

if TYPE_CHECKING:
    import pandas as pd

#: Manifest columns carried into the feature table.
KEY_COLUMNS = ("path", "corpus", "speaker", "gender", "emotion", "intensity")


@dataclass
class ExtractReport:
    """What a run of :func:`extract` did; ``errors`` names each failed file and why."""

    n_files: int = 0
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # an imported table's rows of no file

    @property
    def files_per_s(self) -> float:
        return self.n_files / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        return (f"{self.n_files} files in {self.seconds:.2f} s ({self.files_per_s:.0f} files/s): "
                f"{self.hits} cached, {self.misses} computed, {len(self.errors)} failed")


def namespace(extractor: Extractor, kind: str, transform=None) -> str:
    """Cache folder of a (extractor, kind[, transform]): e.g. ``features-85a23f8d6595d443``."""
    base = extractor.cache_namespace(kind)
    return f"{base}-{transform.name}" if transform is not None else base


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """One controller per process: building one scans the loaded libraries (~0.4 ms)."""
    return ThreadpoolController()


def compute(extractor: Extractor, kind: str, path: str, data: bytes | None = None,
            transform=None) -> np.ndarray:
    """The one code path from a file to its features (training, prediction and workers).

    ``kind``: ``"features"`` (one row) or ``"logmel"`` (a bank's frame-level log-mel).
    ``transform(y, sr, content_key)``, if given, alters the signal first (an augmented copy).
    BLAS runs on one thread here: the mel projection's summation order, hence every bit of
    the output, is then the same in any process (a worker, ``predict``, a model server).
    """
    if transform is not None and data is None:
        data = open(path, "rb").read()
    sr = extractor.sr
    with _blas().limit(limits=1, user_api="blas"):
        y = audio.load(path, sr, data=data)
        if transform is not None:
            y = transform(y, sr, content_hash(data))
        return extractor.extract(y, sr) if kind == "features" else extractor.logmel(y, sr)


def guided_chunk_size(remaining: int, workers: int, largest: int = 64) -> int:
    """Files in the next task when ``remaining`` files are still to be sent: a quarter of
    each worker's share, at most ``largest`` (a task amortises its dispatch over ~1 s of
    work), so tasks shrink towards the end and the workers finish together (guided
    scheduling) instead of one computing a last full task while the others wait."""
    return max(1, min(largest, -(-remaining // (4 * max(workers, 1)))))


def leave_interrupts_to(main_pid: int) -> None:
    """In a worker process, ignore Ctrl-C: the main process alone handles it (it stops the
    workers and says one line), instead of every worker printing its own traceback."""
    if os.getpid() != main_pid and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(chunk, extractor: Extractor, kind: str, cache_root: str, transform=None,
          main_pid: int = 0):
    leave_interrupts_to(main_pid)
    keep_freed_memory()  # this process computes file after file: reuse the pages it frees
    cache, space = Cache(cache_root), namespace(extractor, kind, transform)
    out = []
    for index, path, key in chunk:
        try:
            value = compute(extractor, kind, path, transform=transform)
        except (audio.AudioError, ValueError, FloatingPointError) as exc:
            out.append((index, None, str(exc) if str(path) in str(exc) else f"{path}: {exc}"))
            continue
        cache.put(space, key, value)
        out.append((index, value, None))
    return out


def extract(paths: Sequence[str], extractor: Extractor, cache: Cache, kind: str = "features",
            n_jobs: int = 1, backend: str | None = None, chunk_size: int | None = None,
            progress: bool = True, transform=None
            ) -> tuple[list[np.ndarray | None], ExtractReport]:
    """Features of every file, in order; a failed file gives ``None`` and an error entry.

    Parameters
    ----------
    n_jobs, backend : joblib's; ``backend=None`` keeps the caller's (loky unless a
        :func:`compute_backend` is active); ``"dask"`` uses a running ``distributed.Client``
        (or starts a local one) through joblib's Dask backend.
    chunk_size : files per task; default: :func:`guided_chunk_size`, shrinking as files run out.
    """
    t0 = time.perf_counter()
    space = namespace(extractor, kind, transform)
    report = ExtractReport(n_files=len(paths))
    results: list[np.ndarray | None] = [None] * len(paths)
    desc = (f"extract {kind}" if isinstance(extractor, FeatureBank) else
            f"extract {space.split('-')[1]}") + (f" {transform.name}" if transform else "")
    bar = tqdm(total=len(paths), unit="file", desc=desc, disable=not progress,
               smoothing=0.05, mininterval=0.5)
    lock = threading.Lock()  # joblib draws chunks from a thread of its own, as tasks finish

    def tick(k: int = 1) -> None:
        with lock:
            bar.update(k)
    workers = joblib.effective_n_jobs(n_jobs)

    def misses():
        """The files not in the cache, a chunk at a time as soon as it is full: workers
        start on the first while the rest are still being hashed."""
        chunk, size = [], 0
        for i, path in enumerate(paths):
            try:
                key = content_hash(open(path, "rb").read())
            except OSError as exc:
                report.errors.append((str(path), f"{path}: cannot read ({exc.strerror or exc})"))
                tick()
                continue
            hit = cache.get(space, key)
            if hit is not None:
                results[i] = hit
                report.hits += 1
                tick()
                continue
            report.misses += 1
            if not chunk:  # a new task: sized by the files still to be sent, this one included
                size = chunk_size or guided_chunk_size(len(paths) - i, workers)
            chunk.append((i, str(path), key))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    chunks = misses()
    first = next(chunks, None)
    if first is not None:
        cache.claim()  # here, once, before workers write into it
        if workers > 1 and isinstance(extractor, FeatureBank):
            warm(extractor.config)
        with compute_backend(backend, n_jobs):
            runner = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            for done in runner(joblib.delayed(_work)(c, extractor, kind, str(cache.root),
                                                     transform, os.getpid())
                               for c in itertools.chain([first], chunks)):
                for index, value, error in done:
                    results[index] = value
                    if error:
                        report.errors.append((paths[index], error))
                tick(len(done))
    bar.set_postfix(hits=report.hits, misses=report.misses, refresh=False)
    bar.close()
    report.seconds = time.perf_counter() - t0
    return results, report


@contextlib.contextmanager
def compute_backend(name: str | None, n_jobs: int = 1, scheduler: str | None = None):
    """Where joblib work runs inside the block: ``None`` as the caller set it, a joblib
    backend name (``loky``, ``threading``), or ``dask``: the cluster at ``scheduler``
    (``tcp://host:8786``), else the ``distributed.Client`` already running, else a local one
    started for the block. Workers read audio by path, so a cluster needs the data and the
    cache on a file system they all see."""
    if name is None and scheduler is None:
        yield
        return
    if name != "dask" and scheduler is None:
        with joblib.parallel_config(backend=name):
            yield
        return
    try:
        from dask.distributed import Client, get_client
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("the dask backend needs `distributed`: pip install 'serbench[dask]'"
                          ) from exc
    owned = None
    if scheduler is not None:
        owned = Client(scheduler, set_as_default=False)
    else:
        try:
            get_client()
        except ValueError:
            owned = Client(n_workers=max(1, joblib.effective_n_jobs(n_jobs)),
                           threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with joblib.parallel_config(backend="dask", **({"client": owned} if owned else {})):
            yield
    finally:
        if owned is not None:
            owned.close()


def column_key(extractor: Extractor, name: str) -> str:
    """A column of :func:`extract_columns`: unique across extractors (``egemaps`` and
    ``compare`` may share a name; the cache namespace never does)."""
    return f"{extractor.cache_namespace()}::{name}"


def set_columns(fs: FeatureSet) -> list[str]:
    """The :func:`extract_columns` columns of a feature set, in its column order."""
    return [column_key(p.extractor, c) for p in fs.parts for c in p.columns]


def extractors_of(sets) -> list[Extractor]:
    """The distinct extractors behind some feature sets, each once, in first-seen order."""
    out: dict[str, Extractor] = {}
    for fs in sets:
        for p in fs.parts:
            out.setdefault(p.extractor.cache_namespace(), p.extractor)
    return list(out.values())


def extract_columns(manifest: pd.DataFrame, extractors: Sequence[Extractor], cache: Cache,
                    root: str | None = None, **kw) -> tuple[pd.DataFrame, dict[str, ExtractReport]]:
    """Key columns, then every extractor's features (:func:`column_key` names), one row per
    manifest file that every extractor computed: so that all feature sets of an experiment
    share the same rows, hence the same folds. Each failure is in its extractor's report.
    An imported table's rows are looked up by path relative to ``root`` (the corpus's data
    root)."""
    import pandas as pd  # here, not at the top: every worker imports this module
    paths = list(manifest["path"])
    ok = np.ones(len(paths), bool)
    blocks, names, reports = [], [], {}
    for ex in extractors:
        if hasattr(ex, "rows_for"):  # an imported table: its rows are looked up, not computed
            t0 = time.perf_counter()
            values, errors, extra = ex.rows_for(paths, root)
            report = ExtractReport(n_files=len(paths), hits=len(paths) - len(errors),
                                   errors=errors, extra=extra,
                                   seconds=time.perf_counter() - t0)
        else:
            values, report = extract(paths, ex, cache, kind="features", **kw)
        reports[ex.cache_namespace()] = report
        width = len(ex.feature_names)
        ok &= np.array([v is not None for v in values], bool)
        blocks.append(np.stack([v if v is not None else np.full(width, np.nan, np.float32)
                                for v in values]) if values else np.zeros((0, width)))
        names += [column_key(ex, n) for n in ex.feature_names]
    keys = manifest.iloc[np.flatnonzero(ok)][[c for c in KEY_COLUMNS if c in manifest.columns]]
    features = (np.concatenate(blocks, axis=1)[ok] if blocks
                else np.zeros((int(ok.sum()), 0), np.float32))
    table = pd.concat([keys.reset_index(drop=True),
                       pd.DataFrame(features.astype(np.float32, copy=False), columns=names)],
                      axis=1)
    return table, reports


def as_set(source: FeatureBank | FeatureSet) -> FeatureSet:
    """A bank as the feature set of all its columns; a feature set as it is."""
    if isinstance(source, FeatureSet):
        return source
    return FeatureSet("bank", (Part(source, tuple(source.feature_names)),))


def extract_table(manifest: pd.DataFrame, source: FeatureBank | FeatureSet, cache: Cache,
                  **kw) -> tuple[pd.DataFrame, ExtractReport]:
    """One row per manifest file that succeeded: its key columns, then the features of a
    bank (all its columns) or a feature set (named as the set names them)."""
    import pandas as pd

    fs = as_set(source)
    wide, reports = extract_columns(manifest, extractors_of([fs]), cache, **kw)
    keys = [c for c in KEY_COLUMNS if c in wide.columns]
    table = pd.concat([wide[keys], wide[set_columns(fs)].set_axis(fs.feature_names, axis=1)],
                      axis=1)
    return table, merge_reports(reports.values(), len(manifest))


def merge_reports(reports, n_files: int) -> ExtractReport:
    """One report for several extractors over the same files."""
    out = ExtractReport(n_files=n_files)
    for r in reports:
        out.hits += r.hits
        out.misses += r.misses
        out.seconds += r.seconds
        out.errors += r.errors
    return out
