"""`train(config)` and `resume(folder)`: data, model, fit, evaluate, and a run folder that says what happened.

The order matters: everything a user can get wrong (config, data, shapes,
device) is checked before the run folder is claimed, so a mistake leaves
nothing behind; from then on the folder always ends with a results.json
whose status is completed, diverged, interrupted or failed (or `running`,
with the process id, while it runs or if it was killed outright).
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from cnnctl import STARTED, keras_catalog
from cnnctl.config import Config, load_config
from cnnctl.config.components import ComponentSpec
from cnnctl.data.ondisk import corrupt_file_error
from cnnctl.data.pipeline import check_dataset, eval_dataset, label_encoder, steps_per_epoch, train_dataset
from cnnctl.data.prepare import Data, check_labels, describe, load_data
from cnnctl.errors import CnnctlError, Problem, plural
from cnnctl.model.build import build_model, check_output, internal_input_shape
from cnnctl.model.summary import summarize_model
from cnnctl.model.summary_table import summary_text
from cnnctl.runfolder import Results, RunFolder, files, read_results
from cnnctl.runfolder.environment import environment
from cnnctl.training import distribute
from cnnctl.training.compile import compile_model, execution_settings, instantiate, peak_host_memory_mb, select_device
from cnnctl.training.precision import Precision, cpu_computes_bf16, set_precision
from cnnctl.training.recorder import FolderRecorder, WorkerRecorder
from cnnctl.training.tensorboard import event_files, missing_tensorboard

Say = Callable[[str, str], None]
RESUMABLE = {"interrupted", "failed"}
MISTAKES = 16  # the final model's most confident test mistakes, kept in errors.png and errors.csv


@dataclass(frozen=True)
class Run:
    path: Path
    results: Results


@dataclass
class _Session:
    """A config made ready to fit: device chosen, data loaded, model built and compiled."""

    config: Config
    model: Any
    data: Data
    encode: Any
    device: str
    precision: Precision
    execution: dict[str, Any]
    placement: distribute.Placement = distribute.ONE_DEVICE


def train(config: Config, runs_dir: str | Path = "runs", name: str | None = None, device: str = "auto",
          say: Say = lambda line, kind: print(line), progress: Any = None, callbacks: tuple[Any, ...] = ()) -> Run:
    """Train `config` and write `runs_dir/<name>/`; return the folder and its results.

    `say(line, kind)` receives each line to show, kind being `info` (set-up),
    `epoch`, `event` (precision, divergence, halving, interruption) or `result`;
    `progress`, if given, is a factory `(epochs, steps, batch_size) -> keras
    Callback` for a live display. `callbacks`: more Keras callbacks, run after cnnctl's own at each
    epoch's end and before its checkpoint (`cnnctl tune` reports each epoch to Optuna's pruner with one:
    a callback that sets `model.stop_training` ends the run early, tested and `completed`, as EarlyStopping does).
    """
    stops = _StopRequests(say)
    with stops.installed(), _own_keras_state():
        restarted = _restarted_job(config, Path(runs_dir) / (name or config.name))
        if restarted is not None:  # a cluster's job started again: its chief continues the run it left
            return _resume_folder(restarted, device, say, progress, stops, callbacks=callbacks)
        try:
            session = _prepare(config, device, say)
        except KeyboardInterrupt:
            say("interrupted during set-up: nothing was written", "event")
            raise
        if not session.placement.chief:  # another worker of a cluster: the chief keeps the record
            return _fit(WorkerRecorder(), session, Results(name=config.name), None, say, progress, stops, callbacks)
        run = None
        try:
            with stops.shield():  # a stop waits until the folder holds its config: then it can be resumed
                run = RunFolder.claim(runs_dir, name or config.name)
                run.write_config(config.resolved())
            _write_summary(run, session)
            say(f"run folder: {run.path}", "info")
            return _fit(FolderRecorder(run), session, _new_results(run, session), None, say, progress, stops,
                        callbacks)
        except KeyboardInterrupt:
            say(f"interrupted: `cnnctl resume {run.path}` continues where it stopped", "event")
            raise
        finally:
            if run is not None:
                run.release()


def resume(folder: str | Path, device: str = "auto", say: Say = lambda line, kind: print(line),
           progress: Any = None, overrides: list[str] | tuple[str, ...] = (), callbacks: tuple[Any, ...] = ()) -> Run:
    """Continue a stopped run (interrupted, killed, failed, or stopped during set-up) in the same folder.

    It picks up after the last completed epoch; a run whose epochs were all done is saved and tested.
    `overrides` (`train.epochs=30`: see `changes.RESUME_KEYS`) are written into its config.yaml; more
    epochs also continue a completed run. `callbacks`: as `train` takes them.
    """
    if distribute.cluster_given() and not distribute.chief_task():
        # A worker of a cluster other than its chief needs only the config (on a shared disk, or a copy):
        # the chief holds the checkpoint and hands it to every worker when training starts.
        from cnnctl.training.changes import check_resume_overrides

        check_resume_overrides(overrides)
        config = load_config(Path(folder) / files.CONFIG, overrides)
        if config.train.strategy()[0] == "multi_worker":
            return train(config, device=device, say=say, progress=progress, callbacks=callbacks)
    stops = _StopRequests(say)
    with stops.installed(), _own_keras_state():
        return _resume_folder(Path(folder), device, say, progress, stops, overrides, callbacks)


def _resume_folder(path: Path, device: str, say: Say, progress: Any, stops: "_StopRequests",
                   overrides: list[str] | tuple[str, ...] = (), callbacks: tuple[Any, ...] = ()) -> Run:
    run = RunFolder.open(path)
    try:
        return _resume(run, device, say, progress, stops, overrides, callbacks)
    except KeyboardInterrupt:
        say(f"interrupted: `cnnctl resume {run.path}` continues where it stopped", "event")
        raise
    finally:
        run.release()


def _restarted_job(config: Config, path: Path) -> Path | None:
    """For a cluster's chief: the run folder its job left unfinished, if this is that job started again.

    A cluster is restarted whole when a worker is lost (TensorFlow's multi-worker training cannot go on
    without it), by the same command on every worker; as with Keras' BackupAndRestore, that command
    continues the run. A completed or diverged run is not continued: the job trains a new one.
    """
    if config.train.strategy()[0] != "multi_worker" or not distribute.cluster_given() or not distribute.chief_task():
        return None
    if not (path / files.CONFIG).is_file():
        return None
    if (path / files.RESULTS).exists() and read_results(path).status not in RESUMABLE | {"running"}:
        return None
    return path


@contextmanager
def _own_keras_state() -> Iterator[None]:
    """Each run starts from a clean Keras and leaves the process as it found it, so `train()` can be called
    many times in one process (a notebook, a search): `clear_session` frees the last run's graphs and
    restarts layer names (`conv2d`, not `conv2d_2`), and the global dtype policy a mixed-precision run
    sets is put back afterwards."""
    k = keras_catalog.keras()
    k.utils.clear_session()
    policy = k.mixed_precision.global_policy()
    try:
        yield
    finally:
        k.mixed_precision.set_global_policy(policy)


def _resume(run: RunFolder, device: str, say: Say, progress: Any, stops: "_StopRequests",
            overrides: list[str] | tuple[str, ...] = (), callbacks: tuple[Any, ...] = ()) -> Run:
    from cnnctl.training.changes import check_resume_overrides, more_epochs
    from cnnctl.training.checkpoint import load_checkpoint

    check_resume_overrides(overrides)
    # results.json comes before the first checkpoint: a run stopped between them is resumed from its
    # start; with a checkpoint, a missing results.json has been lost, and read_results says so.
    started = (run.path / files.RESULTS).exists() or (run.path / files.CHECKPOINT).exists()
    results = read_results(run.path) if started else None
    status = results.status if results else "set-up"  # stopped before results.json was written
    config = load_config(run.path / files.CONFIG, overrides)
    # running: its process is gone, or it would hold the lock
    if status not in RESUMABLE | {"running", "set-up"} and not more_epochs(run.path, status, config):
        raise CnnctlError(Problem(f"this run is {status}: nothing to resume", str(run.path),
                                  hint="resume takes interrupted, killed or failed runs, and completed ones "
                                       "given more epochs (--set train.epochs=N)"))
    session = _prepare(config, device, say, _resumed_precision(config, results))
    if not session.placement.chief:
        raise CnnctlError(Problem("this worker is not the cluster's chief: only the chief resumes a run folder",
                                  str(run.path), hint="run the resume on the chief (task 0)"))
    state = None
    if (run.path / files.CHECKPOINT).exists():
        state, arrays = load_checkpoint(run.path, session.model, config.train.epochs)
        state["arrays"] = arrays
    epoch = state["epoch"] if state else 0
    if overrides:  # later resumes, and `cnnctl train runs/<name>/config.yaml`, see the same
        run.write_config(config.resolved())
    run.keep_metrics(epoch)
    if results is None:
        _write_summary(run, session)
        results = _new_results(run, session)
    else:
        _keep_skipped_files(results, session.data.report)
    results.resumed.append({"at_epoch": epoch, "time": _now(), "was": status,
                            **({"set": list(overrides)} if overrides else {})})
    results.error, results.status, results.device = None, "running", session.device
    say(f"resuming {run.path} after epoch {epoch}" if epoch < config.train.epochs else
        f"resuming {run.path}: all {plural(epoch, 'epoch')} are done; saving and testing", "info")
    return _fit(FolderRecorder(run), session, results, state, say, progress, stops, callbacks)


def _resumed_precision(config: Config, results: Results | None) -> str | None:
    """`precision: auto` resumes in the precision the run started in, even on other hardware: the epochs
    after a resume compute as those before it did."""
    if config.train.precision != "auto" or results is None or results.precision is None:
        return None
    return "float32" if results.precision == "float32" else "mixed"


def _keep_skipped_files(results: Results, report: dict[str, Any]) -> None:
    """A resumed run's results list the files skipped before and after the resume: the recorded ones go into
    the live list that the streamed folder appends to (`ImageFiles.skipped`), which results.json then holds,
    and a file already named is not warned of again."""
    live = report.get("skipped_files")
    if live is None:  # not an image folder
        return
    live[:0] = [file for file in results.data.get("skipped_files") or [] if file not in live]
    results.data["skipped_files"] = live


def _write_summary(run: RunFolder, session: _Session) -> None:
    summary = summarize_model(session.model, session.config)
    run.write_json(files.SUMMARY_JSON, summary.to_dict())
    run.write_text(files.SUMMARY_TEXT, summary_text(summary))


def _new_results(run: RunFolder, session: _Session) -> Results:
    config = session.config
    return Results(name=run.path.name, config=config.source, overrides=list(config.overrides), started=_now(),
                   device=session.device, precision=session.precision.policy,
                   precision_choice=session.precision.record(), monitor=config.monitor,
                   parameters=session.model.count_params(), data=session.data.report, environment=environment(config.source))


def _prepare(config: Config, device: str, say: Say, precision: str | None = None) -> _Session:
    """`precision`, when given, replaces `train.precision` (a resumed run keeps the one it started with)."""
    if problems := missing_tensorboard(config):
        raise CnnctlError(problems)
    placement = distribute.place(config, device)  # first: TensorFlow's runtime has not started yet
    device_name = select_device(device)
    chosen = set_precision(precision or config.train.precision, device_name)
    if chosen.mixed or chosen.why:
        say(chosen.line(), "event")
    if chosen.policy == "mixed_bfloat16" and cpu_computes_bf16() is False:
        say("warning: this CPU has no native bfloat16 arithmetic (AVX512-BF16, AMX or Arm BF16): mixed precision "
            "is emulated here and trains several times slower than float32 (train.precision: float32)", "event")
    distribute.check_batch(config, placement)
    data = load_data(config, internal_input_shape(config))
    with placement.scope():  # the strategy mirrors what is made here: weights, optimizer slots, metrics
        model = build_model(config)
        check_output(config, model)
        units = int(model.output.shape[-1])
        check_labels(data, units, config)
        steps = steps_per_epoch(len(data.train), config.train.batch_size)
        execution = execution_settings(config, device_name, steps, placement.kind)
        compile_model(model, config, execution)
    say(f"{describe(data)}; {plural(steps, 'step')} of {config.train.batch_size} per epoch; device {device_name}",
        "info")
    if placement.strategy is not None:
        say(placement.describe(config.train.batch_size), "info")
    return _Session(config, model, data, label_encoder(config.loss.name, units), device_name, chosen, execution,
                    placement)


def _fit(rec: FolderRecorder, s: _Session, results: Results, state: dict[str, Any] | None, say: Say,
         progress: Any, stops: "_StopRequests", extra: tuple[Any, ...] = ()) -> Run:
    """Train the remaining epochs, save the model and test it; results.json says how it ended.

    The status stays `running` (with this process's id, and a guardian to mark it failed if the
    process vanishes) until the model is saved and tested, so a run stopped at any point before
    that can be resumed: with every epoch done, a resume only saves and tests.
    """
    from cnnctl.training import callbacks as cb
    from cnnctl.training import guardian
    from cnnctl.training.divergence import DivergenceGuard

    keras = keras_catalog.keras()
    config, model, t = s.config, s.model, s.config.train
    state = _shared_state(rec, s, state)
    first_epoch = state["epoch"] if state else 0
    train_data, steps = train_dataset(s.data.train, t.batch_size, t.seed, first_epoch, t.epochs, s.data.prepare,
                                      s.encode)
    val_data = eval_dataset(s.data.validation, t.batch_size, s.data.prepare, s.encode) if s.data.validation else None
    rows = rec.rows()
    results.steps_per_epoch, results.execution, results.pid = steps, s.execution, os.getpid()
    results.distribution = s.placement.record(t.batch_size)
    rec.results(results)
    watcher = guardian.start(rec.path / files.RESULTS, os.getpid()) if rec.chief else None

    def log_epoch(row: dict[str, Any]) -> None:
        with stops.shield():
            rows.append(row)
            rec.epoch(row)
        say(_epoch_line(row, t.epochs), "epoch")

    def save_best(m: Any) -> None:
        with stops.shield():
            rec.model(m, files.BEST)

    best = cb.BestCheckpoint(config.monitor, save_best)
    check = check_dataset(s.data.train, t.batch_size, t.seed, s.data.prepare, s.encode)
    saved = (state["callbacks"][DivergenceGuard.__name__], cb.arrays_of(DivergenceGuard.__name__, state["arrays"])
             ) if state else None
    guard = DivergenceGuard(t.on_divergence == "halve", check, lambda line: say(line, "event"), saved)
    stateful: list[Any] = [best, guard]  # callbacks whose counters a checkpoint keeps
    schedule = config.lr_schedule
    if schedule is not None and schedule.kind == "callbacks":  # ReduceLROnPlateau, on train.monitor by default
        stateful.append(instantiate(ComponentSpec("callbacks", schedule.name,
                                                  {"monitor": config.monitor, **schedule.args})))
    if t.early_stopping is not None:
        stateful.append(keras.callbacks.EarlyStopping(**{"monitor": config.monitor, **t.early_stopping}))
    wall_before = state["wall_seconds"] if state else 0.0
    started = time.perf_counter()

    def checkpoint(epoch: int) -> None:
        with stops.shield():
            counters, arrays = cb.callback_state(stateful)
            rec.checkpoint(model, {"epoch": epoch, "wall_seconds": wall_before + time.perf_counter() - started,
                                   "callbacks": counters}, arrays)

    # In this order at each epoch's end: the row is logged (and its events written, with the rate the epoch
    # trained at) and the best model kept before the guard may undo the epoch or a plateau change the rate,
    # and the checkpoint comes last, after every callback has changed what it changes.
    def first_step() -> None:
        results.seconds_to_first_step = round(time.perf_counter() - STARTED, 2)

    callbacks = [cb.FirstStep(first_step),
                 cb.StopOnSignal(stops.requested), cb.EpochLog(min(len(s.data.train), steps * t.batch_size), log_epoch),
                 *(event_files(config, rec.path / files.TENSORBOARD) if rec.chief else []),
                 *stateful, *extra, cb.Checkpointer(checkpoint, first_epoch)]
    if state:
        callbacks.append(cb.Restore(stateful, state["callbacks"], state["arrays"]))
    if progress is not None:  # first, so the bar is gone before the epoch's line is printed
        callbacks.insert(0, progress(t.epochs, steps, t.batch_size))
    status = "failed"
    try:
        stops.begin("training")
        # With every epoch done (a resume after the last one), fit only restores the callbacks' state.
        model.fit(train_data, epochs=t.epochs, initial_epoch=first_epoch, steps_per_epoch=steps,
                  validation_data=val_data, callbacks=callbacks, verbose=0,
                  shuffle=False)  # the order comes from (seed, epoch)
        stops.begin("finishing")
        if guard.diverged:
            _say_diverged(guard, t.on_divergence, say)
        rec.model(model, files.MODEL)
        if not guard.diverged:
            last_epoch = int(rows[-1]["epoch"]) if rows else first_epoch  # a worker's rows start at its resume
            results.test, results.best_test = _test(rec, s, best, last_epoch, say)
        rec.plots(results.name, rows, guard.halvings)
        status = "diverged" if guard.diverged else "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException as exc:
        # One line, not a traceback: a worker of the cluster lost, or an image file found damaged mid-run.
        lost = distribute.lost_peer(exc, s.placement)
        named = None if lost else corrupt_file_error(exc)
        results.error = (str(lost.problems[0].message) if lost else str(named.problems[0]) if named
                         else f"{type(exc).__name__}: {exc}")
        if lost or named:
            raise (lost or named) from None
        raise
    finally:  # the final word is written whole, even under a second Ctrl-C
        with stops.shield():
            results.status, results.epochs_completed, results.best_epoch = status, len(rows), best.best_epoch
            results.wall_seconds = round(wall_before + time.perf_counter() - started, 2)
            results.best = {config.monitor: best.best} if best.best is not None else None
            results.halvings, results.finished, results.pid = guard.halvings, _now(), None
            results.peak_rss_mb = round(peak_host_memory_mb(), 1)
            if rows:
                results.images_per_second = round(statistics.median(float(r["images_per_second"]) for r in rows), 1)
            results.diverged_at = guard.diverged
            rec.results(results)
            guardian.stop(watcher)
            rec.close()
    return Run(rec.path, results)


def _shared_state(rec: FolderRecorder, s: _Session, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every worker of a cluster starts from the chief's checkpoint: it sends the file, the others load it.

    On one machine this is the state as loaded. A cluster's other workers need neither a shared disk nor
    the run folder: a restarted job continues from whatever epoch the chief's checkpoint holds.
    """
    if s.placement.workers == 1:
        return state
    from cnnctl.training.checkpoint import load_checkpoint

    mine = (rec.path / files.CHECKPOINT).read_bytes() if rec.chief and state is not None else None
    received = distribute.broadcast_from_chief(s.placement, mine)
    if rec.chief or not received:
        return state
    (rec.path / files.CHECKPOINT).write_bytes(received)
    shared, arrays = load_checkpoint(rec.path, s.model, s.config.train.epochs)
    shared["arrays"] = arrays
    return shared


def _say_diverged(guard: Any, on_divergence: str, say: Say) -> None:
    d = guard.diverged
    when = f"step {d['step']}" if d["step"] else "end"
    hint = (f"after {len(guard.halvings)} halvings; try a much lower rate" if on_divergence == "halve"
            else "try a lower rate, or train.on_divergence: halve")
    say(f"diverged: loss {d['loss']:g} at epoch {d['epoch']}, {when}, learning rate {d['learning_rate']:g} ({hint})",
        "event")


def _test(rec: FolderRecorder, s: _Session, best: Any, last_epoch: int, say: Say
          ) -> tuple[dict[str, float], dict[str, float] | None]:
    """The final model and the best one (best.keras, if it is another epoch's) on the test split.

    A run's last epoch is not always its best: both are scored and printed, the best one with its epoch.
    The final model's predictions also give the per-class evaluation (evaluation.json).
    """
    from cnnctl.training.callbacks import float32_value
    from cnnctl.training.evaluate import evaluation_record, pixels
    from cnnctl.training.per_class import confident_mistakes

    data = eval_dataset(s.data.test, s.config.train.batch_size, s.data.prepare, s.encode)

    def score() -> dict[str, float]:
        return {k: float32_value(v) for k, v in s.model.evaluate(data, verbose=0, return_dict=True).items()}

    def line(scores: dict[str, float]) -> str:
        return "  ".join(f"{k} {v:.4f}" for k, v in scores.items())

    final = score()
    say(f"test, final model (epoch {last_epoch}): {line(final)}", "result")
    probabilities = s.model.predict(data, verbose=0)
    names = s.data.report.get("class_names") or [str(c) for c in range(s.data.classes)]
    record = evaluation_record(files.MODEL, final, s.data.test.y, probabilities, names)
    wrong = confident_mistakes(s.data.test.y, probabilities, MISTAKES)
    rec.evaluation(record, wrong, pixels(s.data.test.x, [m["index"] for m in wrong]))
    best_scores = None
    best_file = rec.path / files.BEST
    # Across workers, testing best.keras is left to `cnnctl evaluate --best`: after a restart only the chief
    # has it, and a test is a collective every worker must run with the same weights.
    if best.best_epoch is not None and best_file.is_file() and s.placement.workers == 1:
        if best.best_epoch != last_epoch:
            s.model.load_weights(best_file)
        best_scores = score() if best.best_epoch != last_epoch else final
        say(f"test, best model (epoch {best.best_epoch}, {best.monitor} {best.best:.4f}): {line(best_scores)}",
            "result")
    return final, best_scores


class _StopRequests:
    """Ctrl-C and SIGTERM, by phase of a run.

    During set-up (before the first step) a stop request stops at once. During training the first asks
    training to stop after the current step, and a second stops at once. While finishing (every epoch
    done: saving and testing the model) the first is answered with what is left to do, and a second
    stops at once. "At once" waits for a write inside `shield()` (a checkpoint, metrics row, the run's
    config or results) to finish, so the folder can always be resumed.
    """

    POLITE = {"training": "stopping after this step (Ctrl-C again to stop at once)",
              "finishing": "every epoch is done: saving and testing the model first (Ctrl-C again to stop "
                           "now; `cnnctl resume` finishes it later)"}

    def __init__(self, say: Say):
        self.say, self.event, self.depth, self.pending, self.phase = say, threading.Event(), 0, False, "setup"

    def begin(self, phase: str) -> None:
        self.phase = phase
        if phase == "finishing" and self.event.is_set():  # asked during the last steps: say what happens now
            self.say(self.POLITE[phase], "event")

    def requested(self) -> bool:
        return self.phase == "training" and self.event.is_set()

    def handle(self, signum: int, frame: Any) -> None:
        if not self.event.is_set() and self.phase in self.POLITE:
            self.event.set()
            self.say(self.POLITE[self.phase], "event")
        elif self.depth:
            self.pending = True
        else:
            self.event.set()
            raise KeyboardInterrupt

    @contextmanager
    def shield(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0 and self.pending:
            self.pending = False
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Signal handlers for the length of a run (only the main thread can have them)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    from cnnctl.training.progress import epoch_line

    return epoch_line(row, epochs)
