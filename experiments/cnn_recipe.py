"""The measurements behind the CNN's recipe (docs/cnn.md): ``LogMelCNN`` variants trained and
tested on the speaker-independent outer folds of ``experiments/benchmark.toml``, log-mel bands
standardised per speaker, seed 0, two fits at a time. Prints one Markdown row per variant:
UAR per fold, their mean, seconds per fit.

    SERBENCH_DATA=../shared/datasets python experiments/cnn_recipe.py ravdess --folds 0,1
    SERBENCH_DATA=../shared/datasets python experiments/cnn_recipe.py tess --variants default,2d
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import joblib
import numpy as np

from benchmark.config import load_experiment
from benchmark.corpora import data_root, open_corpus
from benchmark.metrics import uar
from benchmark.protocols import make_folds

VARIANTS = {  # name -> LogMelCNN parameters (the rest at the estimator's defaults)
    "2d_held_out": dict(arch="2d", width=8, max_epochs=10, n_frames=200, val_fraction=0.2),
    "2d": dict(arch="2d", width=8, max_epochs=10, n_frames=200),
    "1d_w32_e10": dict(width=32, max_epochs=10, n_frames=200),
    "1d_w32_e20": dict(width=32, max_epochs=20, n_frames=200),
    "1d_w48_e20": dict(width=48, max_epochs=20, n_frames=200),
    "1d_w64_e20": dict(width=64, max_epochs=20, n_frames=200),
    "1d_w64_e20_3s": dict(width=64, max_epochs=20, n_frames=300),
    "1d_w64_e30": dict(width=64, max_epochs=30, n_frames=200),
    "1d_w32_e30": dict(width=32, max_epochs=30, n_frames=200),
    "1d_w32_e40": dict(width=32, max_epochs=40, n_frames=200),
    "1d_w32_e60": dict(width=32, max_epochs=60, n_frames=200),
    "default": {},
}
BENCHMARK = Path(__file__).with_name("benchmark.toml")


def _fit(manifest, fold, params: dict, cache_dir: str | None) -> tuple[float, float]:
    from benchmark.cnn import LogMelCNN

    X, y = manifest[["path", "speaker"]], manifest["emotion"].to_numpy()
    model = LogMelCNN(speaker_norm=True, seed=0, cache_dir=cache_dir, **params)
    t0 = time.perf_counter()
    model.fit(X.iloc[fold.train], y[fold.train])
    return uar(y[fold.test], model.predict(X.iloc[fold.test])), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--folds", default=None, help="outer fold indices, e.g. 0,1 (default all)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {sorted(VARIANTS)}")
    cfg = load_experiment(BENCHMARK)
    manifest = open_corpus(args.corpus, data_root()).scan().manifest.reset_index(drop=True)
    folds = make_folds(cfg.protocol, manifest, seed=cfg.seed)
    chosen = [int(k) for k in args.folds.split(",")] if args.folds else range(len(folds))
    jobs = [(n, k) for n in names for k in chosen]
    out = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(_fit)(manifest, folds[k], VARIANTS[n], args.cache_dir) for n, k in jobs)
    print("| variant | UAR per fold | mean | s / fit |\n| --- | --- | ---: | ---: |")
    for name in names:
        got = [r for (n, _), r in zip(jobs, out, strict=True) if n == name]
        scores = " ".join(f"{u:.3f}" for u, _ in got)
        print(f"| {name} | {scores} | {np.mean([u for u, _ in got]):.3f} | "
              f"{min(s for _, s in got):.0f}-{max(s for _, s in got):.0f} |")


if __name__ == "__main__":
    main()
