"""The `cnnctl` command: parse arguments, call the library, print. No logic of its own.

Heavy modules (Keras, TensorFlow) are imported inside the commands, so
`cnnctl --help` and `cnnctl --version` stay instant.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from cnnctl import __version__
from cnnctl.errors import CnnctlError, plural

SET_HELP = "Override a config value by dotted key path, typed as YAML (repeatable): --set train.epochs=1"


def _debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`--debug`, before the command or after it: the group reads `ctx.meta`, shared by both contexts."""
    if value:
        ctx.meta["debug"] = True
        os.environ["CNNCTL_DEBUG"] = "1"  # before Keras is imported: keep TensorFlow's start-up messages


def debug_option() -> click.Option:
    return click.Option(["--debug"], is_flag=True, expose_value=False, is_eager=True, callback=_debug,
                        help="Show full tracebacks.")


class Command(click.Command):
    """A subcommand: takes `--debug` after its name too, and shows its whole first paragraph in `cnnctl --help`.

    Click cuts a command's help to 45 characters and "..." in the group's list; a description cut
    mid-phrase says less than one that wraps.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(debug_option())

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return self.short_help
        return " ".join(inspect.cleandoc(self.help or "").split("\n\n")[0].split())


class Group(click.Group):
    """Turns user mistakes into one line each and exit code 2; `--debug` shows tracebacks."""

    command_class = Command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CnnctlError as exc:
            if ctx.meta.get("debug"):
                raise
            if exc.details:
                click.echo(exc.details.rstrip("\n"), err=True)
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            import signal

            for sig in (signal.SIGINT, signal.SIGTERM):  # on the way out: a late second Ctrl-C must not
                signal.signal(sig, signal.SIG_IGN)        # turn a clean exit into a traceback
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception:
            if ctx.meta.get("debug"):
                raise
            import traceback

            traceback.print_exc()
            click.echo("error: this is a bug in cnnctl, not in your config: please report it with the command, "
                       "the config and the traceback above", err=True)
            ctx.exit(1)


@click.group(cls=Group, params=[debug_option()],
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(__version__, "-V", "--version", prog_name="cnnctl")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Import MODULE and offer its Keras Layer subclasses to configs (repeatable).")
def main(plugins: tuple[str, ...]) -> None:
    """Build, inspect and train Keras CNNs from YAML configs."""
    if plugins:
        from cnnctl.keras_catalog import load_plugin

        sys.path.insert(0, os.getcwd())  # a my_layers.py beside the user's configs
        for module in plugins:
            load_plugin(module)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.option("--explain", is_flag=True, help="Show the output-size arithmetic of each window.")
def summary(config: str, overrides: tuple[str, ...], as_json: bool, explain: bool) -> None:
    """Layer by layer output shapes and parameter counts, without training."""
    from cnnctl.config import load_config
    from cnnctl.model import summarize

    facts = summarize(load_config(config, overrides))
    if as_json:
        click.echo(json.dumps(facts.to_dict(), indent=2))
        return
    from cnnctl.model.summary_table import print_summary
    from cnnctl.render import console

    print_summary(console(), facts, explain)


@main.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def validate(configs: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check configs without training: every problem in every file, then exit 0 or 2."""
    from cnnctl.check import check_config

    failed = 0
    for path in configs:
        try:
            _, model = check_config(path, overrides)
        except CnnctlError as exc:
            failed += 1
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            continue
        click.echo(f"ok: {path} ({model.count_params():,} parameters)")
    if failed:
        click.echo(f"{failed} of {len(configs)} config(s) invalid", err=True)
        sys.exit(2)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--name", help="Run folder name (default: the config's name, else its file stem).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Where run folders go.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True,
              help="auto: a GPU when TensorFlow sees one.")
@click.option("--quiet", "-q", is_flag=True, help="No live display or set-up lines: one line per epoch (CI logs).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Look for built-in datasets here first (the same as --set data.data_dir=DIR).")
@click.option("--tensorboard", is_flag=True,
              help="Write TensorBoard event files into the run folder (the same as --set train.tensorboard=true).")
@click.option("--workers", metavar="HOST:PORT,...",
              help="The cluster for train.distribution multi_worker, the same list on every worker (instead of "
                   "TF_CONFIG).")
@click.option("--task-index", type=click.IntRange(0), metavar="N",
              help="This worker's place in --workers; 0 is the chief, which writes the run folder.")
def train(config: str, overrides: tuple[str, ...], name: str | None, runs_dir: str, device: str,
          quiet: bool, data_dir: str | None, tensorboard: bool, workers: str | None, task_index: int | None) -> None:
    """Train a config and write runs/<name>/: config, summary, metrics, models, results."""
    from cnnctl.config import load_config
    from cnnctl.training import train as run_training

    if data_dir is not None:
        overrides += (f"data.data_dir={json.dumps(data_dir)}",)  # JSON quoting is valid YAML
    if tensorboard:
        overrides += ("train.tensorboard=true",)
    _start_strategy(config, overrides, device, workers, task_index)
    loaded = load_config(config, overrides)
    if loaded.search is not None:
        click.echo(f"training the config as written; its search: is for `cnnctl tune {config}`")
    run = run_training(loaded, runs_dir=runs_dir, name=name, device=device, **_reporting(quiet))
    if run.results.status != "completed":
        sys.exit(3)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change the run's config.yaml before going on (repeatable): train.epochs (more epochs also "
                   "continue a completed run), train.early_stopping, train.on_divergence, train.execution, "
                   "train.tensorboard, train.distribution, data.data_dir.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No live display or set-up lines: one line per epoch.")
@click.option("--workers", metavar="HOST:PORT,...", help="The cluster of a multi_worker run (instead of TF_CONFIG).")
@click.option("--task-index", type=click.IntRange(0), metavar="N",
              help="This worker's place in --workers; 0 is the chief.")
def resume(run: str, overrides: tuple[str, ...], device: str, quiet: bool, workers: str | None,
           task_index: int | None) -> None:
    """Continue an interrupted or killed run from its last completed epoch, or a completed one with more epochs."""
    from cnnctl.training import resume as resume_run

    _start_strategy(os.path.join(run, "config.yaml"), overrides, device, workers, task_index)
    result = resume_run(run, device=device, overrides=overrides, **_reporting(quiet))
    if result.results.status != "completed":
        sys.exit(3)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--trials", type=click.IntRange(1), metavar="N", help="Finished trials the study ends with "
              "(default: search.trials).")
@click.option("--storage", metavar="URL", help="An Optuna database URL shared by every worker, e.g. "
              "postgresql://user:pass@host/db (default: sqlite in the study folder).")
@click.option("--study", "study_name", metavar="NAME", help="Study name and folder (default: search.study, "
              "else the config's name).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="The study folder goes here: RUNS_DIR/<study>/.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No live table: one line per trial (CI logs).")
def tune(config: str, trials: int | None, storage: str | None, study_name: str | None, overrides: tuple[str, ...],
         runs_dir: str, device: str, quiet: bool) -> None:
    """Search the config's search: space with Optuna, one run folder per trial; write best.yaml.

    Run it again to continue the study (an interrupted trial resumes from its checkpoint). Several
    processes or machines with the same --storage share one study's trials.
    """
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise CnnctlError('cnnctl tune needs Optuna: pip install "cnnctl[tune]"') from None
    from cnnctl.tune.report import TuneDisplay
    from cnnctl.tune.study import tune as run_study
    from cnnctl.tune.summary import write_summary

    display = TuneDisplay(quiet)
    with display:
        outcome = run_study(config, overrides, trials, storage, study_name, runs_dir, device, display.say,
                            display.update)
    display.finish(outcome, write_summary(outcome))


def _start_strategy(config: str, overrides: tuple[str, ...], device: str, workers: str | None,
                    task_index: int | None) -> None:
    """Make train.distribution's strategy before the config is validated: validation starts TensorFlow,
    after which neither logical devices nor a cluster's collectives can be set up. `--workers` and
    `--task-index` become TF_CONFIG first."""
    from cnnctl.config.load import peek_distribution
    from cnnctl.training.distribute import start, write_tf_config

    distribution = peek_distribution(config, overrides)
    if workers is not None or task_index is not None:
        from cnnctl.errors import CnnctlError, Problem

        if workers is None or task_index is None:
            raise CnnctlError(Problem(f"{'--workers' if workers is None else '--task-index'} is missing",
                                      hint="a worker needs both: --workers host:port,... --task-index N"))
        if distribution is not None and distribution[0] != "multi_worker":
            raise CnnctlError(Problem("--workers: train.distribution is not multi_worker", config,
                                      hint="add --set train.distribution=multi_worker"))
        write_tf_config(workers, task_index)
    if distribution is not None and distribution[0] != "none":
        start(distribution, device)


def _reporting(quiet: bool) -> dict:
    """`say` and `progress` for train and resume: a live bar in a terminal, plain lines elsewhere."""
    from cnnctl.render import console

    out = console()

    def say(line: str, kind: str) -> None:
        if not quiet:
            out.print(line, highlight=False)
        elif kind != "info":
            click.echo(line)

    progress = None
    if not quiet and out.is_terminal:
        from cnnctl.training.progress import LiveProgress

        def progress(epochs: int, steps: int, batch_size: int):
            return LiveProgress(out, epochs, steps, batch_size)

    return {"say": say, "progress": progress}


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", "data", multiple=True, metavar="KEY=VALUE",
              help="Test on another data section (repeatable), keys of data: --data source=idx --data path=DIR.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Test on other data (repeatable): data.* keys, train.batch_size; e.g. --set data.limit=1000.")
@click.option("--best", is_flag=True, help="Evaluate best.keras instead of model.keras.")
@click.option("--normalize", is_flag=True, help="Show the confusion matrix as rates of each true class.")
@click.option("--errors", "mistakes", type=click.IntRange(1), metavar="N",
              help="Save the N most confident mistakes: a contact sheet (errors.png) and errors.csv.")
@click.option("--errors-dir", type=click.Path(file_okay=False), metavar="DIR", default=".",
              help="Where --errors writes (default: the current folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
def evaluate(run: str, data: tuple[str, ...], overrides: tuple[str, ...], best: bool, normalize: bool,
             mistakes: int | None, errors_dir: str, as_json: bool) -> None:
    """Test a run's saved model: metrics, per-class precision, recall and F1, the confusion matrix.

    On its own test split, or with --data/--set on other data; nothing in the run folder changes.
    """
    from cnnctl.runfolder import files
    from cnnctl.training.evaluate import evaluate_run

    model = files.BEST if best else files.MODEL
    found = evaluate_run(run, model, overrides + tuple(f"data.{item}" for item in data), mistakes or 0)
    record = found.record
    written = []
    if mistakes:
        from cnnctl.runfolder.mistakes import write_mistakes

        written = write_mistakes(Path(errors_dir), Path(run).name, record, found.mistakes, found.images)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    from cnnctl.render import confused_pairs, confusion_table, console, metrics_line, per_class_table
    from cnnctl.training.per_class import normalized

    out = console()
    out.print(f"test: {metrics_line(record['metrics'])}", highlight=False)
    out.print(per_class_table(record))
    out.print(confusion_table(record, normalized(record["confusion"]) if normalize else None))
    out.print(confused_pairs(record), highlight=False)
    for path in written:
        out.print(f"wrote {path}", highlight=False)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--best", is_flag=True, help="Use best.keras instead of model.keras.")
@click.option("--model", "exported", type=click.Path(exists=True), metavar="FILE",
              help="Run an exported file instead (.tflite, .onnx, a SavedModel folder), to check an export.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1), help="Classes shown per image.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the predictions as CSV: input, rank, class, index, "
                                                     "probability.")
def predict(run: str, inputs: tuple[str, ...], best: bool, exported: str | None, top: int, as_json: bool,
            as_csv: bool) -> None:
    """Predict the classes of your own images with a run's model: image files, folders, globs, .npy or IDX arrays.

    Images are converted to the model input's size and channels (each conversion is noted); pixels go in
    as stored, 0-255: the run's scaling and standardization are inside the model. A file that cannot be read
    is named on its own line, the others are still predicted, and the exit code is then 2.
    """
    from cnnctl.runfolder import files
    from cnnctl.use.predict import predict as run_predict

    found, problems = run_predict(run, list(inputs), files.BEST if best else files.MODEL, top, exported)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in found], indent=2))
    elif as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["input", "rank", "class", "index", "probability"])
        for p in found:
            for rank, t in enumerate(p.top, 1):
                writer.writerow([p.input, rank, t["class"], t["index"], f"{t['probability']:.6f}"])
    else:
        for p in found:
            guesses = ", ".join(f"{t['class']} {t['probability']:.4f}" for t in p.top)
            click.echo(f"{p.input}: {guesses}" + (f"  ({p.note})" if p.note else ""))
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} of {len(found) + len(problems)} inputs could not be read", err=True)
        sys.exit(2)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), metavar="FILE",
              help="Where the PNG goes (default: the run's own curves.png and confusion.png; for several runs, "
                   "curves.png here).")
def plot(runs: tuple[str, ...], output: str | None) -> None:
    """Draw learning curves and the learning rate per epoch (PNG): one run, or several overlaid on one figure.

    For one run, also its test confusion matrix. Training draws the same into every run folder.
    """
    from cnnctl.runfolder.plots import plot_runs

    for path in plot_runs([Path(r) for r in runs], Path(output) if output else None):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--steps", default=50, show_default=True, type=click.IntRange(1),
              help="Timed steps per batch size (rounded up to whole executions).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(1),
              help="Untimed steps first (rounded up to whole executions).")
@click.option("--batch-size", "batch_sizes", multiple=True, type=click.IntRange(1),
              help="Batch size to time (repeatable; default: the config's).")
@click.option("--inference", is_flag=True, help="Also time forward passes.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def bench(config: str, overrides: tuple[str, ...], steps: int, warmup: int, batch_sizes: tuple[int, ...],
          inference: bool, device: str, as_json: bool) -> None:
    """Time training steps of the config's model on synthetic input: images/s, ms/step, peak memory.

    Steps run as training would run them at each batch size (its steps_per_execution, from the config's
    training-set size); each batch size runs in a fresh process, so its peak memory is its own.
    """
    from cnnctl.bench import bench as run_bench
    from cnnctl.config import load_config

    cfg = load_config(config, overrides)
    rows = run_bench(cfg, list(batch_sizes) or [cfg.train.batch_size], steps, warmup, inference, device)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    from cnnctl.render import bench_table, console

    console().print(bench_table(cfg.name, rows))


@main.command(name="import")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), metavar="FILE",
              help="Where the config goes (default: SOURCE's name with .yaml, in the current folder).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def import_(source: str, output: str | None, force: bool) -> None:
    """Write a config from a Keras script (.py, read without running it) or a saved model (.keras, its
    architecture only).

    Prints one line per translation (Keras 1 and 2 names to Keras 3's). What cannot be translated is listed
    with its line and marked `# TODO` in the config, which is still written; the exit code is then 5.
    """
    from cnnctl.importing import import_model
    from cnnctl.importing.imported import INCOMPLETE_EXIT

    target = Path(output) if output else Path(Path(source).stem + ".yaml")
    imported = import_model(Path(source), target, force)
    for line in imported.translations:
        click.echo(line)
    click.echo(f"wrote {target}")
    todos = imported.all_todos
    for todo in todos:
        click.echo(f"todo: {source}: {todo}", err=True)
    if todos:
        click.echo(f"incomplete: {len(todos)} thing(s) not translated, marked # TODO in {target}", err=True)
        sys.exit(INCOMPLETE_EXIT)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the schema to this file instead of printing it.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the config format (for editor completion and checks)."""
    from cnnctl.schema import schema_text

    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    from cnnctl.runfolder.atomic import write_atomic

    write_atomic(Path(output), text)
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write the page here (default: report.html in the run folder; for several runs, in the "
                   "current folder).")
def report(runs: tuple[str, ...], output: str | None) -> None:
    """Write one self-contained HTML page of runs: curves, per-class table, confusion matrix, mistakes, config.

    Pictures are inlined and nothing is fetched, so the file can be opened from a CI artifact or attached
    to a pull request. Several runs also get a table side by side and their curves overlaid.
    """
    from cnnctl.look.report import default_output, write_report

    folders = [Path(run) for run in runs]
    click.echo(f"wrote {write_report(folders, Path(output) if output else default_output(folders))}")


@main.command()
@click.argument("runs_dir", default="runs", type=click.Path(file_okay=False))
@click.option("--status", "statuses", multiple=True,  # choices spelt here, not imported: --help stays instant
              type=click.Choice(["running", "completed", "diverged", "interrupted", "failed", "damaged"],
                                case_sensitive=False),
              help="Only runs with this status (repeatable).")
@click.option("--name", "name", metavar="GLOB", help="Only runs whose folder name matches, e.g. 'mnist-*'.")
@click.option("--sort", "sort", default="date", show_default=True,
              type=click.Choice(["date", "name", "status", "epochs", "best", "test", "params", "wall"]),
              help="Newest first; names A to Z; epochs, parameters and wall time largest first; best and test "
                   "best first.")
@click.option("--reverse", is_flag=True, help="The other way round (runs without the value stay last).")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for a README).")
@click.option("--by-config", is_flag=True,
              help="One row per config: its completed runs that differ only in train.seed, the test metric's "
                   "mean ± std over them, the machine and the command that trains it again (with --json, "
                   "one object per config); --sort name orders the configs by path.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON, numbers as recorded.")
def runs(runs_dir: str, statuses: tuple[str, ...], name: str | None, sort: str, reverse: bool, markdown: bool,
         by_config: bool, as_json: bool) -> None:
    """List the runs in RUNS_DIR (default: runs), newest first: status, epochs, best and test metrics, time.

    A run folder that cannot be read is listed as damaged, with a warning naming the file.
    """
    from cnnctl.look.runs_table import DAMAGED, runs_grid, scan, select, sort_rows

    found = scan(Path(runs_dir))
    rows = sort_rows(select(found, tuple(s.lower() for s in statuses), name), sort, reverse)
    for row in rows:
        if row.status == DAMAGED:
            click.echo(f"warning: {row.problem}", err=True)
    groups = None
    if by_config:
        from cnnctl.look.config_table import group, trained

        groups = group(trained(rows), by_path=sort == "name", reverse=reverse)
    if as_json:
        click.echo(json.dumps([item.to_dict() for item in (rows if groups is None else groups)], indent=2))
        return
    from cnnctl.runfolder import files

    studies = [p for p in sorted(Path(runs_dir).iterdir()) if (p / files.STUDY_RECORD).is_file()]
    if not rows:
        where = f"{Path(runs_dir)}/"
        click.echo(f"no runs in {where}" if not found else f"none of the {len(found)} runs in {where} match")
    for study in studies:  # `cnnctl tune`'s study folders hold their trials' runs
        click.echo(f"study {study.name}: its trials are listed by `cnnctl runs {study}`")
    if not rows:
        return
    from cnnctl.render import console, grid_table, markdown_table

    if groups == []:
        click.echo(f"no completed run among the {plural(len(rows), 'run')} listed: --by-config pools completed runs")
        return
    if groups is not None:
        from cnnctl.look.config_table import config_grid

        grid = config_grid(groups, Path(runs_dir))
    else:
        grid = runs_grid(rows, Path(runs_dir))
    if markdown:
        click.echo(markdown_table(grid))
    else:
        console().print(grid_table(grid))
    from cnnctl.look.study_table import study_grids

    for table in study_grids(Path(runs_dir)):  # a `cnnctl tune` study folder: its trials and importance
        click.echo(("\n" + markdown_table(table)) if markdown else "")
        if not markdown:
            console().print(grid_table(table))


@main.command()
@click.argument("run_dirs", nargs=-1, metavar="RUN RUN...", type=click.Path(file_okay=False))
@click.option("--markdown", is_flag=True, help="Print Markdown tables, the best values **bold**.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(run_dirs: tuple[str, ...], markdown: bool, as_json: bool) -> None:
    """Runs side by side: the config keys that differ, the metrics with the best of each row in bold.

    Runs whose configs differ only in train.seed are grouped and shown as mean ± std.
    """
    from cnnctl.look.compare import blocks, compare as compare_runs, to_dict

    comparison = compare_runs([Path(run) for run in run_dirs])
    if as_json:
        click.echo(json.dumps(to_dict(comparison), indent=2, default=str))
        return
    from cnnctl.render import console, print_blocks

    print_blocks(console(), blocks(comparison), markdown)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["saved_model", "tflite", "onnx"]), required=True,
              help="saved_model: a TensorFlow SavedModel folder; tflite: a LiteRT file; onnx: an ONNX file.")
@click.option("--best", is_flag=True, help="Export best.keras instead of model.keras.")
@click.option("--quantize", type=click.Choice(["int8"]),
              help="tflite only: int8 weights and activations, calibrated on the run's training images.")
@click.option("--min-agreement", type=click.FloatRange(0, 1), metavar="FRACTION",
              help="Test images on which the file must predict the Keras model's class "
                   "(default: 0.999; 0.98 with --quantize int8).")
@click.option("--json", "as_json", is_flag=True, help="Print the export's record as JSON.")
def export(run: str, fmt: str, best: bool, quantize: str | None, min_agreement: float | None,
           as_json: bool) -> None:
    """Export a run's model for serving, raw 0-255 pixels in, its preprocessing inside; proven before it is kept.

    The file is reloaded in its own runtime and must predict the Keras model's class on the run's test
    images; it goes to RUN/export/ with its record in RUN/export/export.json. Exit code 4 when it disagrees.
    """
    from cnnctl.runfolder import files
    from cnnctl.use.export import export_run

    done = export_run(run, fmt, files.BEST if best else files.MODEL, quantize, min_agreement)
    if as_json:
        click.echo(json.dumps(done.record, indent=2))
        return
    check = done.record["check"]
    click.echo(f"wrote {done.path} ({done.record['bytes']:,} bytes)")
    click.echo(f"checked in {check['runtime']} on {check['images']:,} test images: agreement "
               f"{check['agreement']:.4f} ({check['disagreements']} differ), largest probability difference "
               f"{check['max_abs_diff']:.2g}, test accuracy {check['test_accuracy']:.4f} (Keras "
               f"{check['keras_test_accuracy']:.4f}), {check['ms_per_image']:.3f} ms/image (Keras "
               f"{check['keras_ms_per_image']:.3f})")
