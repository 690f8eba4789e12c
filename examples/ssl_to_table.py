"""Turn a folder of audio into a serbench import table with a self-supervised model you have
locally (wav2vec 2.0, HuBERT, WavLM, a Whisper encoder...): one row per file, the mean over
time of one hidden layer, keyed by the file's path relative to the data root.

    python examples/ssl_to_table.py --data-root data --corpus ravdess \\
        --model /models/wavlm-base-plus --layer 6 --out data/embeddings/wavlm_l6.parquet

then, in an experiment: ``feature_sets = ["bank", "import:embeddings/wavlm_l6.parquet"]``.
Needs ``transformers`` (not a serbench dependency) and the model's weights on disk: nothing is
downloaded (``local_files_only``). Audio is read by serbench's own loader, so the files and
their validation are the ones a run uses; the ``blake2b`` column lets the run check that each
row was computed from the very bytes it scores. Not run by the tests (no weights here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark import audio
from benchmark.corpora import open_corpus
from features.cache import content_hash


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--corpus", required=True, help="a corpus name or a CSV, as in configs")
    ap.add_argument("--model", required=True, help="a local model folder (Hugging Face format)")
    ap.add_argument("--layer", type=int, default=-1, help="hidden layer to average (default: last)")
    ap.add_argument("--out", required=True, help="a .parquet (or .csv) file")
    args = ap.parse_args()

    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    processor = AutoFeatureExtractor.from_pretrained(args.model, local_files_only=True)
    model = AutoModel.from_pretrained(args.model, local_files_only=True).eval()
    manifest = open_corpus(args.corpus, args.data_root).scan().manifest
    rows, keys, hashes = [], [], []
    for path in manifest["path"]:
        y = audio.load(path, processor.sampling_rate)
        inputs = processor(y, sampling_rate=processor.sampling_rate, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**inputs, output_hidden_states=True).hidden_states[args.layer]
        rows.append(hidden[0].mean(dim=0).numpy())
        keys.append(Path(path).relative_to(Path(args.data_root).resolve()).as_posix())
        hashes.append(content_hash(Path(path).read_bytes()))
    table = pd.DataFrame(np.stack(rows), columns=[f"l{args.layer}_{i:04d}"
                                                   for i in range(rows[0].shape[0])])
    table.insert(0, "blake2b", hashes)
    table.insert(0, "path", keys)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out) if out.suffix == ".parquet" else table.to_csv(out, index=False)
    print(f"wrote {len(table)} rows x {len(table.columns) - 2} features to {out}")


if __name__ == "__main__":
    main()
