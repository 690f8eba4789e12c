"""The ``serbench`` command: argument parsing only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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


def build_parser() -> argparse.ArgumentParser:
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

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"serbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
