import pandas as pd

from benchmark.cli import main


def test_corpora_and_manifest_commands(synth_root, tmp_path, capsys):
    assert main(["corpora", "--data-root", str(synth_root)]) == 0
    out = capsys.readouterr().out
    assert "synth: 360 files, 6 speakers" in out and "angry" in out
    assert main(["manifest", "synth", "--data-root", str(synth_root),
                 "-o", str(tmp_path / "m.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "m.csv")) == 360


def test_corpora_on_empty_root_says_how_to_fix(tmp_path, capsys):
    assert main(["corpora", "--data-root", str(tmp_path)]) == 1
    assert "SERBENCH_DATA" in capsys.readouterr().out


def test_manifest_unknown_corpus_is_an_error(tmp_path, capsys):
    assert main(["manifest", "nope", "-o", str(tmp_path / "x.csv")]) == 2
    assert "unknown corpus" in capsys.readouterr().err
