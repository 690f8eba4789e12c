"""Integration tests on the real corpora (run when SERBENCH_DATA points at them)."""

import pytest

from benchmark.corpora import open_corpus
from tests.conftest import real_corpus

pytestmark = pytest.mark.realdata


def test_real_ravdess_manifest():
    root = real_corpus("ravdess").parent
    result = open_corpus("ravdess", root).scan()
    m = result.manifest
    assert len(m) == 1440 and result.skipped.empty
    assert m["speaker"].nunique() == 24
    assert m["emotion"].nunique() == 8
    assert (m.groupby("speaker").size() == 60).all()
    assert (m["channels"] == 2).sum() == 5
    assert m[m.speaker == "ravdess:07"].gender.eq("male").all()


def test_real_tess_quirks():
    root = real_corpus("tess").parent
    result = open_corpus("tess", root).scan()
    m = result.manifest
    assert len(m) == 2798 and result.skipped.empty
    assert sorted(m["speaker"].unique()) == ["tess:OAF", "tess:YAF"]
    assert m[m.path.str.endswith("OAF_food_fear.wav")].sample_rate.item() == 96000
    assert m[m.path.str.endswith("OA_bite_neutral.flac")].speaker.item() == "tess:OAF"
