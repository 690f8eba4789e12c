"""The committed reference results are portable (no machine's absolute path in any file) and
still name the banks today's code computes."""

import json
import re
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]
#: Absolute paths of the kinds machines have: POSIX homes and scratch, macOS, Windows drives.
ABSOLUTE = re.compile(rb"(?<![\w.])(/tmp/|/work/|/root/|/home/|/Users/|/mnt/|/scratch/|"
                      rb"[A-Za-z]:\\\\)")


def _committed() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "results"], cwd=ROOT,
                             capture_output=True, check=True).stdout
        files = [ROOT / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # an exported tree, not a checkout
        files = [p for p in (ROOT / "results").rglob("*") if p.is_file()]
    return [p for p in files if p.exists()]


def _readable(path: Path) -> bytes:
    """The bytes of a committed file where a path could be written: all of it, but for a
    figure's compressed image data (a PNG's IDAT chunks, a PDF's streams), whose bytes are
    noise that can spell ``t:\\`` by chance."""
    data = path.read_bytes()
    if path.suffix == ".png":
        out, at = [], 8
        while at + 8 <= len(data):
            size, kind = struct.unpack(">I4s", data[at:at + 8])
            if kind != b"IDAT":
                out.append(data[at + 8:at + 8 + size])
            at += 12 + size
        return b"\n".join(out)
    if path.suffix == ".pdf":
        return re.sub(rb"stream\r?\n.*?endstream", b"", data, flags=re.S)
    return data


def test_no_absolute_path_in_committed_results():
    files = _committed()
    assert len(files) > 100  # the references are there to be checked
    offending = []
    for path in files:
        m = ABSOLUTE.search(_readable(path))  # binary files too: SQLite, PDF metadata
        if m:
            offending.append(f"{path.relative_to(ROOT)}: {m.group(0).decode(errors='replace')}")
    assert not offending, "absolute paths in committed results:\n" + "\n".join(offending[:20])


def test_the_pattern_finds_what_it_must():
    for text in (b'"path": "/home/ann/data/x.wav"', b"C:\\\\Users\\\\x", b"see /tmp/abc"):
        assert ABSOLUTE.search(text)
    for text in (b'"path": "ravdess/Actor_01/x.flac"', b"results/perf", b"a/tmp/b"):
        assert not ABSOLUTE.search(text)


def _manifests() -> list[tuple[Path, dict]]:
    """Each committed table's ``manifest.json``: its path and its contents."""
    return [(p, json.loads(p.read_text()))
            for p in sorted((ROOT / "results").glob("*/manifest.json"))]


def test_every_committed_table_names_a_bank_todays_code_computes():
    """A parameter added to the bank (``rasta``, say) must not move the digest of any config
    stored before it: the committed tables, and every user's feature cache, are keyed by those
    digests. Each table's bank, and each of its ``[bank_variants]``, rebuilt from its stored
    config, has the digest the table was extracted under."""
    from features.config import FeatureConfig

    manifests = _manifests()
    assert len(manifests) > 5
    for path, m in manifests:
        assert FeatureConfig.from_stored(m["feature_config"]).digest() == \
            m["feature_config_digest"], path
        extracted = json.loads((path.parent / "extraction.json").read_text())
        spaces = {space for per_corpus in extracted.values() for space in per_corpus}
        for name, stored in m["config"].get("bank_variants", {}).items():
            digest = FeatureConfig.from_stored(stored).digest()
            assert f"features-{digest}" in spaces, f"{path}: [bank_variants.{name}]"


def test_every_committed_table_is_the_default_banks():
    """README.md ("Which bank") says every table under results/ was made with the default
    bank: a new default must come with its tables rerun, or with that sentence changed."""
    from features.config import FeatureConfig

    digest = FeatureConfig().digest()
    stale = [p.parent.name for p, m in _manifests() if m["feature_config_digest"] != digest]
    assert not stale, f"tables of another bank than the default ({digest}): {stale}"


def test_a_path_in_a_figures_metadata_is_found_and_its_image_data_is_not_read(tmp_path):
    """A PNG's text chunks and a PDF's dictionaries are read; their compressed image data,
    where any byte sequence can occur, is not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    for suffix in ("png", "pdf"):
        fig.savefig(tmp_path / f"f.{suffix}", metadata={"Title": "/home/ann/x"})
        assert ABSOLUTE.search(_readable(tmp_path / f"f.{suffix}"))
    fig.savefig(tmp_path / "clean.png")
    plt.close(fig)
    png = (tmp_path / "clean.png").read_bytes()
    at = png.index(b"IDAT") + 4  # noise spelling a drive inside the image data
    noisy = tmp_path / "n.png"
    noisy.write_bytes(png[:at] + b" t:\\\\" + png[at + 5:])  # same length
    assert ABSOLUTE.search(noisy.read_bytes()) and not ABSOLUTE.search(_readable(noisy))
