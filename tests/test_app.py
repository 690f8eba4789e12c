"""The demo page, driven headless with Streamlit's AppTest: same answer as `serbench predict`."""

from pathlib import Path

import pytest

from benchmark.predict import predict_files, resolve_model
from tests.conftest import synth_files

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = Path(__file__).parents[1] / "benchmark" / "app.py"


#: Tests of the session smoke run (conftest.trained_smoke) share one xdist worker.
pytestmark = pytest.mark.xdist_group("trained_smoke")


@pytest.fixture(scope="module")
def trained(trained_smoke):
    results, cache = trained_smoke
    return results, cache, synth_files(cache, 2)[20]


def test_app_predicts_like_the_cli(trained, monkeypatch):
    results, cache, wav = trained
    monkeypatch.setenv("SERBENCH_RESULTS", results)
    monkeypatch.setenv("SERBENCH_CACHE", cache)
    monkeypatch.setenv("SERBENCH_DATA", cache)  # the synthetic corpus lives there
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception
    assert "model" in [s.key for s in at.selectbox]
    at.text_input(key="path").input(wav).run()
    assert not at.exception, at.exception
    label = at.metric[0].value
    # the app's default model is the best one overall; `serbench predict` with that model
    chosen = at.sidebar.selectbox(key="model")
    assert chosen.value == 0
    from benchmark.demo import ordered, trained_models

    first = ordered(trained_models(results)).iloc[0]
    assert first["normalisation"] == "global"
    best_uri = first["uri"]
    expected = predict_files(best_uri, [wav], progress=False).iloc[0]
    assert label == expected["emotion"]
    assert len(at.get("arrow_vega_lite_chart")) >= 1 or len(at.get("vega_lite_chart")) >= 1
    assert resolve_model("smoke", results).startswith("models:/")


def test_app_reports_a_bad_file(trained, monkeypatch, tmp_path):
    results, cache, _ = trained
    monkeypatch.setenv("SERBENCH_RESULTS", results)
    monkeypatch.setenv("SERBENCH_DATA", str(tmp_path))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="path").input(str(bad)).run()
    assert at.error and "not readable" in at.error[0].value


def test_app_without_models_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("SERBENCH_RESULTS", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert at.warning and "make benchmark" in at.warning[0].value


def test_app_reads_paths_only_under_the_data_root(trained, monkeypatch, tmp_path):
    results, cache, wav = trained
    monkeypatch.setenv("SERBENCH_RESULTS", results)
    monkeypatch.setenv("SERBENCH_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="path").input(wav).run()  # a real file, but outside the data root
    assert at.error and "only files under the data root" in at.error[0].value
    assert not at.metric
    at.text_input(key="path").input(str(tmp_path / "data" / ".." / "x.wav")).run()
    assert at.error and "only files under the data root" in at.error[0].value
    monkeypatch.delenv("SERBENCH_DATA")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert "path" not in [t.key for t in at.text_input]  # no data root: uploads only
    assert list(at.sidebar.selectbox(key="results").options) == [results]


def test_uploads_over_the_limits_are_refused(tmp_path):
    import io

    import numpy as np
    import soundfile as sf

    from benchmark.demo import DemoSettings, check_upload

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 5, np.float32) + 0.1, 16000, format="WAV")
    data = buf.getvalue()
    check_upload("ok.wav", data, DemoSettings(("r",), max_upload_mb=1, max_seconds=10))
    with pytest.raises(ValueError, match="upload limit"):
        check_upload("big.wav", data, DemoSettings(("r",), max_upload_mb=0.1))
    with pytest.raises(ValueError, match="over the 2 s limit"):
        check_upload("long.wav", data, DemoSettings(("r",), max_seconds=2))
