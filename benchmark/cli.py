"""The ``serbench`` command: argument parsing only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.lock import Busy, results_lock


def _cmd_corpora(args) -> int:
    from benchmark.corpora import data_root, find, open_corpus
    from benchmark.corpora.base import summarise

    root = data_root(args.data_root)
    found = find(root, include_synth=True)
    if not found:
        print(f"no corpus found under {root.resolve()} (looked for folders named "
              "ravdess, crema-d, tess, savee, emodb, aesdd, synth); "
              "set --data-root or SERBENCH_DATA, or run `serbench synth data/synth`")
        return 1
    for name in found:
        result = open_corpus(name, root).scan(min_duration_s=args.min_duration)
        s = summarise(result)
        print(f"{name}: {s['files']} files, {s['speakers']} speakers, {s['hours']:.2f} h, "
              f"{s['skipped']} skipped  [{found[name]}]")
        for emotion, count in s["emotions"].items():
            print(f"  {emotion:<10} {count:>6}")
        for row in result.skipped.itertuples():
            print(f"  skipped {row.path}: {row.reason}")
    return 0


def _cmd_manifest(args) -> int:
    from benchmark.corpora import open_corpus

    result = open_corpus(args.corpus, args.data_root).scan(min_duration_s=args.min_duration)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.manifest.to_csv(out, index=False)
    print(f"wrote {len(result.manifest)} rows to {out}")
    if len(result.skipped):
        skipped = out.with_name(out.stem + ".skipped.csv")
        result.skipped.to_csv(skipped, index=False)
        print(f"{len(result.skipped)} files skipped, reasons in {skipped}:", file=sys.stderr)
        for row in result.skipped.itertuples():
            print(f"  {row.path}: {row.reason}", file=sys.stderr)
    return 0


def _cmd_synth(args) -> int:
    import time

    from benchmark.synth import write_corpus

    t0 = time.perf_counter()
    paths = write_corpus(args.out_dir, n_speakers=args.speakers, seed=args.seed)
    print(f"wrote {len(paths)} files for {args.speakers} speakers to {args.out_dir} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_extract(args) -> int:
    from benchmark.corpora import open_corpus
    from features import FeatureConfig
    from features.cache import Cache
    from features.parallel import extract_table

    if args.config:
        from benchmark.config import load_experiment

        exp = load_experiment(args.config)
        corpora, feature_config = list(exp.corpora), exp.features
        data_root = args.data_root or exp.data_root
    else:
        if not args.corpus:
            raise ValueError("give an experiment CONFIG or --corpus NAME")
        corpora, feature_config, data_root = args.corpus, FeatureConfig(), args.data_root
    if args.groups:
        feature_config = feature_config.with_groups(args.groups.split(","))
    from features.sets import feature_set

    fs, cache = feature_set(args.set, feature_config), Cache(args.cache_dir)
    out = Path(args.output or f"features-{'+'.join(corpora)}-{args.set}-{fs.digest()}.parquet")
    tables, failed = [], 0
    for name in corpora:
        scan = open_corpus(name, data_root).scan()
        for row in scan.skipped.itertuples():
            print(f"skipped {row.path}: {row.reason}", file=sys.stderr)
        table, report = extract_table(scan.manifest, fs, cache,
                                      n_jobs=local_jobs(args.n_jobs, args.backend == "dask"),
                                      backend=args.backend, progress=not args.quiet)
        print(f"{name}: {report.summary()}")
        for _, reason in report.errors:
            print(f"  failed {reason}", file=sys.stderr)
        failed += len(report.errors)
        tables.append(table)
    import pandas as pd

    table = pd.concat(tables, ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    print(f"wrote {len(table)} rows x {len(fs.feature_names)} features ({args.set}) to {out} "
          f"(cache {cache.root}, set digest {fs.digest()})")
    return 1 if failed else 0


def _cmd_cache(args) -> int:
    from features.cache import Cache

    cache = Cache(args.cache_dir)
    if args.action == "info":
        s = cache.stats()
        print(f"{cache.root}: {s.entries} entries, {s.bytes / 2**20:.1f} MiB")
        for space, n in sorted(s.namespaces.items()):
            print(f"  {space}: {n}")
    elif args.action == "verify":
        bad = cache.verify(remove=True)
        foreign = cache.foreign()
        print(f"{cache.root}: {len(cache.entries())} good entries, {len(bad)} corrupt "
              f"(removed), {len(foreign)} foreign (not entries: left alone)")
        for path, reason in bad:
            print(f"  corrupt {path}: {reason}")
        for path in foreign:
            print(f"  foreign {path}")
        return 1 if bad else 0
    else:
        print(f"removed {cache.clear()} entries from {cache.root}")
    return 0


def local_jobs(n_jobs: int, remote: bool = False) -> int:
    """``--n-jobs`` as this machine can run it: at least 1 and, unless the work goes to a
    cluster (``remote``), at most its cores, with a line when clamped (12 workers on 2 cores
    only contend for them)."""
    if n_jobs < 1:
        raise ValueError(f"--n-jobs must be at least 1, given {n_jobs}")
    cores = os.cpu_count() or 1
    if remote or n_jobs <= cores:
        return n_jobs
    print(f"serbench: --n-jobs {n_jobs} clamped to this machine's {cores} cores",
          file=sys.stderr)
    return cores


def _cmd_run(args) -> int:
    from benchmark.config import load_experiment
    from benchmark.run import RunOptions, run

    cfg = load_experiment(args.config, results_dir=args.results_dir)
    remote = bool(args.scheduler or cfg.scheduler)
    opts = RunOptions(data_root=args.data_root, cache_dir=args.cache_dir,
                      n_jobs=local_jobs(args.n_jobs, remote),
                      tracking_uri=args.tracking_uri, optuna_storage=args.optuna_storage,
                      progress=not args.quiet, scheduler=args.scheduler)
    with results_lock(cfg.results_dir, f"serbench run {args.config}"):
        summary = run(cfg, opts)
        if len(summary):
            cols = ["dataset", "features", "model", "normalisation", "folds", "uar_mean",
                    "uar_std", "wa_mean", "macro_f1_mean"]
            print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if not args.no_report:
            from benchmark.report import write_report

            write_report(cfg.name, cfg.results_dir, tracking_uri=args.tracking_uri)
    return 0


def _cmd_report(args) -> int:
    from benchmark.locations import find_experiment
    from benchmark.report import write_report

    results_dir = find_experiment(args.experiment, args.results_dir)
    with results_lock(results_dir, f"serbench report {args.experiment}"):
        written = write_report(args.experiment, results_dir, tracking_uri=args.tracking_uri)
    print(f"wrote {len(written)} files under {results_dir / args.experiment}")
    return 0


def _cmd_paper(args) -> int:
    from benchmark.locations import find_experiment
    from benchmark.report.paper import PAPER, LatexError, compile_latex

    out = find_experiment(args.experiment, args.results_dir) / args.experiment
    tex = out / PAPER / "appendix.tex"
    if not tex.exists():
        raise FileNotFoundError(f"{tex} not found: run `serbench report {args.experiment}` first")
    said: dict = {}
    try:
        pdf = compile_latex(tex, said)
    except LatexError as exc:
        raise ValueError(str(exc)) from exc
    print(f"wrote {pdf}")
    if said.get("scaled"):  # fits, but only scaled (its caption says so): the design to-do
        print(f"{len(said['scaled'])} table(s) scaled to the text width: " + ", ".join(
            f"{name} to {scale:.0%}" for name, scale in sorted(said["scaled"].items())))
    return 0


def _cmd_predict(args) -> int:
    from benchmark.predict import expand, predict_files, resolve_model

    uri = resolve_model(args.model, args.results_dir, args.tracking_uri)
    files = expand(args.inputs)
    if not files:
        raise FileNotFoundError(f"no audio files in {args.inputs}")
    enrol = expand(args.enrol) if args.enrol else []
    if args.enrol and not enrol:
        raise FileNotFoundError(f"no audio files in --enrol {args.enrol}")
    table = predict_files(uri, files, progress=not args.quiet, trust=args.trust_model_code,
                          window_s=args.window, hop_s=args.hop, enrol=enrol)
    cols = ["path", "emotion", "confidence", "error"]
    if (table["segment"] != "whole").any():  # long files: their windows and summaries
        cols[1:1] = ["segment", "start_s", "end_s"]
    print(f"model {uri}")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.output:
        out = Path(args.output)
        if out.suffix == ".json":
            out.write_text(table.to_json(orient="records", indent=1))
        else:
            table.to_csv(out, index=False)
        print(f"wrote {out}")
    failed = int((table["error"] != "").sum())
    if failed:
        print(f"{failed} file(s) could not be predicted (see the error column)", file=sys.stderr)
    return 1 if failed else 0


def _cmd_register(args) -> int:
    from benchmark.predict import register_best

    for name, version in register_best(args.experiment, args.results_dir, args.tracking_uri):
        print(f"registered {name} version {version}")
    return 0


def _cmd_app(args) -> int:
    import os
    import subprocess

    from benchmark.locations import search_dirs

    app = Path(__file__).with_name("app.py")
    env = {**os.environ, "SERBENCH_RESULTS": os.pathsep.join(
        str(d.resolve()) for d in search_dirs(args.results_dir))}
    if args.data_root:
        env["SERBENCH_DATA"] = str(Path(args.data_root).resolve())
    bindir = str(Path(sys.executable).parent)
    from benchmark.demo import DemoSettings

    limit_mb = DemoSettings.from_env().max_upload_mb  # Streamlit refuses larger uploads itself
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address",
           "127.0.0.1", "--server.port", str(args.port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false",
           "--server.maxUploadSize", str(max(1, int(-(-limit_mb // 1))))]
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    print(f"serbench app on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    return subprocess.call(cmd, env=env)


def _cmd_ui(args) -> int:
    import subprocess

    from benchmark.locations import last_store
    from benchmark.tracking import default_uri

    uri = args.tracking_uri or last_store() or default_uri("runs")
    print(f"MLflow UI on http://127.0.0.1:{args.port} for {uri} (Ctrl-C stops it)")
    mlflow = Path(sys.executable).with_name("mlflow")
    return subprocess.call([str(mlflow), "ui", "--backend-store-uri", uri, "--host",
                            "127.0.0.1", "--port", str(args.port)])


def _cmd_warm(args) -> int:
    import time

    from features.warm import warm

    t0 = time.perf_counter()
    warm()
    print(f"numba kernels compiled and cached in {time.perf_counter() - t0:.1f} s")
    return 0


READERS = "default: runs/, then results/ (the committed references)"


def build_parser() -> argparse.ArgumentParser:
    from benchmark.audio import HOP_S, LONG_WINDOWS, WINDOW_S

    parser = argparse.ArgumentParser(
        prog="serbench", description="Speaker-independent speech emotion recognition benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("corpora", help="list the corpora found under the data root")
    p.add_argument("--data-root", help="folder holding corpus folders (default: $SERBENCH_DATA "
                   "or ./data)")
    p.add_argument("--min-duration", type=float, default=0.25, help="seconds (default 0.25)")
    p.set_defaults(func=_cmd_corpora)

    p = sub.add_parser("manifest", help="write one corpus's manifest CSV")
    p.add_argument("corpus", help="ravdess, crema-d, tess, savee, emodb, aesdd, synth, or a CSV")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--data-root")
    p.add_argument("--min-duration", type=float, default=0.25)
    p.set_defaults(func=_cmd_manifest)

    p = sub.add_parser("synth", help="write the built-in synthetic corpus")
    p.add_argument("out_dir")
    p.add_argument("--speakers", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("extract", help="extract the feature table of one or more corpora")
    p.add_argument("config", nargs="?", help="experiment TOML (its corpora and features)")
    p.add_argument("--corpus", action="append", help="corpus name or CSV (repeatable)")
    p.add_argument("--data-root")
    p.add_argument("--groups", help="comma-separated bank groups (default: all)")
    p.add_argument("--set", default="bank", help="feature set: bank, bank[g1,g2], egemaps, "
                   "compare, librosa_classic, or a fusion a+b (default: bank)")
    p.add_argument("-o", "--output", help="parquet file (default: features-<corpora>-<hash>)")
    p.add_argument("--cache-dir", help="default: $SERBENCH_CACHE or the user cache dir")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--backend", default="loky", help="joblib backend: loky, threading, dask")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("run", help="run an experiment config (resumable)")
    p.add_argument("config", help="experiments/*.toml")
    p.add_argument("--data-root")
    p.add_argument("--cache-dir")
    p.add_argument("--results-dir", help="default: the config's results_dir, runs/ (git-"
                   "ignored); `make reference` gives results/, the committed references")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--tracking-uri",
                   help="MLflow tracking URI (default: mlflow.db beside the results folder)")
    p.add_argument("--optuna-storage", help="Optuna storage: an SQLAlchemy URL, or "
                   "journal:<path> (a journal file on a shared file system); default: SQLite "
                   "beside the results")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): run "
                   "extraction and tasks on that cluster (default: the config's, else local)")
    p.add_argument("--no-report", action="store_true", help="skip `serbench report`")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="tables, statistics and figures from stored runs")
    p.add_argument("experiment", help="experiment name (a folder under the results dir)")
    p.add_argument("--results-dir", help=READERS)
    p.add_argument("--tracking-uri")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("paper", help="compile an experiment's paper/appendix.tex (pdflatex) "
                       "and check that every table fits the page")
    p.add_argument("experiment")
    p.add_argument("--results-dir", help=READERS)
    p.set_defaults(func=_cmd_paper)

    p = sub.add_parser("predict", help="predict emotions of audio files with a trained model")
    p.add_argument("model", help="runs:/..., models:/..., or an experiment name (its best "
                   "single-file model)")
    p.add_argument("inputs", nargs="+", help="audio files or folders")
    p.add_argument("-o", "--output", help="write CSV (or JSON if it ends in .json)")
    p.add_argument("--results-dir", help=READERS)
    p.add_argument("--tracking-uri")
    p.add_argument("--enrol", nargs="+", metavar="FILE",
                   help="recordings of the same speaker for a model trained with an enrolment "
                   "mode (speaker_norm = \"enrol:k\"): its features are standardised with "
                   "their statistics; not scored")
    p.add_argument("--window", type=float, default=WINDOW_S, metavar="S",
                   help=f"a file longer than {LONG_WINDOWS} windows is read and predicted "
                   f"window by window, in bounded memory, plus a summary row (default "
                   f"{WINDOW_S:g} s)")
    p.add_argument("--hop", type=float, default=HOP_S, metavar="S",
                   help=f"seconds between window starts (default {HOP_S:g})")
    p.add_argument("--trust-model-code", action="store_true",
                   help="load a model folder the store has no digest for (logged elsewhere): "
                   "a model folder is code, like a pickle; a folder whose content differs "
                   "from its recorded digest is refused regardless")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("register", help="register each dataset's best model in MLflow")
    p.add_argument("experiment")
    p.add_argument("--results-dir", help=READERS)
    p.add_argument("--tracking-uri")
    p.set_defaults(func=_cmd_register)

    p = sub.add_parser("app", help="the Streamlit demo page, on 127.0.0.1")
    p.add_argument("--results-dir", help=READERS)
    p.add_argument("--data-root", help="corpus files under it may be given by path "
                   "(default: $SERBENCH_DATA; none: uploads only)")
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser("ui", help="the MLflow UI on 127.0.0.1, on the store the last run "
                       "wrote")
    p.add_argument("--tracking-uri")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=_cmd_ui)

    p = sub.add_parser("warm", help="compile and cache the numba kernels (make does it once)")
    p.set_defaults(func=_cmd_warm)

    p = sub.add_parser("cache", help="inspect, verify or clear the feature cache")
    p.add_argument("action", choices=["info", "verify", "clear"])
    p.add_argument("--cache-dir")
    p.set_defaults(func=_cmd_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, KeyError, ValueError, Busy) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        if isinstance(exc, KeyError) and " " not in str(msg):  # a bare key: say where
            import traceback

            frame = traceback.extract_tb(exc.__traceback__)[-1]
            msg = (f"no {msg!r} where {Path(frame.filename).name}:{frame.lineno} looked it up "
                   "(a bug of serbench: please report it with the config)")
        print(f"serbench {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: one line; finished work is on disk
        said = str(exc) or "interrupted; finished work is kept: rerun the same command to resume"
        print(f"serbench {args.command}: {said}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
