"""Every corpus convention, on files these tests write with its names."""

from pathlib import Path

import pandas as pd
import pytest

from benchmark.corpora import CORPORA, MANIFEST_COLUMNS, find, open_corpus
from benchmark.corpora.crema_d import CremaD
from benchmark.corpora.csv_corpus import CsvCorpus
from benchmark.corpora.ravdess import Ravdess
from tests.conftest import write_tone


def _scan(corpus):
    result = corpus.scan(min_duration_s=0.25)
    assert list(result.manifest.columns) == list(MANIFEST_COLUMNS)
    return result.manifest.set_index(result.manifest["path"].map(lambda p: Path(p).name)), \
        result.skipped.set_index(result.skipped["path"].map(lambda p: Path(p).name))


def make_all_six(root: Path) -> None:
    """One folder per corpus, each with correct names, quirks, and one bad file."""
    # RAVDESS: speech, song, stereo, and an unparseable name
    write_tone(root / "ravdess/Actor_07/03-01-05-02-01-01-07.wav", channels=2)
    write_tone(root / "ravdess/Actor_08/03-01-02-01-02-02-08.wav")
    write_tone(root / "ravdess/Actor_08/03-02-03-01-01-01-08.wav")
    write_tone(root / "ravdess/Actor_08/notes-take-2.wav")
    # CREMA-D with demographics
    write_tone(root / "crema-d/AudioWAV/1001_DFA_ANG_XX.wav")
    write_tone(root / "crema-d/AudioWAV/1002_IEO_SAD_HI.wav")
    (root / "crema-d/VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n")
    # TESS: AIFF in .wav, 96 kHz, misnamed OA_ prefix, flat layout upper case
    write_tone(root / "tess/YAF_angry/YAF_germ_angry.wav", fmt="AIFF")
    write_tone(root / "tess/OAF_fear/OAF_food_fear.wav", sr=96000)
    write_tone(root / "tess/OAF_neutral/OA_bite_neutral.wav")
    write_tone(root / "tess/OAF_Pleasant_surprise/OAF_BACK_PS.wav")
    write_tone(root / "tess/misc/XX_back_sad.wav")
    # SAVEE flat and nested
    write_tone(root / "savee/AudioData/DC_sa01.wav")
    write_tone(root / "savee/AudioData/JK/su12.wav")
    write_tone(root / "savee/AudioData/KL/n03.wav")
    # EmoDB
    write_tone(root / "emodb/wav/03a01Fa.wav")
    write_tone(root / "emodb/wav/16b10Lb.wav")
    # AESDD: emotion folders, speaker in parentheses, and a file too short to use
    write_tone(root / "aesdd/anger/a01 (1).wav")
    write_tone(root / "aesdd/sadness/s12 (5).wav")
    write_tone(root / "aesdd/fear/f03 (2).wav", seconds=0.1)


@pytest.fixture
def six(tmp_path):
    make_all_six(tmp_path)
    return tmp_path


def test_all_six_conventions_found_under_one_root(six):
    assert list(find(six)) == ["ravdess", "crema-d", "tess", "savee", "emodb", "aesdd"]


def test_ravdess(six):
    m, skipped = _scan(open_corpus("ravdess", six))
    row = m.loc["03-01-05-02-01-01-07.wav"]
    assert (row.speaker, row.gender, row.emotion, row.label_raw, row.intensity) == \
        ("ravdess:07", "male", "angry", "05", "strong")
    assert row.text == "Kids are talking by the door" and row.channels == 2
    assert m.loc["03-01-02-01-02-02-08.wav"].gender == "female"
    assert "song" in skipped.loc["03-02-03-01-01-01-08.wav"].reason
    assert "does not parse" in skipped.loc["notes-take-2.wav"].reason
    both = Ravdess(six / "ravdess", vocal_channels=("speech", "song")).scan()
    assert len(both.manifest) == 3


def test_crema_d_gender_from_demographics_and_without(six):
    m, _ = _scan(open_corpus("crema-d", six))
    assert m.loc["1001_DFA_ANG_XX.wav"][["speaker", "gender", "emotion", "intensity"]].tolist() \
        == ["crema-d:1001", "male", "angry", "unspecified"]
    assert m.loc["1002_IEO_SAD_HI.wav"][["gender", "text"]].tolist() == \
        ["female", "It's eleven o'clock"]
    (six / "crema-d/VideoDemographics.csv").unlink()
    assert set(CremaD(six / "crema-d").scan().manifest["gender"]) == {"unknown"}


def test_tess_quirks(six):
    m, skipped = _scan(open_corpus("tess", six))
    assert m.loc["YAF_germ_angry.wav"][["speaker", "emotion"]].tolist() == ["tess:YAF", "angry"]
    assert m.loc["OAF_food_fear.wav"].sample_rate == 96000
    assert m.loc["OA_bite_neutral.wav"].speaker == "tess:OAF"
    assert m.loc["OAF_BACK_PS.wav"].emotion == "surprised"
    assert m.loc["OAF_BACK_PS.wav"].label_raw == "ps"
    assert "not OAF or YAF" in skipped.loc["XX_back_sad.wav"].reason


def test_savee_flat_and_nested(six):
    m, _ = _scan(open_corpus("savee", six))
    assert m.loc["DC_sa01.wav"][["speaker", "emotion"]].tolist() == ["savee:DC", "sad"]
    assert m.loc["su12.wav"][["speaker", "emotion"]].tolist() == ["savee:JK", "surprised"]
    assert m.loc["n03.wav"].emotion == "neutral"
    assert set(m["gender"]) == {"male"}


def test_emodb(six):
    m, _ = _scan(open_corpus("emodb", six))
    assert m.loc["03a01Fa.wav"][["speaker", "gender", "emotion", "text"]].tolist() == \
        ["emodb:03", "male", "happy", "a01"]
    assert m.loc["16b10Lb.wav"][["gender", "emotion"]].tolist() == ["female", "boredom"]


def test_aesdd_and_short_file_is_reported(six):
    m, skipped = _scan(open_corpus("aesdd", six))
    assert m.loc["a01 (1).wav"][["speaker", "emotion"]].tolist() == ["aesdd:1", "angry"]
    assert m.loc["s12 (5).wav"][["speaker", "emotion"]].tolist() == ["aesdd:5", "sad"]
    assert "too short" in skipped.loc["f03 (2).wav"].reason


def test_bad_audio_is_skipped_with_reason_and_rest_goes_on(six):
    (six / "ravdess/Actor_09").mkdir()
    (six / "ravdess/Actor_09/03-01-01-01-01-01-09.wav").write_bytes(b"")
    (six / "ravdess/Actor_09/03-01-04-01-01-01-09.wav").write_bytes(b"RIFF\x00\x01")
    (six / "ravdess/Actor_09/03-01-04-01-02-01-09.wav").write_bytes(b"garbage" * 100)
    m, skipped = _scan(open_corpus("ravdess", six))
    assert len(m) == 2
    assert "empty" in skipped.loc["03-01-01-01-01-01-09.wav"].reason
    assert "not readable" in skipped.loc["03-01-04-01-01-01-09.wav"].reason
    assert "not readable" in skipped.loc["03-01-04-01-02-01-09.wav"].reason


def test_csv_corpus(tmp_path):
    write_tone(tmp_path / "clips/a.wav")
    write_tone(tmp_path / "clips/b.flac")
    pd.DataFrame({"path": ["clips/a.wav", "clips/b.flac", "clips/missing.wav", "clips/a.wav"],
                  "emotion": ["Anger", "happy", "sad", "jealous"],
                  "speaker": ["s1", "s2", "s3", "s1"],
                  "gender": ["F", "", "m", "f"]}).to_csv(tmp_path / "mine.csv", index=False)
    result = CsvCorpus(tmp_path / "mine.csv").scan()
    m = result.manifest.set_index("speaker")
    assert m.loc["mine:s1"].emotion == "angry" and m.loc["mine:s2"].gender == "unknown"
    reasons = " ".join(result.skipped["reason"])
    assert "file not found" in reasons
    assert "duplicate row (CSV line 5)" in reasons
    # every CSV row either lands in the manifest or is reported with its reason
    assert len(result.manifest) + len(result.skipped) == 4


def test_unknown_corpus_and_missing_folder_name_the_problem(tmp_path):
    with pytest.raises(KeyError, match="unknown corpus"):
        open_corpus("iemocap", tmp_path)
    with pytest.raises(FileNotFoundError, match="not found under"):
        open_corpus("ravdess", tmp_path)


def test_registry_lists_all_conventions():
    assert set(CORPORA) == {"ravdess", "crema-d", "tess", "savee", "emodb", "aesdd", "synth"}


def test_truncated_audio_and_dangling_links_are_listed_with_reasons(tmp_path):
    folder = tmp_path / "ravdess" / "Actor_01"
    good = write_tone(folder / "03-01-01-01-01-01-01.wav", seconds=1.0)
    for fmt, name in (("WAV", "03-01-03-01-01-01-01.wav"), ("AIFF", "03-01-04-01-01-01-01.wav")):
        full = write_tone(tmp_path / f"full.{fmt.lower()}", seconds=1.0, fmt=fmt)
        data = full.read_bytes()
        (folder / name).write_bytes(data[: len(data) * 2 // 3])  # cut inside the samples
    (folder / "03-01-05-01-01-01-01.wav").symlink_to(tmp_path / "gone.wav")
    m, skipped = _scan(open_corpus("ravdess", tmp_path))
    assert list(m.path) == [str(good)]
    assert "truncated" in skipped.loc["03-01-03-01-01-01-01.wav"].reason
    assert "truncated" in skipped.loc["03-01-04-01-01-01-01.wav"].reason
    assert "dangling symbolic link" in skipped.loc["03-01-05-01-01-01-01.wav"].reason


def test_a_fifo_a_folder_and_non_audio_files_are_named_skips(tmp_path):
    import os

    from benchmark.corpora.base import NOT_AUDIO

    folder = tmp_path / "ravdess" / "Actor_01"
    good = write_tone(folder / "03-01-01-01-01-01-01.wav", seconds=1.0)
    os.mkfifo(folder / "03-01-03-01-01-01-01.wav")  # reading it would block for ever
    (folder / "03-01-04-01-01-01-01.wav").mkdir()
    (folder / "README.txt").write_text("notes")
    m, skipped = _scan(open_corpus("ravdess", tmp_path))
    assert list(m.path) == [str(good)]
    assert "not a regular file" in skipped.loc["03-01-03-01-01-01-01.wav"].reason
    assert "a folder" in skipped.loc["03-01-04-01-01-01-01.wav"].reason
    assert skipped.loc["README.txt"].reason == NOT_AUDIO
    assert len(skipped) == 3
