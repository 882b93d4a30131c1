"""One trial: its config (the base config and the trial's values, as `--set` overrides), trained by the
same `train()` as `cnnctl train` into runs/<study>/trial-NNNN/, each epoch reported to Optuna's pruner.

`run_trial` runs in the process that trains: a fresh one per trial (`search.process: fresh`, the default;
cnnctl.tune.fresh starts it) or the `cnnctl tune` process itself (`shared`: TensorFlow's start-up is paid
once; `train()` clears Keras' session and restores the dtype policy around each run, and each run records
its own start time, but TensorFlow keeps about 2 MiB a fitted model: tensorflow#61791).

How a trial ends, in Optuna and in its run folder:
    completed run        -> COMPLETE, its value the metric's best over the epochs
    stopped by pruner    -> PRUNED; the run stops after that epoch, is saved and tested: `completed`,
                            fewer epochs than train.epochs (as with early stopping)
    diverged run         -> PRUNED (no trustworthy value); the folder says `diverged`
    Ctrl-C, SIGTERM      -> FAIL, outcome `interrupted`; the folder says `interrupted`. The next
                            `cnnctl tune` runs it again, resuming the folder from its checkpoint
    a config error, a bug -> FAIL, outcome `error`, and `cnnctl tune` stops with the error
"""

from __future__ import annotations

import gc
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cnnctl.config import Config, load_config
from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import RunFolder, files, read_results
from cnnctl.tune.space import config_value, distributions, trial_overrides
from cnnctl.tune.storage import Heartbeat

RESUMABLE = {"interrupted", "failed", "running"}  # a run folder a retried trial continues


@dataclass(frozen=True)
class Plan:
    """What every trial of a study shares."""

    path: str  # the config file
    overrides: tuple[str, ...]  # the command's own --set, before the trial's values
    config: Config
    folder: Path  # runs/<study>/
    metric: str
    maximize: bool
    device: str


def run_trial(study: Any, trial: Any, plan: Plan, say: Callable[[str, str], None]) -> None:
    """Train `trial` (Optuna's, from `study.ask()`) and tell the study how it ended."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

    state = optuna.trial.TrialState
    space = plan.config.search.space
    params = {key: _suggest(trial, key, dist) for key, dist in distributions(space).items()}
    original = Retry.retried_trial_number(study._storage.get_trial(trial._trial_id))
    earlier = trial.user_attrs.get("run") if original is not None else None  # copied from the retried trial
    name = files.TRIAL.format(trial.number)
    resume_from = plan.folder / earlier if earlier and _resumable(plan.folder / earlier) else None
    if resume_from is None and (plan.folder / name).exists():
        _tell(study, trial, state.FAIL, outcome="error")
        raise CnnctlError(Problem(f"{name} is left from another study of this name", str(plan.folder / name),
                                  hint="move it away, or give this study another name (--study)"))
    trial.set_user_attr("run", resume_from.name if resume_from else name)
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("outcome", "started")
    values = {key: config_value(space, key, params[key]) for key in space}
    say(f"trial {trial.number}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in values.items())
        + (f" (trial {original} again, resuming {resume_from.name})" if resume_from else
           f" (trial {original} again)" if original is not None else ""), "trial")
    report = PruningReport(trial, plan.metric)
    from cnnctl.training import resume, train

    try:
        with Heartbeat(study._storage, trial._trial_id):
            if resume_from is not None:
                run = resume(resume_from, device=plan.device, say=say, callbacks=(report,))
            else:
                config = load_config(plan.path, (*plan.overrides, *trial_overrides(space, params)))
                run = train(config, runs_dir=plan.folder, name=name, device=plan.device, say=say,
                            callbacks=(report,))
    except KeyboardInterrupt:
        _tell(study, trial, state.FAIL, outcome="interrupted")
        say(f"trial {trial.number} interrupted: `cnnctl tune` run again resumes it from its checkpoint", "event")
        raise
    except BaseException:
        _tell(study, trial, state.FAIL, outcome="error")
        raise
    finally:
        # The run's model and data go now, not at some later trial (optuna#1178). What stays is TensorFlow's:
        # about 2 MB a fitted model, with or without clear_session (tensorflow#61791; BENCHMARKS.md).
        gc.collect()
    trial.set_user_attr("status", run.results.status)
    trial.set_user_attr("rss_mb", resident_mb())
    trial.set_user_attr("peak_mb", peak_mb())
    if run.results.status == "diverged":
        _tell(study, trial, state.PRUNED, outcome="diverged")
    elif report.pruned_after is not None:
        _tell(study, trial, state.PRUNED, outcome=f"after epoch {report.pruned_after}")
    else:
        value = best_value(RunFolder(run.path).read_metrics(), plan.metric, plan.maximize)
        if value is None:
            _tell(study, trial, state.FAIL, outcome="error")
            raise CnnctlError(Problem(f"the run logged no finite {plan.metric}", str(run.path)))
        _tell(study, trial, state.COMPLETE, value=value, outcome="completed")


def _suggest(trial: Any, key: str, distribution: Any) -> Any:
    """The trial's value for `key` (a retried trial's are fixed: the same values again)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(key, distribution.choices)
    suggest = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    return suggest(key, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def _tell(study: Any, trial: Any, state: Any, value: float | None = None, outcome: str = "") -> None:
    trial.set_user_attr("outcome", outcome)
    study.tell(trial, value, state=state, skip_if_finished=True)


def _resumable(folder: Path) -> bool:
    if not (folder / files.CONFIG).is_file():
        return False
    if not (folder / files.RESULTS).is_file():
        return True  # stopped during set-up
    try:
        return read_results(folder).status in RESUMABLE
    except CnnctlError:
        return False


def best_value(rows: list[dict[str, float]], metric: str, maximize: bool) -> float | None:
    """The metric's best finite value over the epochs, as best.keras is chosen."""
    values = [float(r[metric]) for r in rows if metric in r and math.isfinite(float(r[metric]))]
    if not values:
        return None
    return max(values) if maximize else min(values)


def resident_mb() -> float | None:
    """This process's resident memory now (Linux), to show that trials in one process do not pile up."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def peak_mb() -> float | None:
    """This process's highest resident memory so far (Linux's VmHWM): a fresh trial process's peak."""
    try:
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pruning_base() -> type:
    from cnnctl.keras_catalog import keras

    return keras().callbacks.Callback


class PruningReport(_pruning_base()):
    """Reports each epoch's metric to Optuna; when the pruner says so, the run stops after that epoch.

    Not optuna-integration's KerasPruningCallback: it raises `TrialPruned` inside `fit`, which a run
    records as failed; stopping as EarlyStopping does leaves an ordinary, tested run folder.
    """

    def __init__(self, trial: Any, metric: str):
        super().__init__()
        self.trial, self.metric, self.pruned_after = trial, metric, None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return
        self.trial.report(float(value), epoch + 1)
        last = epoch + 1 >= self.params.get("epochs", 0)  # nothing left to save: the trial completes
        if not last and self.trial.should_prune():
            self.pruned_after = epoch + 1
            self.model.stop_training = True
