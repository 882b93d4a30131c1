"""The layer table as a person reads it: `cnnctl summary` prints it, and every run folder keeps it
as summary.txt, so it lives beside the facts it lays out rather than with the command line's renderer."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnnctl.errors import human_bytes
from cnnctl.model.summary import Summary


def shape_text(shape: tuple) -> str:
    return "×".join("?" if n is None else str(n) for n in shape)


def summary_table(summary: Summary, explain: bool = False) -> Table:
    """The layer table: name, type, output shape, parameters, weights per filter (and the arithmetic)."""
    graph = any(row.inputs != ((prev.name,) if prev else ("input",))
                for prev, row in zip((None, *summary.layers[:-1]), summary.layers))
    table = Table(title=f"{summary.name}: input {shape_text(summary.input_shape)} ({summary.data_format})",
                  title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("Layer")
    table.add_column("Type")
    if graph:
        table.add_column("Inputs")
    table.add_column("Output shape", justify="right")
    table.add_column("Params", justify="right")
    table.add_column("Per filter", justify="right")
    if explain:
        table.add_column("Output size")
    for i, row in enumerate(summary.layers, 1):
        cells = [str(i), row.name, row.type]
        if graph:
            cells.append(", ".join(row.inputs))
        cells += [shape_text(row.output_shape), f"{row.params:,}",
                  "" if row.weights_per_filter is None else f"{row.weights_per_filter:,}"]
        if explain:
            cells.append(escape(row.arithmetic or ""))  # text, not rich markup: "[...]" would vanish
        table.add_row(*cells)
    return table


def summary_totals(summary: Summary) -> str:
    return (f"Total params: {summary.total_params:,} ({human_bytes(summary.size_bytes)})   "
            f"Trainable: {summary.trainable_params:,}   Non-trainable: {summary.non_trainable_params:,}")


def print_summary(console: Console, summary: Summary, explain: bool = False) -> None:
    console.print(summary_table(summary, explain))
    console.print(summary_totals(summary), highlight=False)


def summary_text(summary: Summary) -> str:
    """The table and totals as plain text, as summary.txt holds them."""
    buffer = StringIO()
    print_summary(Console(file=buffer, width=200, color_system=None), summary, explain=True)
    return buffer.getvalue()
