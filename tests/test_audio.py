import numpy as np
import pytest
import soundfile as sf

from benchmark import audio
from tests.conftest import tone, write_tone


def test_aiff_data_in_wav_file_loads_by_content(tmp_path):
    path = write_tone(tmp_path / "x.wav", fmt="AIFF")
    assert sf.info(str(path)).format == "AIFF"
    y = audio.load(path, 16000)
    assert y.dtype == np.float32 and y.size == 16000
    np.testing.assert_allclose(y, tone(1.0), atol=1e-3)


def test_stereo_is_downmixed_to_the_channel_mean(tmp_path):
    path = write_tone(tmp_path / "s.flac", channels=2)
    y = audio.load(path, 16000)
    expected = tone(1.0, channels=2).mean(axis=1)
    assert y.ndim == 1
    np.testing.assert_allclose(y, expected, atol=1e-3)


def test_96khz_is_resampled_keeping_duration_and_pitch(tmp_path):
    path = write_tone(tmp_path / "hi.wav", sr=96000, f0=200.0)
    y = audio.load(path, 16000)
    assert y.size == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / y.size - 200.0) < 2.0


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not readable"),
    (b"this is not audio at all" * 50, "not readable"),
])
def test_bad_files_raise_naming_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(audio.AudioError) as err:
        audio.load(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_missing_silent_and_short_files(tmp_path):
    with pytest.raises(audio.AudioError, match="not found"):
        audio.load(tmp_path / "nope.wav")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    with pytest.raises(audio.AudioError, match="silent"):
        audio.load(silent, reject_silent=True)
    short = write_tone(tmp_path / "short.wav", seconds=0.1)
    with pytest.raises(audio.AudioError, match="too short"):
        audio.load(short, min_duration_s=0.25)


def test_load_from_bytes_matches_load_from_path(tmp_path):
    path = write_tone(tmp_path / "a.flac", sr=22050)
    np.testing.assert_array_equal(audio.load(path), audio.load(path, data=path.read_bytes()))
