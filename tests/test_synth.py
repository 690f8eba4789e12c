import hashlib

import numpy as np

from benchmark import audio
from benchmark.corpora import open_corpus
from benchmark.synth import write_corpus


def _digest(paths):
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def test_synth_is_deterministic_and_read_by_ravdess_convention(tmp_path):
    a = write_corpus(tmp_path / "a" / "synth", n_speakers=2, seed=3)
    b = write_corpus(tmp_path / "b" / "synth", n_speakers=2, seed=3)
    c = write_corpus(tmp_path / "c" / "synth", n_speakers=2, seed=4)
    assert _digest(a) == _digest(b) != _digest(c)
    m = open_corpus("synth", tmp_path / "a").scan().manifest
    assert len(m) == 120 and m["speaker"].nunique() == 2 and m["emotion"].nunique() == 8
    assert set(m["gender"]) == {"male", "female"}


def test_synth_emotions_carry_their_prosody(synth_root):
    m = open_corpus("synth", synth_root).scan().manifest

    def level(emotion):
        rows = m[(m.emotion == emotion) & (m.intensity == "strong")]
        return np.mean([np.sqrt(np.mean(audio.load(p) ** 2)) for p in rows.path])

    def rate(emotion):
        return m[(m.emotion == emotion) & (m.intensity == "strong")].duration_s.mean()

    assert level("angry") > 2 * level("sad")
    assert rate("sad") > rate("angry") * 1.2  # sad speech is slower, so longer
