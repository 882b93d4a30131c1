"""How results look to a person: rich tables and one-line messages. No logic beyond layout."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # types only: `runs` and `compare` draw tables without loading the config and model code
    from cnnctl.look.grid import Grid


def console(stderr: bool = False) -> Console:
    """A console that wraps to the terminal, but not at 80 columns in logs and pipes."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 200)


def bench_table(name: str, rows: list) -> Table:
    """One row per batch size: training's steps per execution, speed (and inference speed), peak memory."""
    first = rows[0]
    timed = sorted({row.steps for row in rows})
    steps = str(timed[0]) if len(timed) == 1 else f"{timed[0]}–{timed[-1]}"
    table = Table(title=f"{name}: {first.device}, {first.precision}, {steps} timed steps", title_justify="left")
    for column in ("Batch", "Steps/exec", "ms/step", "images/s"):
        table.add_column(column, justify="right")
    inference = first.inference_ms_per_batch is not None
    if inference:
        table.add_column("inference ms/batch", justify="right")
        table.add_column("inference images/s", justify="right")
    table.add_column("Peak memory", justify="right")
    for row in rows:
        cells = [str(row.batch_size), str(row.steps_per_execution), f"{row.ms_per_step:.2f}",
                 f"{row.images_per_second:,.0f}"]
        if inference:
            cells += [f"{row.inference_ms_per_batch:.2f}", f"{row.inference_images_per_second:,.0f}"]
        table.add_row(*cells, f"{row.peak_memory_mb:,.0f} MiB")
    return table


def metrics_line(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def per_class_table(record: dict) -> Table:
    """Precision, recall, F1 and support per class, then the macro and weighted averages."""
    table = Table(title=f"per class ({record['model']}, {record['macro']['support']:,} test images)",
                  title_justify="left")
    table.add_column("Class")
    for column in ("Precision", "Recall", "F1", "Support"):
        table.add_column(column, justify="right")
    for row in record["per_class"]:
        table.add_row(escape(row["class"]), f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}",
                      f"{row['support']:,}")
    table.add_section()
    for average in ("macro", "weighted"):
        values = record[average]
        table.add_row(f"{average} average", f"{values['precision']:.4f}", f"{values['recall']:.4f}",
                      f"{values['f1']:.4f}", f"{values['support']:,}", style="bold")
    return table


def confusion_table(record: dict, rates: list[list[float]] | None = None) -> Table:
    """The confusion matrix, true classes down and predicted across: counts, or each row's rates."""
    names = record["classes"]
    kind = "rates of each true class" if rates else "counts"
    table = Table(title=f"confusion matrix ({kind}; rows: true class, columns: predicted)", title_justify="left")
    table.add_column("true \\ predicted")
    for name in names:
        table.add_column(escape(name), justify="right")
    for t, name in enumerate(names):
        cells = [f"{v:.2f}" for v in rates[t]] if rates else [f"{v:,}" for v in record["confusion"][t]]
        table.add_row(escape(name), *[f"[bold]{c}[/bold]" if p == t else c for p, c in enumerate(cells)])
    return table


def confused_pairs(record: dict) -> str:
    """The most-confused pairs, largest first, one line."""
    pairs = record["most_confused"]
    if not pairs:
        return "most confused: none (no mistakes)"
    return "most confused: " + "; ".join(f"{p['true']} → {p['predicted']} {p['count']:,} ({p['rate']:.1%})"
                                         for p in pairs)


def grid_table(grid: Grid) -> Table:
    """A `cnnctl.look` table for a terminal: its marked cells bold."""
    table = Table(title=escape(grid.title), title_justify="left")
    for i, header in enumerate(grid.headers):
        table.add_column(escape(header), justify="right" if i in grid.right else "left")
    for r, row in enumerate(grid.rows):
        table.add_row(*[f"[bold]{escape(cell)}[/bold]" if (r, i) in grid.marked else escape(cell)
                        for i, cell in enumerate(row)])
    return table


def markdown_table(grid: Grid) -> str:
    """A `cnnctl.look` table as GitHub Markdown, its columns padded to line up in the text too."""
    def cell(text: str, marked: bool) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if marked and text else text

    headers = [cell(text, False) for text in grid.headers]
    rows = [[cell(text, (r, i) in grid.marked) for i, text in enumerate(row)] for r, row in enumerate(grid.rows)]
    widths = [max(3, *(len(row[i]) for row in [headers, *rows])) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in grid.right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "| " + " | ".join("-" * (w - 1) + ":" if i in grid.right else "-" * w for i, w in enumerate(widths)) + " |"
    return "\n".join([line(headers), rule, *map(line, rows)])


def print_blocks(console: Console, blocks: list[Grid | str], markdown: bool = False) -> None:
    """Tables and lines in order: drawn for a terminal, or as Markdown (each table's title a paragraph)."""
    for n, block in enumerate(blocks):
        if markdown:
            text = block if isinstance(block, str) else f"{block.title}\n\n{markdown_table(block)}"
            console.out(("\n" if n else "") + text, highlight=False)
        else:
            console.print(escape(block) if isinstance(block, str) else grid_table(block), highlight=False)
