"""`train(config)`: data, model, fit, evaluate, and a run folder that says what happened.

The order matters: everything a user can get wrong (config, data, shapes,
device) is checked before the run folder is claimed, so a mistake leaves
nothing behind; from then on the folder always ends with a results.json
whose status is completed, diverged, interrupted or failed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cnnctl import keras_catalog
from cnnctl.config import Config
from cnnctl.data.pipeline import eval_dataset, label_encoder, train_dataset
from cnnctl.data.prepare import check_labels, load_data
from cnnctl.model.build import build_model, internal_input_shape
from cnnctl.model.summary import summarize_model
from cnnctl.runs import RunFolder, environment
from cnnctl.training.compile import compile_model, instantiate, select_device, set_precision


@dataclass(frozen=True)
class Run:
    path: Path
    results: dict[str, Any]


def train(config: Config, runs_dir: str | Path = "runs", name: str | None = None, device: str = "auto",
          say: Callable[[str, str], None] = lambda line, kind: print(line), progress: Any = None) -> Run:
    """Train `config` and write `runs_dir/<name>/`; return the folder and its results.

    `say(line, kind)` receives each line to show, kind being `info` (set-up),
    `epoch`, `event` (divergence, halving) or `result`; `progress`, if given, is a
    factory `(epochs, steps, batch_size) -> keras Callback` for a live display.
    """
    keras = keras_catalog.keras()
    device_name = select_device(device)
    policy = set_precision(config.train.precision, device_name)
    if policy != "float32":
        say(f"precision: {policy} (16-bit compute, float32 weights)", "event")
    shape = internal_input_shape(config)
    data = load_data(config, shape)
    model = build_model(config)
    units = int(model.output.shape[-1])
    check_labels(data, units, config)
    compile_model(model, config)
    encode = label_encoder(config.loss.name, units)
    t = config.train
    train_data, steps = train_dataset(data.train, t.batch_size, t.seed, 0, t.epochs, data.scale, encode)
    val_data = eval_dataset(data.validation, t.batch_size, data.scale, encode) if data.validation else None
    say(f"data: {data.report['train']} train, {data.report['validation']} validation, {data.report['test']} test "
        f"images of {'×'.join(map(str, data.report['image_shape']))}, {data.classes} classes; device {device_name}", "info")

    run = RunFolder.claim(runs_dir, name or config.name)
    summary = summarize_model(model, config)
    run.write_config(config.resolved())
    run.write_json("summary.json", summary.to_dict())
    run.write_text("summary.txt", _summary_text(summary))
    results: dict[str, Any] = {
        "name": run.path.name, "status": "running", "config": config.source,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": device_name, "precision": policy, "monitor": config.monitor, "steps_per_epoch": steps,
        "data": data.report, "environment": environment(config.source),
    }
    run.write_json("results.json", results)
    say(f"run folder: {run.path}", "info")

    from cnnctl.training.callbacks import BestCheckpoint, DivergenceGuard, EpochLog

    rows: list[dict[str, Any]] = []

    def log_epoch(row: dict[str, Any]) -> None:
        rows.append(row)
        run.append_metrics(row)
        say(_epoch_line(row, t.epochs), "epoch")

    best = BestCheckpoint(config.monitor, lambda m: run.save_model(m, "best.keras"))
    guard = DivergenceGuard(t.on_divergence == "halve", lambda line: say(line, "event"))
    # The guard comes after the log and the checkpoint: an epoch it undoes is still recorded as it ran.
    callbacks = [EpochLog(len(data.train), log_epoch), best, guard]
    if config.lr_schedule is not None and config.lr_schedule.kind == "callbacks":
        callbacks.append(instantiate(config.lr_schedule.__class__(
            "callbacks", config.lr_schedule.name, {"monitor": config.monitor, **config.lr_schedule.args})))
    if t.early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(**{"monitor": config.monitor, **t.early_stopping}))
    if progress is not None:  # first, so the bar is gone before the epoch's line is printed
        callbacks.insert(0, progress(t.epochs, steps, t.batch_size))

    started = time.perf_counter()
    try:
        model.fit(train_data, epochs=t.epochs, steps_per_epoch=steps, validation_data=val_data,
                  callbacks=callbacks, verbose=0, shuffle=False)  # order comes from (seed, epoch)
        status = "diverged" if guard.diverged else "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException as exc:
        status = "failed"
        results["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        results.update(status=status, wall_seconds=round(time.perf_counter() - started, 2),
                       epochs_completed=len(rows), best_epoch=best.best_epoch,
                       best={config.monitor: best.best} if best.best is not None else None,
                       halvings=guard.halvings,
                       finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if rows:
            results["images_per_second"] = statistics.median(r["images_per_second"] for r in rows)
        if status != "completed":
            results["diverged_at"] = guard.diverged
            run.write_json("results.json", results)
    if guard.diverged:
        d = guard.diverged
        say(f"diverged: loss {d['loss']:g} at epoch {d['epoch']}, step {d['step']}, learning rate "
            f"{d['learning_rate']:g} (try a lower rate, or train.on_divergence: halve)", "event")
    run.save_model(model, "model.keras")
    if status == "completed":
        test = model.evaluate(eval_dataset(data.test, t.batch_size, data.scale, encode), verbose=0,
                              return_dict=True)
        results["test"] = {k: float(v) for k, v in test.items()}
        say("test: " + "  ".join(f"{k} {v:.4f}" for k, v in results["test"].items()), "result")
    run.write_json("results.json", results)
    return Run(run.path, results)


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    from cnnctl.training.progress import epoch_line

    return epoch_line(row, epochs)


def _summary_text(summary: Any) -> str:
    from io import StringIO

    from rich.console import Console

    from cnnctl.render import print_summary

    buffer = StringIO()
    print_summary(Console(file=buffer, width=200, color_system=None), summary, explain=True)
    return buffer.getvalue()
