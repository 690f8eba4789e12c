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


def test_a_bare_key_error_says_what_was_missing_where(monkeypatch, capsys):
    """A KeyError is a lookup that failed: the line names the key and the place, not the
    key alone (`serbench run: error: mine` said nothing)."""
    from benchmark import cli

    def broken(args):
        return {}["mine"]

    monkeypatch.setattr(cli, "_cmd_corpora", broken)
    assert cli.main(["corpora"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("serbench corpora: error: no 'mine' where test_cli.py:")
    assert len(err.splitlines()) == 1


def test_n_jobs_is_bounded_by_the_cores_with_a_line(monkeypatch, capsys):
    import pytest

    from benchmark.cli import local_jobs

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert local_jobs(12) == 2
    assert "--n-jobs 12 clamped to this machine's 2 cores" in capsys.readouterr().err
    assert local_jobs(2) == 2 and local_jobs(12, remote=True) == 12
    assert not capsys.readouterr().err
    with pytest.raises(ValueError, match="at least 1"):
        local_jobs(0)
