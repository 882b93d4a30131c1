"""Two `cnnctl tune` processes started together on one study share its trials and end it with exactly the
number asked for: on the embedded SQLite file, and on a real PostgreSQL server (Debian's `postgresql`)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

optuna = pytest.importorskip("optuna", reason='cnnctl tune needs the tune extra: pip install "cnnctl[tune]"')

SMOKE = ROOT / "configs" / "tune_smoke.yaml"
SMALL = ["--set", "data.synthetic.train_size=200", "--set", "data.synthetic.test_size=60",
         "--set", "train.epochs=1"]
TRIALS = 4


def two_workers(runs: Path, *storage: str) -> list[subprocess.CompletedProcess]:
    """`cnnctl tune` twice at once, on the same study; both must end well."""
    command = [sys.executable, "-m", "cnnctl", "tune", str(SMOKE), "--trials", str(TRIALS), "--runs-dir",
               str(runs), "--device", "cpu", "--quiet", *SMALL, *storage]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(2)]
    done = []
    for worker in workers:
        out, err = worker.communicate(timeout=400)
        done.append(subprocess.CompletedProcess(command, worker.returncode, out, err))
        assert worker.returncode == 0, out + err
    return done


def check_shared(study) -> None:
    trials = study.get_trials()
    assert len(trials) == TRIALS
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)  # nothing failed, none left over
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # each worker ran some
    assert len({t.user_attrs["run"] for t in trials}) == TRIALS


@pytest.mark.slow
def test_two_workers_on_one_sqlite_file_share_the_study(tmp_path):
    two_workers(tmp_path)
    folder = tmp_path / "tune_smoke"
    check_shared(optuna.load_study(study_name="tune_smoke", storage=f"sqlite:///{folder / 'study.db'}"))
    assert len(list(folder.glob("trial-*"))) == TRIALS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own, in a temporary folder on a free port, trusting local logins.

    initdb and postgres refuse to run as root: as root they run as the `postgres` user the package makes.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or [shutil.which("pg_ctl")]
    if not found[-1]:
        pytest.skip("no PostgreSQL server here: Debian's postgresql package is not installed "
                    "(apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="the tune extra's PostgreSQL driver (psycopg) is missing")
    bindir = Path(found[-1]).parent
    as_user: list[str] = []
    top = Path(tempfile.mkdtemp(prefix="cnnctl-pg-"))
    data = top / "data"
    data.mkdir()
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user for the server to run as")
        top.chmod(0o755)
        os.chown(data, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l",
                        str(data / "log"), "-o", f"-p {port} -k {data} -h 127.0.0.1", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(top, ignore_errors=True)
        pytest.skip(f"the PostgreSQL server did not start: {getattr(exc, 'stderr', b'') or exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_on_a_postgresql_server_share_the_study(postgres, tmp_path):
    two_workers(tmp_path, "--storage", postgres)
    check_shared(optuna.load_study(study_name="tune_smoke", storage=postgres))
    assert not (tmp_path / "tune_smoke" / "study.db").exists()  # the study lives in the server
