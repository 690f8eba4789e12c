"""Corpora -> datasets: which corpora a config names, the synthetic fallback, label maps,
combined and cross-corpus datasets. Knows nothing of features or models."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.config import ExperimentConfig
from benchmark.corpora import data_root as resolve_root
from benchmark.corpora import find
from benchmark.labels import EMOTIONS
from features.cache import Cache


@dataclass(frozen=True)
class Dataset:
    """A feature table ready for folds: one corpus, several combined, or a cross-corpus pair."""

    name: str
    table: pd.DataFrame
    classes: tuple[str, ...]
    train: tuple[str, ...] = ()  # cross-corpus: the corpora trained on
    test: tuple[str, ...] = ()  # cross-corpus: the corpora tested on


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_corpora(cfg: ExperimentConfig, data_root: str | None, cache_dir: str | None
                    ) -> dict[str, str]:
    """Corpus name -> data root holding it. With ``corpora = ["*"]`` and nothing found, falls
    back to the synthetic corpus and says so in a banner."""
    root = resolve_root(data_root or cfg.data_root)
    available = find(root, include_synth=True)
    if cfg.corpora == ("*",):
        real = {n: str(root) for n in available if n != "synth"}
        if real:
            return real
        if not cfg.synthetic_fallback:
            raise FileNotFoundError(f"no corpus found under {root.resolve()}")
        synth = synthetic_root(cache_dir)
        banner = "=" * 78
        _say(f"{banner}\n NO REAL CORPUS FOUND under {root.resolve()}: running on the "
             f"built-in SYNTHETIC corpus\n ({synth}/synth). Its numbers say nothing about "
             "real speech.\n Point SERBENCH_DATA or --data-root at a folder holding "
             f"ravdess/, crema-d/, tess/, ...\n{banner}")
        return {"synth": str(synth)}
    out = {}
    for name in cfg.corpora:
        if name == "synth" and name not in available:
            out[name] = str(synthetic_root(cache_dir))
        elif name.endswith(".csv") or name in available:
            out[name] = str(root)
        else:
            raise FileNotFoundError(f"corpus {name!r} not found under {root.resolve()}; point "
                                    "SERBENCH_DATA or --data-root at the folder holding it")
    return out


def synthetic_root(cache_dir: str | None, n_speakers: int = 8) -> Path:
    """The synthetic corpus, written once under the cache directory (it is deterministic)."""
    from benchmark.synth import write_corpus

    root = Cache(cache_dir).claim() / f"synth-corpus-{n_speakers}"
    done = root / ".complete"
    if not done.exists():
        write_corpus(root / "synth", n_speakers=n_speakers, seed=0)
        done.write_text("ok\n")
    return root


def resolve_audio(path: str, cache_dir: str | None = None) -> Path | None:
    """A file named in a checkpoint, on this machine: relative names (``ravdess/Actor_01/
    ...``) are looked up under the data root, then under the synthetic corpora of the cache;
    absolute ones (older checkpoints) as they are. ``None`` when it is not here."""
    p = Path(path)
    if p.is_absolute():
        return p if p.exists() else None
    candidates = [resolve_root(None) / p]
    cache = Cache(cache_dir).root
    if cache.is_dir():
        candidates += [d / p for d in sorted(cache.glob("synth-corpus-*"))]
    return next((c for c in candidates if c.exists()), None)


def make_datasets(cfg: ExperimentConfig, tables: dict[str, pd.DataFrame]) -> list[Dataset]:
    """Apply label maps and drops; combine corpora or keep them apart; restrict cross-corpus
    data to the emotions both sides share."""
    def relabel(t: pd.DataFrame) -> pd.DataFrame:
        t = t.assign(emotion=t["emotion"].map(lambda e: cfg.label_map.get(e, e)))
        return t[~t["emotion"].isin(cfg.drop_labels)].reset_index(drop=True)

    tables = {k: relabel(v) for k, v in tables.items()}
    if cfg.protocol.kind == "cross_corpus":
        p = cfg.protocol
        if p.train:
            pairs = [(p.train, p.test)]
        else:  # the matrix: every ordered pair of the corpora present
            if len(tables) < 2:
                raise FileNotFoundError(f"a cross-corpus matrix needs two corpora or more; "
                                        f"found {sorted(tables)}")
            pairs = [((a,), (b,)) for a in tables for b in tables if a != b]
        return [_cross(tables, train, test) for train, test in pairs]
    if cfg.combine and len(tables) > 1:
        table = pd.concat(tables.values(), ignore_index=True)
        return [Dataset("+".join(tables), table, _ordered(set(table["emotion"])))]
    return [Dataset(k, t, _ordered(set(t["emotion"]))) for k, t in tables.items()]


def _cross(tables: dict[str, pd.DataFrame], train: tuple[str, ...], test: tuple[str, ...]
           ) -> Dataset:
    """Train corpora and test corpora as one dataset, over the emotions both sides have."""
    absent = [c for c in (*train, *test) if c not in tables]
    if absent:
        raise FileNotFoundError(f"cross_corpus needs corpora {absent}, not found")
    side = {c: set(tables[c]["emotion"]) for c in (*train, *test)}
    shared = set.intersection(*(set.union(*(side[c] for c in s)) for s in (train, test)))
    table = pd.concat([tables[c] for c in (*train, *test)], ignore_index=True)
    table = table[table["emotion"].isin(shared)].reset_index(drop=True)
    return Dataset(f"{'+'.join(train)}->{'+'.join(test)}", table, _ordered(shared), train, test)


def _ordered(labels) -> tuple[str, ...]:
    return tuple(e for e in EMOTIONS if e in labels)


SPEAKERS = "speakers.csv"  # beside a run's results: corpus, speaker, gender, files


def speaker_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per speaker of the run's data: corpus, speaker, gender, files."""
    rows = pd.concat([t[["corpus", "speaker", "gender"]] for t in tables.values()]) \
        if tables else pd.DataFrame(columns=["corpus", "speaker", "gender"])
    out = rows.groupby(["corpus", "speaker", "gender"], sort=True).size()
    return out.rename("files").reset_index()
