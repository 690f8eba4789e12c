"""The cache survives what real runs do to it: SIGKILL, corruption, two writers at once."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from benchmark.corpora import open_corpus
from features import FeatureBank, FeatureConfig
from features.cache import MAGIC, Cache, CacheCorruptionWarning
from features.extractor import AudioFeatures
from features.parallel import extract, extract_table

SMALL = FeatureConfig(groups=("temporal", "spectral", "mfcc", "pitch"))


@pytest.fixture(scope="module")
def manifest(synth_root):
    return open_corpus("synth", synth_root).scan().manifest


def _extract_cmd(root, cache, out, n_jobs=1):
    return [sys.executable, "-m", "benchmark.cli", "extract", "--corpus", "synth", "--data-root",
            str(root), "--cache-dir", str(cache), "-o", str(out), "--n-jobs", str(n_jobs), "-q"]


def test_roundtrip_and_key_is_content_not_path(tmp_path, manifest):
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    paths = list(manifest.path[:3])
    first, r1 = extract(paths, bank, cache, progress=False)
    assert r1.misses == 3 and r1.hits == 0
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(open(paths[0], "rb").read())
    again, r2 = extract([*paths, str(copy)], bank, cache, progress=False)
    assert r2.hits == 4 and r2.misses == 0
    np.testing.assert_array_equal(again[3], first[0])
    other = FeatureBank(SMALL.with_groups(["mfcc"]))
    _, r3 = extract(paths, other, cache, progress=False)
    assert r3.misses == 3  # another config is another key


def test_corrupt_and_truncated_entries_are_detected_recomputed_and_reported(tmp_path, manifest):
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    paths = list(manifest.path[:4])
    clean, _ = extract(paths, bank, cache, progress=False)
    entries = cache.entries()
    raw = bytearray(entries[0].read_bytes())
    raw[-5] ^= 0xFF
    entries[0].write_bytes(bytes(raw))
    entries[1].write_bytes(entries[1].read_bytes()[:40])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again, report = extract(paths, bank, cache, progress=False)
    messages = [str(w.message) for w in caught if w.category is CacheCorruptionWarning]
    assert len(messages) == 2 and any("checksum" in m for m in messages)
    assert report.misses == 2 and report.hits == 2
    for a, b in zip(clean, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert cache.verify() == []


def test_verify_reports_and_removes_bad_entries(tmp_path, manifest):
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    extract(list(manifest.path[:3]), bank, cache, progress=False)
    cache.entries()[2].write_bytes(MAGIC + b"\0" * 40)
    bad = cache.verify()
    assert len(bad) == 1 and "checksum" in bad[0][1]
    assert len(cache.entries()) == 2


def test_sigkill_then_resume_recomputes_only_the_rest(tmp_path, synth_root, manifest):
    cache_dir = tmp_path / "c"
    proc = subprocess.Popen(_extract_cmd(synth_root, cache_dir, tmp_path / "a.parquet"),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = Cache(cache_dir)
    deadline = time.time() + 120
    while len(cache.entries()) < 40 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(cache.entries())
    assert 40 <= done < len(manifest), "the kill must land mid-extraction"
    bank = FeatureBank(FeatureConfig())
    table, report = extract_table(manifest, bank, cache, progress=False)
    assert report.hits == done and report.misses == len(manifest) - done
    assert not report.errors and len(table) == len(manifest)
    # resumed results equal a clean, uninterrupted extraction
    fresh, _ = extract_table(manifest.iloc[:5], bank, Cache(tmp_path / "fresh"), progress=False)
    pd.testing.assert_frame_equal(table.iloc[:5], fresh)


def test_two_processes_extracting_the_same_corpus_at_once(tmp_path, synth_root, manifest):
    cache_dir = tmp_path / "c"
    outs = [tmp_path / "one.parquet", tmp_path / "two.parquet"]
    procs = [subprocess.Popen(_extract_cmd(synth_root, cache_dir, out, n_jobs=1),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for out in outs]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    a, b = (pd.read_parquet(o) for o in outs)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(manifest)
    cache = Cache(cache_dir)
    assert cache.verify() == [] and len(cache.entries()) == len(manifest)


def test_failed_files_are_named_and_others_go_on(tmp_path, manifest):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    paths = [*manifest.path[:2], str(bad), str(tmp_path / "missing.wav")]
    values, report = extract(paths, FeatureBank(SMALL), Cache(tmp_path / "c"), progress=False)
    assert values[0] is not None and values[1] is not None
    assert values[2] is None and values[3] is None
    reasons = dict(report.errors)
    assert "not readable" in reasons[str(bad)] and str(bad) in reasons[str(bad)]
    assert "cannot read" in reasons[str(tmp_path / "missing.wav")]


def test_parallel_equals_serial(tmp_path, manifest):
    bank = FeatureBank(SMALL)
    paths = list(manifest.path[:12])
    serial, _ = extract(paths, bank, Cache(tmp_path / "a"), n_jobs=1, progress=False)
    para, _ = extract(paths, bank, Cache(tmp_path / "b"), n_jobs=2, chunk_size=2,
                      progress=False)
    for a, b in zip(serial, para, strict=True):
        np.testing.assert_array_equal(a, b)


def test_audio_features_transformer_in_a_pipeline(tmp_path, manifest):
    from sklearn.base import clone

    step = AudioFeatures(config=SMALL, cache_dir=str(tmp_path / "c"))
    assert clone(step).get_params()["config"] == SMALL
    pipe = make_pipeline(step, MinMaxScaler())
    X = pipe.fit_transform(manifest[["path"]].iloc[:6])
    assert X.shape == (6, len(FeatureBank(SMALL).feature_names))
    assert X.min() >= 0 and X.max() <= 1 + 1e-5
    assert list(step.get_feature_names_out()[:2]) == ["zcr_mean", "zcr_std"]
    with pytest.raises(ValueError, match="broken"):
        bad = tmp_path / "broken.wav"
        bad.write_bytes(b"nope")
        step.transform([str(bad)])


# -- nothing deleted that is not ours ----------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True,
                          text=True)


def test_clear_refuses_a_folder_that_is_not_a_cache(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "paper.tex").write_text("\\section{Results}\n")
    (home / "ab").mkdir()
    np.save(home / "ab" / "data.npy", np.arange(3))
    for action in ("clear", "verify"):
        done = _cli("cache", action, "--cache-dir", str(home))
        assert done.returncode != 0 and "not (or not yet) a serbench cache" in done.stderr
    assert (home / "paper.tex").read_text() == "\\section{Results}\n"
    assert (home / "ab" / "data.npy").exists()
    with pytest.raises(ValueError, match="is not a serbench cache"):
        Cache(home).put("features-0123", "0" * 32, np.zeros(2))  # and nothing is written
    assert sorted(p.name for p in home.iterdir()) == ["ab", "paper.tex"]


def test_clear_and_verify_touch_only_our_entries(tmp_path, manifest):
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    extract(list(manifest.path[:3]), bank, cache, progress=False)
    space = cache.entries()[0].parent.parent
    foreign = space / "ff" / "mine.npy"  # a real .npy, not named as an entry
    foreign.parent.mkdir(exist_ok=True)
    np.save(foreign, np.arange(4))
    notes = cache.root / "notes.txt"
    notes.write_text("mine")
    assert cache.verify() == [] and foreign.exists() and cache.foreign() == [foreign]
    assert cache.clear() == 3
    assert cache.entries() == [] and foreign.exists() and notes.read_text() == "mine"


def test_verify_and_extraction_agree_on_every_file_and_never_read_without_bound(tmp_path,
                                                                                manifest):
    """A flipped first byte is corrupt for both (it was neither good nor corrupt for verify,
    corrupt for extraction); a folder in an entry's place is foreign and extraction goes on;
    a link to /dev/zero is refused, not read."""
    import os
    import warnings

    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    paths = list(manifest.path[:4])
    clean, _ = extract(paths, bank, cache, progress=False)
    flipped, folder, zero, _ = cache.entries()
    raw = bytearray(flipped.read_bytes())
    raw[0] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    folder.unlink()
    folder.mkdir()
    (folder / "keep.txt").write_text("not yours")
    zero.unlink()
    os.symlink("/dev/zero", zero)
    bad = dict(cache.verify(remove=False))
    assert set(bad) == {flipped, zero}, bad
    assert "bad header" in bad[flipped] and "symbolic link" in bad[zero]
    assert cache.foreign() == [folder]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again, report = extract(paths, bank, cache, progress=False)
    said = " ".join(str(w.message) for w in caught if w.category is CacheCorruptionWarning)
    assert "is a folder" in said and said.count("corrupt") == 2
    assert report.misses == 3 and report.hits == 1 and not report.errors
    for a, b in zip(clean, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert (folder / "keep.txt").read_text() == "not yours"
    assert cache.verify() == [] and len(cache.entries()) == 3


def test_an_entry_copied_under_another_key_is_detected(tmp_path, manifest):
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    paths = list(manifest.path[:2])
    clean, _ = extract(paths, bank, cache, progress=False)
    a, b = cache.entries()
    b.write_bytes(a.read_bytes())  # a valid entry, but of the other file
    bad = cache.verify(remove=False)
    assert [p for p, _ in bad] == [b] and "another key" in bad[0][1]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        again, report = extract(paths, bank, cache, progress=False)
    assert report.misses == 1
    for x, y in zip(clean, again, strict=True):
        np.testing.assert_array_equal(x, y)


def test_an_old_cache_without_marker_is_adopted(tmp_path, manifest):
    """A cache written before the marker existed holds only our folders: it is taken over."""
    bank, cache = FeatureBank(SMALL), Cache(tmp_path / "c")
    extract(list(manifest.path[:2]), bank, cache, progress=False)
    (cache.root / ".serbench-cache").unlink()
    assert Cache(cache.root).claim() == cache.root and Cache(cache.root).marked


def test_warm_runs_the_bank_once_then_trusts_its_stamp(tmp_path, monkeypatch):
    """The parent compiles the kernels before workers start only when no earlier process
    did: after one warm-up, a stamp (named by the sources' state and the config) says so."""
    from features import FeatureBank, FeatureConfig
    from features import warm as warm_module

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(warm_module, "_DONE", set())
    calls = []
    real = FeatureBank.extract
    monkeypatch.setattr(FeatureBank, "extract",
                        lambda self, y, sr: calls.append(len(y)) or real(self, y, sr))
    warm_module.warm()
    assert len(calls) == 1 and warm_module.stamp_path(FeatureConfig()).exists()
    warm_module._DONE.clear()  # a new process
    warm_module.warm()
    assert len(calls) == 1
    other = FeatureConfig(n_mfcc=13)
    assert warm_module.stamp_path(other) != warm_module.stamp_path(FeatureConfig())
    warm_module.warm(other)
    assert len(calls) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds")
def test_an_extraction_worker_reuses_the_pages_it_frees():
    """A worker's per-file arrays (a few hundred KiB each) come back as the same pages for
    the next file instead of being faulted in anew: counted as the process's minor page
    faults over files' worth of allocations, with and without ``keep_freed_memory``."""
    code = ("import resource, sys, numpy as np\n"
            "from features.heap import keep_freed_memory\n"
            "on = sys.argv[1] == 'on' and keep_freed_memory()\n"
            "def one_file():\n"
            "    arrays = [np.ones((331, 257), np.float32) for _ in range(8)]\n"
            "    return sum(float(a[-1, -1]) for a in arrays)\n"
            "one_file()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(100):\n"
            "    one_file()\n"
            "print(on, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    runs = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        runs[mode] = (out[0] == "True", int(out[1]))
    assert runs["on"][0], "mallopt was not applied on Linux"
    pages = 100 * 8 * 331 * 257 * 4 // 4096  # every page of every array, were none reused
    assert runs["off"][1] > pages // 2  # the default returns them: this test can fail
    assert runs["on"][1] < pages // 50


def test_tasks_shrink_towards_the_end_so_workers_finish_together():
    from features.parallel import guided_chunk_size

    for n, workers in ((1440, 2), (100, 2), (7, 4), (1, 1)):
        sizes, left = [], n
        while left:
            sizes.append(guided_chunk_size(left, workers))
            left -= sizes[-1]
        assert sum(sizes) == n and max(sizes) <= 64 and sizes[-1] == 1
        assert all(a >= b for a, b in zip(sizes[:-1], sizes[1:], strict=True))  # never grows
    assert guided_chunk_size(1440, 2) == 64  # a full task amortises dispatch
