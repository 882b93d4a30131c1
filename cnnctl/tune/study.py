"""`cnnctl tune`: an Optuna study over a config's `search:` space, one run folder per trial.

Top to bottom: read and check the config and every end of every range (before anything is written),
open the study (created, or continued), then run trials until the study has its number of finished
(completed or pruned) trials, and write the study's summary.

Each worker (this process, another one, one on another machine with the same `--storage`) loops:
under the study's lock it fails trials whose process is gone, queues interrupted and dead trials to
run again, counts the trials finished, running and queued, and takes the next one only while they
fall short of the number asked for. The lock makes the count exact with any number of workers.

Each trial trains in a process of its own (`search.process: fresh`, cnnctl.tune.fresh) or in this one
(`shared`); either way the same `run_trial` trains it and reports to the same storage.

Interrupted and dead trials are run again by our own re-queue (Optuna's `RetryHeartbeatStaleTrialCallback`
makes the copy; optuna#6283: `optimize` alone never re-runs a trial whose process died), and the copy
resumes the trial's run folder from its last checkpoint where that folder is on this machine.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cnnctl.config import Config, load_config
from cnnctl.config.components import ComponentSpec
from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files
from cnnctl.runfolder.folder import NAME
from cnnctl.tune.fresh import Job, run_fresh
from cnnctl.tune.space import check_ends
from cnnctl.tune.storage import default_url, open_storage, study_lock
from cnnctl.tune.summary import trial_rows
from cnnctl.tune.trial import Plan, run_trial

MAX_RETRIES = 3  # an interrupted or dead trial is run again at most this many times
POLL_SECONDS = 2  # a worker with nothing to start looks again this often


@dataclass(frozen=True)
class Outcome:
    """A finished study, as this worker leaves it."""

    name: str
    folder: Path
    storage: str
    study: Any  # optuna.Study
    plan: Plan
    trials: int  # asked for


def tune(path: str, overrides: tuple[str, ...] = (), trials: int | None = None, storage: str | None = None,
         study_name: str | None = None, runs_dir: str | Path = "runs", device: str = "auto",
         say: Callable[[str, str], None] = lambda line, kind: print(line),
         on_change: Callable[[str, str, list], None] = lambda study, metric, rows: None) -> Outcome:
    """Run (or continue) the study of `path`'s `search:` section until it has `trials` finished trials.

    `say(line, kind)`: as `train` takes it, plus kind `trial` (a trial starts) and `wait`;
    `on_change(study, metric, rows)`: after each trial starts or ends, its rows (`summary.trial_rows`).
    """
    import logging
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Our loop beats the heartbeat itself (storage.Heartbeat): Optuna's warning that it expects optimize() is moot.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    if os.environ.get("CNNCTL_DEBUG") != "1":  # a model per trial: TensorFlow warns of retracing, which is expected
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    config = load_config(path, overrides)
    if config.search is None:
        raise CnnctlError(Problem("no search: section: nothing to tune", path,
                                  hint="add search: {trials: 10, space: {train.batch_size: {choice: [32, 64]}}}"))
    search = config.search
    wanted = trials or search.trials
    name = study_name or search.study or config.name
    if study_name is not None and not NAME.match(study_name):
        raise CnnctlError(Problem(f"study name {study_name!r} is not a plain folder name", "--study",
                                  hint="use letters, digits, '_', '-' and '.'"))
    if search.process == "fresh":
        _leave_gpus_to_trials()
    metric = search.metric or config.monitor
    maximize = (search.direction == "maximize") if search.direction else _maximized(metric, config)
    sampler_spec = _component(search.sampler, "samplers", config)
    pruner = _component(search.pruner, "pruners", config) if search.pruner not in (None, "none") else None
    check_ends(config, path, overrides)
    folder = Path(runs_dir) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot create the study folder: {exc.strerror}", str(folder))) from None
    url = storage or default_url(folder)
    with study_lock(url, name):  # the first worker creates the tables and the study; the others find them
        rdb = open_storage(url)
        study = optuna.create_study(storage=rdb, study_name=name, load_if_exists=True,
                                    direction="maximize" if maximize else "minimize",
                                    sampler=_sampler(sampler_spec, search.seed, 0),
                                    pruner=_instance(pruner) if pruner else optuna.pruners.NopPruner())
    if study.direction != (optuna.study.StudyDirection.MAXIMIZE if maximize else
                           optuna.study.StudyDirection.MINIMIZE):
        raise config.error(("search", "direction"), f"study {name} in this storage was started to "
                                       f"{study.direction.name.lower()}", "keep its direction, or use --study")
    study.set_user_attr("metric", metric)
    # A trial's rate is the one drawn: a divergence ends it (pruned) rather than halving the rate, unless
    # the config itself says what to do on divergence (README: Divergence).
    stop = () if "on_divergence" in config.train.model_fields_set else ("train.on_divergence=stop",)
    plan = Plan(path, (*overrides, *stop), config, folder, metric, maximize, device)
    where = f"{folder / files.STUDY_DB} (SQLite)" if storage is None else _shown(url)
    say(f"study {name}: {wanted} trials, {'maximize' if maximize else 'minimize'} {metric}; storage {where}; "
        f"trial runs in {folder}/, each trial in {'a fresh process' if search.process == 'fresh' else 'this process'}",
        "info")

    def changed() -> None:
        on_change(name, metric, trial_rows(study, search.space))

    def told(line: str, kind: str) -> None:  # a fresh process's lines; the table shows its values as it starts
        say(line, kind)
        if kind == "trial":
            changed()

    changed()
    while True:
        with study_lock(url, name, rdb.engine):
            _fail_dead(study)
            finished, live, waiting = _counts(study)
            trial = study.ask() if finished < wanted and (waiting or live < wanted) else None
            if trial is not None:
                study.sampler = _sampler(sampler_spec, search.seed, trial.number)
        if trial is None:
            if finished >= wanted:
                break
            say(f"waiting: {live - finished} trial(s) running elsewhere", "wait")
            time.sleep(POLL_SECONDS)
            continue
        changed()
        try:
            if search.process == "fresh":
                job = Job(url, name, trial._trial_id, trial.number, plan, study.sampler, study.pruner)
                run_fresh(study, trial, job, told)
            else:
                run_trial(study, trial, plan, say)
        finally:
            changed()
    return Outcome(name, folder, url, study, plan, wanted)


def _leave_gpus_to_trials() -> None:
    """With trials in fresh processes this one only checks configs (models built, never trained): it hides
    the GPUs from its own TensorFlow, which would otherwise take most of their memory on its first op and
    leave the trials' processes none. The trials' processes see them (the setting is per process)."""
    from cnnctl.training.compile import select_device

    try:
        select_device("cpu")
    except RuntimeError:  # TensorFlow already started on them here (tune() called again in one process)
        pass


def _counts(study: Any) -> tuple[int, int, int]:
    """Trials finished (completed, pruned), live (those and running, queued), and queued."""
    from optuna.trial import TrialState as S

    states = [t.state for t in study.get_trials(deepcopy=False)]
    finished = sum(s in (S.COMPLETE, S.PRUNED) for s in states)
    running, waiting = states.count(S.RUNNING), states.count(S.WAITING)
    return finished, finished + running + waiting, waiting


def _fail_dead(study: Any) -> None:
    """Fail the running trials whose process is gone, and queue every interrupted or dead trial again.

    Dead: a process of this machine that no longer exists (found at once), or any trial silent for
    `GRACE_SECONDS` (Optuna's heartbeat, for other machines). Interrupted: Ctrl-C or SIGTERM.
    """
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry
    from optuna.trial import TrialState as S

    storage, host = study._storage, socket.gethostname()
    optuna.storages.fail_stale_trials(study)  # no stale-trial callback: queued below with the others
    for t in study.get_trials(deepcopy=False, states=(S.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") == host and isinstance(pid, int) and pid != os.getpid() and not _alive(pid):
            try:
                storage.set_trial_user_attr(t._trial_id, "outcome", "died")
                storage.set_trial_state_values(t._trial_id, state=S.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in Retry.retry_history(t)}
    for t in trials:
        if (t.state == S.FAIL and t.number not in retried
                and t.user_attrs.get("outcome") in (None, "started", "died", "interrupted")):
            Retry(max_retry=MAX_RETRIES, inherit_intermediate_values=True)(study, t)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _maximized(metric: str, config: Config) -> bool:
    """Whether a higher `metric` is better, asked of Keras' metric as Keras' own callbacks do; a loss goes down."""
    from cnnctl import keras_catalog

    name = metric.removeprefix("val_")
    if name == "loss":
        return False
    keras = keras_catalog.keras()
    for spec in config.metrics:
        try:
            made = keras.metrics.get(spec.name if not spec.args else {"class_name": spec.name, "config": spec.args})
        except (ValueError, TypeError):
            continue
        made = made() if isinstance(made, type) else made
        if getattr(made, "name", None) == name or spec.name == name:
            if hasattr(made, "_direction"):
                return made._direction == "up"
            if name in ("accuracy", "acc"):  # the string Keras maps to the right accuracy when compiling
                return True
    raise config.error(("search", "metric"), f"cannot tell whether {metric} is better high or low",
                                   "set search.direction: maximize or minimize")


def _component(raw: Any, namespace: str, config: Config) -> ComponentSpec:
    """An Optuna sampler or pruner by class name, with its arguments, checked against its signature."""
    import inspect

    import optuna

    module = getattr(optuna, namespace)
    path = ("search", namespace.removesuffix("s"))
    name = raw if isinstance(raw, str) else next(iter(raw), "") if isinstance(raw, dict) and len(raw) == 1 else None
    args = (raw.get(name) or {}) if isinstance(raw, dict) and name else {}
    known = sorted(n for n in dir(module) if n[0].isupper() and isinstance(getattr(module, n), type)
                   and n != f"Base{namespace[:-1].title()}")
    if name not in known:
        from cnnctl.errors import did_you_mean

        raise config.error(path, f"optuna.{namespace} has no {name!r}",
                                       did_you_mean(str(name), known) or f"one of {', '.join(known)}")
    if not isinstance(args, dict):
        raise config.error(path + (name,), "arguments are a mapping", "{n_startup_trials: 2}")
    accepted = inspect.signature(getattr(module, name)).parameters
    for key in args:
        if key not in accepted or key == "seed":
            hint = "the seed is search.seed" if key == "seed" else f"it takes {', '.join(accepted)}"
            raise config.error(path + (name, key), f"{name} takes no argument {key!r}", hint)
    return ComponentSpec(namespace, name, dict(args))


def _instance(spec: ComponentSpec, **more: Any) -> Any:
    import optuna

    try:
        return getattr(getattr(optuna, spec.kind), spec.name)(**spec.args, **more)
    except (TypeError, ValueError) as exc:
        raise CnnctlError(Problem(f"search: {spec.name}: {exc}", hint="check its arguments")) from None


def _sampler(spec: ComponentSpec, seed: int | None, number: int) -> Any:
    """The sampler for trial `number`: seeded from (search.seed, number), so one worker proposes the same
    trials every time and workers started together do not propose the same ones."""
    import inspect

    import optuna

    cls = getattr(optuna.samplers, spec.name)
    if seed is None or "seed" not in inspect.signature(cls).parameters:
        return _instance(spec)
    return _instance(spec, seed=(seed + number * 7919) % 2**32)


def _shown(url: str) -> str:
    from cnnctl.tune.storage import _safe

    return _safe(url)
