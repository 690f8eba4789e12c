"""One writer per results folder: a second run refuses naming the holder; a dead holder's lock
is taken over."""

import signal
import subprocess
import sys
import time

import pytest

from benchmark.cli import main
from benchmark.lock import LOCK, Busy, results_lock
from tests.conftest import SMOKE

HOLD = """import sys, time
from benchmark.lock import results_lock
with results_lock(sys.argv[1], "serbench run held.toml"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path/results``'s lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "results")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    with pytest.raises(Busy, match=rf"pid {holder.pid} on .*serbench run held.toml"):
        with results_lock(tmp_path / "results", "second"):
            pass
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [LOCK]


def test_a_dead_holders_lock_is_taken_over(tmp_path, holder, capsys):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert str(holder.pid) in (tmp_path / "results" / LOCK).read_text()  # left behind
    with results_lock(tmp_path / "results", "next"):
        assert "took over" in capsys.readouterr().err
        # reentrant in one process: a run inside a command that holds the lock goes on
        with results_lock(tmp_path / "results", "inner"):
            pass
    assert (tmp_path / "results" / LOCK).read_text() == ""  # released cleanly


def test_two_runs_a_second_apart_one_refuses(tmp_path, holder, capsys):
    t0 = time.time()
    rc = main(["run", str(SMOKE), "--results-dir", str(tmp_path / "results"),
               "-q", "--no-report"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and f"pid {holder.pid}" in err[0], err
    assert time.time() - t0 < 30  # refused before any extraction
    assert not (tmp_path / "results" / "mlflow.db").exists()
