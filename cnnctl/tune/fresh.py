"""A trial in a fresh process (`search.process: fresh`, the default): a Python process started for the
trial (multiprocessing's `spawn`: a new interpreter, never a fork of one where TensorFlow runs) trains it
with the same `run_trial` as a shared-process study, and ends with it. Whatever TensorFlow keeps after a
fit (about 2 MiB a trial, tensorflow#61791; optuna#1178) goes with the process, so a study of any length
runs in the same memory; the price is TensorFlow's start-up, a few seconds a trial.

The child opens the same storage and rebuilds the trial from its id (its values, pruning reports and
heartbeat go to the storage as in this process); it sends back over a pipe each line to show and how it
ended. The parent only waits.

Signals: the child runs in a process group of its own, so a terminal's Ctrl-C reaches the parent alone,
which passes each SIGINT or SIGTERM on: the first asks the trial to stop after its step (its run folder
says `interrupted`, and `cnnctl tune` run again resumes it), a second stops it at once, a third kills the
child. The parent then exits as an interrupted `cnnctl tune` does (130). A child killed outright (SIGKILL,
the kernel's out-of-memory killer) leaves its trial running in the storage: the parent fails it as
`died`, and the study's loop queues it again, as it does a dead worker's trial.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable

from cnnctl.errors import CnnctlError
from cnnctl.tune.trial import Plan

KILL_AFTER = 3  # stop requests after which the child is killed rather than asked


@dataclass(frozen=True)
class Job:
    """What the child needs to run one trial: all of it pickled into the new process."""

    url: str  # the storage
    study: str
    trial_id: int
    number: int
    plan: Plan
    sampler: Any  # the Optuna sampler for this trial, seeded as the parent would seed it
    pruner: Any


class TrialProcessFailed(RuntimeError):
    """A bug in the trial's process: its traceback, shown under the parent's."""


def run_fresh(study: Any, trial: Any, job: Job, say: Callable[[str, str], None]) -> None:
    """Run `trial` of `study` in a new process and wait for it; raise as `run_trial` would in this process
    (KeyboardInterrupt when stopped, CnnctlError for a mistake the user can fix)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no TensorFlow state is inherited
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(job, send), name=f"cnnctl-trial-{job.number}")
    requests: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        requests.append(signum)
        try:
            os.kill(child.pid, signal.SIGKILL if len(requests) >= KILL_AFTER else signum)
        except (ProcessLookupError, TypeError):  # ended already, or not started
            pass

    ending: tuple = ()
    try:
        child.start()
    except KeyboardInterrupt:  # before the child ran anything: the trial runs again next time
        _settle(study, trial, "interrupted")
        raise
    finally:
        send.close()
    previous = _install(forward)
    try:
        while True:
            try:
                message = receive.recv()
            except EOFError:  # the child is gone: it ended, or was killed
                break
            if message[0] == "say":
                say(message[1], message[2])
            else:
                ending = message
        child.join()
    finally:
        _restore(previous)
        receive.close()
    if ending[:1] == ("interrupted",) or requests:
        _settle(study, trial, "interrupted")
        raise KeyboardInterrupt
    if ending[:1] == ("error",):
        raise CnnctlError(ending[1], details=ending[2])
    if ending[:1] == ("bug",):
        raise TrialProcessFailed(f"trial {job.number}'s process failed:\n{ending[1]}")
    code = child.exitcode or 0
    if ending[:1] != ("done",) and code > 0:  # it could not start the trial (its error is above): not for a rerun
        _settle(study, trial, "error")
        raise TrialProcessFailed(f"trial {job.number}'s process ended with exit status {code} before it "
                                 "said how the trial ended (its error is above)")
    if ending[:1] != ("done",):
        if _settle(study, trial, "died"):
            say(f"trial {job.number}'s process died (killed by {signal.Signals(-code).name}): the trial runs "
                "again, resuming its run folder", "event")


def _child(job: Job, pipe: Any) -> None:
    """The trial's process: train the trial as a shared-process study would, and say how it ended."""
    os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the parent only, which passes it on once

    def say(line: str, kind: str) -> None:
        pipe.send(("say", line, kind))

    try:
        import logging
        import warnings

        import optuna

        from cnnctl.tune.storage import open_storage
        from cnnctl.tune.trial import run_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        if os.environ.get("CNNCTL_DEBUG") != "1":
            logging.getLogger("tensorflow").setLevel(logging.ERROR)
        study = optuna.load_study(study_name=job.study, storage=open_storage(job.url), sampler=job.sampler,
                                  pruner=job.pruner)
        run_trial(study, optuna.trial.Trial(study, job.trial_id), job.plan, say)
        pipe.send(("done",))
    except KeyboardInterrupt:
        pipe.send(("interrupted",))
    except CnnctlError as exc:
        pipe.send(("error", exc.problems, exc.details))
    except BaseException:
        import traceback

        pipe.send(("bug", traceback.format_exc()))
    finally:
        pipe.close()


def _settle(study: Any, trial: Any, outcome: str) -> bool:
    """Fail `trial` with `outcome` if its process left it running; whether it did."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    if storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
        return False
    try:
        storage.set_trial_user_attr(trial._trial_id, "outcome", outcome)
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def _install(handler: Callable[[int, Any], None]) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
