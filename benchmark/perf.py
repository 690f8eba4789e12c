"""Extraction throughput: the bank (cold, warm) against a naive librosa bank and openSMILE.

``make perf`` runs ``python -m benchmark.perf``. Every measurement runs in a fresh interpreter
(worker start-up and imports count, as for a user), on the same files with the same number of
workers, and the results land in ``results/perf/`` with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import audio

SR = 16000


# -- the references ------------------------------------------------------------------------
def naive_librosa_features(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """What seed projects do: each descriptor by its own ``librosa.feature`` call on the
    waveform (each recomputing its STFT), then mean/std/min/max per row. Same framing as the
    bank (25 ms window, 10 ms hop, 512-point FFT), same descriptors, YIN for pitch."""
    import librosa

    f = librosa.feature
    kw = dict(n_fft=512, hop_length=160, win_length=400)
    rows = [
        f.zero_crossing_rate(y, frame_length=400, hop_length=160), f.rms(y=y, frame_length=400,
                                                                          hop_length=160),
        f.spectral_centroid(y=y, sr=sr, **kw), f.spectral_bandwidth(y=y, sr=sr, **kw),
        f.spectral_rolloff(y=y, sr=sr, **kw), f.spectral_flatness(y=y, **kw),
        f.spectral_contrast(y=y, sr=sr, **kw), f.chroma_stft(y=y, sr=sr, **kw),
        librosa.power_to_db(f.melspectrogram(y=y, sr=sr, n_mels=64, **kw)),
    ]
    mfcc = f.mfcc(y=y, sr=sr, n_mfcc=40, n_mels=64, **kw)
    rows += [mfcc, f.delta(mfcc), f.delta(mfcc, order=2)]
    rows.append(librosa.yin(y, fmin=80, fmax=600, sr=sr, frame_length=1024, hop_length=160)[None])
    n = min(r.shape[1] for r in rows)
    m = np.concatenate([r[:, :n] for r in rows])
    return np.concatenate([m.mean(1), m.std(1), m.min(1), m.max(1)])


def _naive_chunk(paths):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        return [naive_librosa_features(audio.load(p, SR)) for p in paths]


def _opensmile_chunk(paths):
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                            feature_level=opensmile.FeatureLevel.Functionals)
    return [smile.process_signal(audio.load(p, SR), SR).to_numpy()[0] for p in paths]


def _floor_chunk(paths):
    from threadpoolctl import threadpool_limits

    from features import FeatureConfig
    from features.stft import spectra

    cfg = FeatureConfig()
    with threadpool_limits(1, "blas"):
        return [spectra(audio.load(p, SR), cfg).mel.shape[1] for p in paths]


CHUNKED = {"naive_librosa": _naive_chunk, "opensmile": _opensmile_chunk,
           "decode_stft_mel": _floor_chunk}


#: The group-cost table: files timed, and passes over them (the best pass is kept).
GROUP_FILES, GROUP_PASSES = 200, 3


def _f0_readers() -> list[str]:
    """The groups that run the pitch tracker in the default bank, in ``GROUPS`` order."""
    from features import GROUPS, FeatureConfig
    from features.bank import F0_GROUPS

    reads = F0_GROUPS | set(FeatureConfig().voiced_groups)
    return [g for g in GROUPS if g in reads]


def group_costs(paths: list[str], repeats: int = GROUP_PASSES, cache_dir: str | None = None
                ) -> dict[str, float]:
    """Milliseconds per file of each descriptor group alone (its STFT included) and of the
    STFT alone, one core, audio decoded beforehand; best of ``repeats`` passes, each timing
    every row in turn. Groups that read F0 (:func:`_f0_readers`) each include the pitch
    tracker. With ``cache_dir``, also
    ``cache write``: storing one file's features in a new cache there (a file created per
    entry, whose cost is the file system's, not the bank's)."""
    from threadpoolctl import threadpool_limits

    from features import GROUPS, FeatureBank, FeatureConfig
    from features.heap import keep_freed_memory
    from features.stft import spectra

    keep_freed_memory()  # as in an extraction worker
    signals = [audio.load(p, SR) for p in paths]
    cfg = FeatureConfig()
    jobs = {"stft": lambda y: spectra(y, cfg)}
    for g in GROUPS:
        bank = FeatureBank(FeatureConfig(groups=(g,)))
        bank.extract(signals[0], SR)  # compile / load the kernels outside the timing
        jobs[g] = lambda y, b=bank: b.extract(y, SR)
    bank = FeatureBank(cfg)
    jobs["default bank"] = lambda y: bank.extract(y, SR)
    best = dict.fromkeys(jobs, np.inf)
    with threadpool_limits(1, "blas"):
        for _ in range(repeats):  # every row once per pass: the machine's drift between
            for name, fn in jobs.items():  # passes moves all rows alike, not the STFT's alone
                t0 = time.perf_counter()
                for y in signals:
                    fn(y)
                best[name] = min(best[name], time.perf_counter() - t0)
    out = {name: round(1000 * t / len(signals), 3) for name, t in best.items()}
    if cache_dir is not None:
        from features.cache import Cache

        value = bank.extract(signals[0], SR)
        best = np.inf
        for k in range(repeats):
            cache = Cache(Path(cache_dir) / f"writes-{k}")
            t0 = time.perf_counter()
            for i in range(len(signals)):
                cache.put(bank.cache_namespace(), f"{k:02x}{i:030x}", value)
            best = min(best, time.perf_counter() - t0)
        out["cache write"] = round(1000 * best / len(signals), 3)
    return out


# -- one measurement, in its own interpreter -------------------------------------------------
def _measure(name: str, paths: list[str], cache_dir: str, n_jobs: int) -> dict:
    import joblib
    from joblib.externals.loky import get_reusable_executor

    if name == "group_costs":
        return {"name": name, "files": len(paths),
                "ms_per_file": group_costs(paths, cache_dir=cache_dir)}
    t0 = time.perf_counter()
    n_features = None
    if name.startswith("bank"):
        from features import FeatureBank
        from features.cache import Cache
        from features.parallel import compute_backend, extract

        bank = FeatureBank()
        with compute_backend("dask" if name == "bank_dask" else None, n_jobs):
            values, report = extract(paths, bank, Cache(cache_dir), n_jobs=n_jobs,
                                     progress=False)
        if report.errors:
            raise RuntimeError(report.errors[:3])
        n_features = len(bank.feature_names)
        extra = {"hits": report.hits, "misses": report.misses}
    else:
        fn = CHUNKED[name]
        size = max(1, len(paths) // (8 * n_jobs))
        chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
        out = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(fn)(c) for c in chunks)
        first = out[0][0]
        n_features = int(np.size(first)) if name != "decode_stft_mel" else 0
        extra = {}
    seconds = time.perf_counter() - t0
    get_reusable_executor().shutdown(wait=True)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"name": name, "files": len(paths), "seconds": round(seconds, 3),
            "files_per_s": round(len(paths) / seconds, 1), "n_features": n_features,
            "peak_rss_main_mib": round(peak_self, 1), "peak_rss_worker_mib": round(peak_child, 1),
            **extra}


def _run_isolated(name, manifest_csv, cache_dir, n_jobs, limit=None, env=None) -> dict:
    """One measurement in a fresh interpreter; ``process_s`` is its whole wall time."""
    cmd = [sys.executable, "-m", "benchmark.perf", "--measure", name, "--manifest",
           str(manifest_csv), "--cache-dir", str(cache_dir), "--n-jobs", str(n_jobs)]
    if limit:
        cmd += ["--limit", str(limit)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-2000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]),
            "process_s": round(time.perf_counter() - t0, 3)}


def _median_row(runs: list[dict]) -> dict:
    """One row from repeated runs of a measurement: the run of median duration, with the
    fastest and slowest durations and the largest peak memory of all of them."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row.update(runs=len(runs), seconds_min=ordered[0]["seconds"],
               seconds_max=ordered[-1]["seconds"])
    for key in ("peak_rss_main_mib", "peak_rss_worker_mib"):
        row[key] = max(r[key] for r in runs)
    return row


def _machine() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import librosa
    import numba

    from benchmark.provenance import git_state

    git = git_state()
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "numpy": np.__version__, "librosa": librosa.__version__, "numba": numba.__version__,
            "git_commit": git["commit"][:7] + ("-dirty" if git["dirty"] else "")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark.perf", description=__doc__)
    ap.add_argument("--data-root")
    ap.add_argument("--corpus", default="ravdess")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", default="results/perf")
    ap.add_argument("--skip", default="", help="comma-separated measurements to skip")
    ap.add_argument("--repeats", type=int, default=5,
                    help="runs of each short row (bank cold and warm, one file, the floor); "
                         "the median is reported, with the fastest and slowest")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.measure:
        paths = list(pd.read_csv(args.manifest)["path"])[: args.limit]
        print(json.dumps(_measure(args.measure, paths, args.cache_dir, args.n_jobs)))
        return 0

    from benchmark.corpora import data_root, open_corpus

    root = data_root(args.data_root)
    corpus = open_corpus(args.corpus, root)
    manifest = corpus.scan().manifest
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "manifest.csv"
        manifest.to_csv(csv, index=False)
        # (row, what runs, feature cache, files, workers, environment, runs): the rows of a
        # few seconds are run ``--repeats`` times and their median kept (this machine's speed
        # drifts by tens of percent within minutes; one short run is a sample of the drift)
        no_kernels = {"NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}  # a fresh clone's state
        r = args.repeats
        plan = [("bank_first_run", "bank", "cache_first", None, args.n_jobs, no_kernels, 1),
                ("bank_cold", "bank", "cache", None, args.n_jobs, None, r),
                ("bank_warm", "bank", "cache", None, args.n_jobs, None, r),
                ("bank_cold_half", "bank", "cache_half", len(manifest) // 2, args.n_jobs, None,
                 1),
                ("first_file", "bank", "cache_one", 1, 1, None, r),
                ("bank_cold_dask", "bank_dask", "cache_dask", None, args.n_jobs, None, 1),
                ("decode_stft_mel", "decode_stft_mel", "x", None, args.n_jobs, None, r),
                ("naive_librosa", "naive_librosa", "x", None, args.n_jobs, None, 1),
                ("opensmile", "opensmile", "x", None, args.n_jobs, None, 1)]
        # the floor's runs alternate with the cold bank's, and their ratio is the median of
        # the run-by-run ratios: each ratio is taken at one moment of this machine's drift
        floor = "decode_stft_mel" if not {"bank_cold", "decode_stft_mel"} & skip else None
        entries = {entry[0]: entry for entry in plan}

        def run(entry, k):
            name, what, cache, limit, jobs, env, _ = entry
            # a cold row's repeats each start from an empty cache of their own; the first
            # run's cache is the one a warm row then reads
            folder = cache if k == 0 or name == "bank_warm" else f"{cache}-{k}"
            return _run_isolated(what, csv, Path(tmp) / folder, jobs, limit, env)

        by_name, pair_ratios = {}, []
        for entry in plan:
            name, limit, runs = entry[0], entry[3], entry[-1]
            if name in skip or name == floor:
                continue
            print(f"measuring {name} on {limit or len(manifest)} files"
                  + (f", {runs} runs" if runs > 1 else "")
                  + (f", each followed by a run of {floor}" if name == "bank_cold" and floor
                     else "") + " ...", flush=True)
            done = {name: []} | ({floor: []} if name == "bank_cold" and floor else {})
            for k in range(runs):
                for what in done:
                    done[what].append(run(entries[what], k))
            for what, rows in done.items():
                by_name[what] = {**_median_row(rows), "name": what}
                print(f"  {what}: {by_name[what]['seconds']:.2f} s, "
                      f"{by_name[what]['files_per_s']:.0f} files/s", flush=True)
            if len(done) == 2:
                pair_ratios = [f["seconds"] / b["seconds"]
                               for b, f in zip(done[name], done[floor], strict=True)]
        results = [by_name[entry[0]] for entry in plan if entry[0] in by_name]
        groups = None
        if "group_costs" not in skip:
            print(f"measuring the cost of each descriptor group on {GROUP_FILES} files ...",
                  flush=True)
            groups = _run_isolated("group_costs", csv, Path(tmp) / "x", 1,
                                   GROUP_FILES)["ms_per_file"]
    audio_s = float(manifest["duration_s"].sum())
    table = pd.DataFrame(results)
    table["x_real_time"] = (audio_s * table["files"] / len(manifest) / table["seconds"]).round(0)
    by = table.set_index("name")["seconds"]
    ratios = {"naive_librosa / bank_cold": by.get("naive_librosa", np.nan) / by["bank_cold"]}
    if "opensmile" in by:
        ratios["opensmile / bank_cold"] = by["opensmile"] / by["bank_cold"]
    if pair_ratios:  # the share of the floor the bank reaches (1 is the floor), run by run
        ratios["decode_stft_mel / bank_cold"] = float(np.median(pair_ratios))
    record = {"command": "make perf  (python -m benchmark.perf " + " ".join(
        a for a in (argv or sys.argv[1:])) + ")", "corpus": args.corpus,
        "files": len(manifest), "audio_hours": round(audio_s / 3600, 3), "n_jobs": args.n_jobs,
        "machine": _machine(), "results": results,
        "ratios": {k: round(float(v), 2) for k, v in ratios.items()},
        "floor_ratio_runs": [round(v, 3) for v in pair_ratios],
        "group_ms_per_file": groups}
    (out / "perf.json").write_text(json.dumps(record, indent=2) + "\n")
    table.to_csv(out / "perf.csv", index=False)
    _write_readme(out / "README.md", record, table)
    print(table.to_string(index=False))
    print(json.dumps(record["ratios"]))
    return 0


#: Rows of the group-cost table that are not a group computed over the STFT.
_NOT_OVER_STFT = ("stft", "cache write")


def _write_readme(path: Path, record: dict, table: pd.DataFrame) -> None:
    m = record["machine"]
    lines = [
        "# Feature extraction throughput", "",
        f"Produced by `{record['command']}` at commit `{m['git_commit']}` on {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}, numpy {m['numpy']}, librosa {m['librosa']}, "
        f"numba {m['numba']}.", "",
        f"Corpus: {record['corpus']}, {record['files']} files, {record['audio_hours']} h of "
        f"audio; {record['n_jobs']} workers. Each row ran in a fresh interpreter (imports and "
        "worker start-up included; `process_s` is the whole process). `bank_first_run`: "
        "empty feature cache and no compiled numba kernels, what the very first command on a "
        "new machine pays (`make` pays it once, in `serbench warm`); `bank_cold`: empty "
        "feature cache, kernels compiled; `bank_warm`: every file cached; `first_file`: one "
        "file, one worker, a new process with the kernels compiled, as any later CLI "
        "command; `bank_cold_dask`: as `bank_cold`, through a `LocalCluster` of as many "
        "worker processes, started inside the measurement (what the scale-out path costs on "
        "one machine); "
        "`bank_cold_half`: half the files, to show that peak memory does not grow with the "
        "corpus; `decode_stft_mel`: decoding plus one STFT and mel projection, a floor; "
        "`naive_librosa`: one `librosa.feature` call per descriptor on the waveform; "
        "`opensmile`: ComParE_2016 functionals. A row with `runs` > 1 is the median of "
        "that many runs (`seconds_min`, `seconds_max`: the fastest and slowest), for the "
        "short rows, whose single runs sample this machine's drift more than the code.", "",
        table.to_markdown(index=False), "",
        "Ratios (seconds over bank_cold seconds, medians where repeated): " + ", ".join(
            f"{k} = {v}" for k, v in record["ratios"].items()) + ".", "",
    ]
    if record.get("floor_ratio_runs"):
        lines += [
            "The floor's runs alternate with bank_cold's (each right after one), and "
            "`decode_stft_mel / bank_cold` is the median of the ratios of those pairs, each "
            "taken at one moment of this machine's drift: " + ", ".join(
                f"{v:.3f}" for v in record["floor_ratio_runs"]) + ".", ""]
    if record.get("group_ms_per_file"):
        g = record["group_ms_per_file"]
        lines += [
            "## What each descriptor group costs", "",
            f"Milliseconds per file on one core ({GROUP_FILES} files, decoded beforehand, best "
            f"of {GROUP_PASSES} passes that each time every row in turn, memory kept between "
            "files as in a worker): each group alone with its own STFT, so `ms over the STFT` "
            "is what the group adds. Groups that read F0 ("
            + ", ".join(_f0_readers()) + ") each "
            "include the pitch tracker, which the bank runs once for all of them; the "
            "spectral envelope groups read it to summarise over voiced frames. `cache write`: "
            "storing one file's features in a new feature cache (a file created per entry: "
            "what this file system charges, paid by every cold extraction).", "",
            "| group | ms per file | ms over the STFT |", "| --- | ---: | ---: |",
            *[f"| {k} | {v:.2f} | {'' if k in _NOT_OVER_STFT else format(v - g['stft'], '.2f')} |"
              for k, v in g.items()], ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
