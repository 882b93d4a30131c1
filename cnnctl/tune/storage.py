"""Where a study lives: SQLite in the study folder by default, or any database URL Optuna's RDBStorage
takes (`postgresql://...`, `mysql://...`) so that workers on several machines share one study.

Workers take turns (`study_lock`) to count the study's trials and start the next one, so together they
end with exactly the trials asked for; each running trial beats a heartbeat, so a worker whose process
died is found by the others (Optuna's `fail_stale_trials`) and its trial run again.
"""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files

HEARTBEAT_SECONDS = 10  # how often a running trial says it is alive
GRACE_SECONDS = 30  # silence after which another worker takes a trial's process for dead
SQLITE_WAIT_SECONDS = 60  # a worker waits this long for another's write to the SQLite file


def default_url(folder: Path) -> str:
    """The embedded default: a SQLite file in the study folder, no server."""
    return f"sqlite:///{(folder / files.STUDY_DB).resolve()}"


def open_storage(url: str) -> Any:
    """Optuna's RDBStorage for `url`, with heartbeats; a URL or database it cannot use is one line."""
    import warnings

    import optuna

    # heartbeats are "experimental" in Optuna 5; they are what finds a dead worker's trial
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        kwargs = {"connect_args": {"timeout": SQLITE_WAIT_SECONDS}}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_SECONDS,
                                          grace_period=GRACE_SECONDS)
    except ImportError as exc:  # the database's driver (psycopg2, PyMySQL) is not installed
        raise CnnctlError(Problem(f"cannot open the storage: {exc}", "--storage",
                                  hint="install the database's Python driver")) from None
    except Exception as exc:  # SQLAlchemy's errors: a bad URL, a server that does not answer, a refused login
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CnnctlError(Problem(f"cannot open the storage {_safe(url)}: {first}", "--storage",
                                  hint="check the URL, that the server runs and the database exists")) from None


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@")[0]:
        user = rest.split("@")[0].split(":")[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return f"{scheme}{sep}{rest}"


@contextmanager
def study_lock(url: str, study: str, engine: Any = None) -> Iterator[None]:
    """Held while a worker creates the storage and the study, and while it counts the study's trials and
    starts one: two workers creating Optuna's tables at once collide (optuna#1092), and two counting at
    once could both start the last trial.

    SQLite: an OS lock on a file beside the database (its workers share a file system). PostgreSQL and
    MySQL: the server's advisory lock, named after the study, on `engine` (else a connection of its own).
    Other databases: none; two workers may then both start the last trial.
    """
    if url.startswith("sqlite:///"):
        lock = Path(url.removeprefix("sqlite:///") + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CnnctlError(Problem(f"cannot open the study's lock file: {exc.strerror}", str(lock))) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
        return
    dialect = url.partition(":")[0].partition("+")[0]
    take, give = {"postgresql": ("SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)"),
                  "mysql": ("SELECT GET_LOCK(:k, -1)", "SELECT RELEASE_LOCK(:k)")}.get(dialect, (None, None))
    if take is None:
        yield
        return
    import sqlalchemy
    from sqlalchemy import text

    own = engine is None
    if own:
        try:
            engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        except Exception as exc:  # a URL SQLAlchemy cannot parse, a driver not installed
            raise CnnctlError(Problem(f"cannot open the storage {_safe(url)}: {exc}", "--storage",
                                      hint='pip install "cnnctl[tune]" has the PostgreSQL driver')) from None
    key = zlib.crc32(study.encode()) & 0x7FFFFFFF
    name: Any = key if dialect == "postgresql" else f"cnnctl-{key}"
    try:
        with engine.connect() as connection:
            connection.execute(text(take), {"k": name})
            try:
                yield
            finally:
                connection.execute(text(give), {"k": name})
                connection.commit()
    except sqlalchemy.exc.OperationalError as exc:  # the server does not answer, or refuses the login
        raise CnnctlError(Problem(f"cannot open the storage {_safe(url)}: {str(exc).splitlines()[0]}",
                                  "--storage", hint="check the URL, that the server runs and the database "
                                                    "exists")) from None
    finally:
        if own:
            engine.dispose()


class Heartbeat:
    """Records a trial's heartbeat every `HEARTBEAT_SECONDS` from a thread while the trial runs."""

    def __init__(self, storage: Any, trial_id: int):
        self.storage, self.trial_id, self.stop = storage, trial_id, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="cnnctl-heartbeat")

    def _beat(self) -> None:
        while True:
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a database hiccup must not end the trial; the next beat tries again
                pass
            if self.stop.wait(HEARTBEAT_SECONDS):
                return

    def __enter__(self) -> "Heartbeat":
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
