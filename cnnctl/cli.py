"""The `cnnctl` command: parse arguments, call the library, print. No logic of its own.

Heavy modules (Keras, TensorFlow) are imported inside the commands, so
`cnnctl --help` and `cnnctl --version` stay instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from cnnctl import __version__
from cnnctl.errors import CnnctlError

SET_HELP = "Override a config value by dotted key path, typed as YAML (repeatable): --set train.epochs=1"


class Group(click.Group):
    """Turns user mistakes into one line each and exit code 2; `--debug` shows tracebacks."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CnnctlError as exc:
            if ctx.meta.get("debug"):
                raise
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="cnnctl")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Build, inspect and train Keras CNNs from YAML configs."""
    ctx.meta["debug"] = debug
    if debug:
        os.environ["CNNCTL_DEBUG"] = "1"


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
    from cnnctl.render import console, print_summary

    print_summary(console(), facts, explain)


@main.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def validate(configs: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check configs without training: every problem in every file, then exit 0 or 2."""
    from cnnctl.config import load_config
    from cnnctl.model import build_model

    failed = 0
    for path in configs:
        try:
            model = build_model(load_config(path, overrides))
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
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the schema to this file instead of printing it.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the config format (for editor completion and checks)."""
    from cnnctl.schema import schema_text

    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    from cnnctl.runfiles import write_atomic

    write_atomic(Path(output), text)
    click.echo(f"wrote {output}", err=True)
