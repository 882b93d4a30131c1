"""`cnnctl report RUN...`: one self-contained HTML page of one or more runs, to open from a CI artifact
or attach to a pull request.

The page needs nothing but itself: pictures are inlined as `data:` URLs, the
style sheet is inline, there is no script and nothing is fetched, so it reads
the same wherever the file is copied. Each run shows its outcome, curves,
per-class table, confusion matrix, most confident mistakes, layer table and
resolved config. What a folder lacks (a diverged run was never tested, an
interrupted one may have no pictures) is said where it would have been, never
skipped in silence. Several runs also get a table side by side and their
curves overlaid.

Every value taken from a run folder is escaped: a class named `<b>` is text, not markup.
"""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from string import Template
from typing import Any, Callable, Sequence, TypeVar

from cnnctl import __version__
from cnnctl.errors import CnnctlError, plural
from cnnctl.runfolder import files
from cnnctl.runfolder.atomic import write_atomic
from cnnctl.runfolder.evaluation import read_evaluation
from cnnctl.runfolder.metrics import read_rows
from cnnctl.runfolder.results import Results, read_results

T = TypeVar("T")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ABSENT = "not in the run folder"
# Why a file may be absent, by the run's status; a completed run has all of them.
ABSENT_BECAUSE = {"diverged": "the run diverged and was not tested", "interrupted": "the run was interrupted",
                  "failed": "the run failed", "running": "the run has not finished"}
# metrics.csv columns that are not metrics, as the per-epoch table writes them.
COLUMN_FORMATS = {"epoch": "{:.0f}", "lr": "{:g}", "seconds": "{:.1f}", "images_per_second": "{:,.0f}"}


@dataclass
class Run:
    """What a run folder holds, read once. A file that is missing or damaged is a gap, not an error:
    the page says so where the file's part would be."""

    folder: Path
    results: Results
    name: str  # the run's name; its folder as given where runs of one report share a name
    rows: list[dict[str, float]] = field(default_factory=list)  # metrics.csv
    evaluation: dict[str, Any] | None = None
    mistakes: tuple[list[str], list[list[str]]] | None = None  # errors.csv: header, rows
    pictures: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG
    texts: dict[str, str] = field(default_factory=dict)  # config.yaml, summary.txt
    gaps: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong with it

    def lacks(self, name: str) -> str:
        """A sentence saying that the folder lacks `name` (or has it damaged), and why when its status says."""
        problem = self.gaps.get(name, ABSENT)
        because = ABSENT_BECAUSE.get(self.results.status) if problem == ABSENT else None
        return f"{name}: {problem}" + (f" ({because})" if because else "") + "."


def write_report(folders: Sequence[Path], output: Path) -> Path:
    """Read every run, then write the page whole (a temporary file renamed over `output`)."""
    write_atomic(output, report_html(read_runs(folders)))
    return output


def default_output(folders: Sequence[Path]) -> Path:
    """report.html in the run's folder, where its other files are; for several runs, in the current folder."""
    return folders[0] / files.REPORT if len(folders) == 1 else Path(files.REPORT)


def read_runs(folders: Sequence[Path]) -> list[Run]:
    """Every run, or every folder that is not one refused at once, one line each."""
    runs, problems = [], []
    for folder in folders:
        try:
            runs.append(read_run(folder))
        except CnnctlError as exc:
            problems += exc.problems
    if problems:
        raise CnnctlError(problems)
    names = Counter(run.name for run in runs)
    for run in runs:
        if names[run.name] > 1:  # a copied folder keeps its name, and two runs folders may hold a `smoke` each
            run.name = str(run.folder)
    return runs


def read_run(folder: Path) -> Run:
    """A run folder's files; a folder without a readable results.json is not a run and is refused."""
    results = read_results(folder)
    run = Run(folder, results, results.name or folder.name)

    def optional(name: str, read: Callable[[Path], T]) -> T | None:
        value, problem = _read_optional(folder / name, read)
        if problem:
            run.gaps[name] = problem
        return value

    run.rows = optional(files.METRICS, lambda path: read_rows(path)[1]) or []
    if not run.rows and files.METRICS not in run.gaps:
        run.gaps[files.METRICS] = "no epoch completed"
    run.evaluation = optional(files.EVALUATION, read_evaluation)
    run.mistakes = optional(files.ERRORS_TABLE, _read_table)
    for name in (files.CURVES, files.CONFUSION, files.ERRORS_SHEET):
        picture = optional(name, _read_png)
        if picture:
            run.pictures[name] = picture
    for name in (files.SUMMARY_TEXT, files.CONFIG):
        text = optional(name, lambda path: path.read_text(encoding="utf-8"))
        if text is not None:
            run.texts[name] = text
    return run


def _read_optional(path: Path, read: Callable[[Path], T]) -> tuple[T | None, str | None]:
    """`read(path)`, or None and what is wrong: the file is absent, or it is there but cannot be used."""
    if not path.is_file():
        return None, ABSENT
    try:
        return read(path), None
    except CnnctlError as exc:  # metrics.csv's own checks, in their words
        return None, exc.problems[0].message
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    except (ValueError, csv.Error) as exc:  # not UTF-8, not JSON or CSV, not the expected shape
        return None, f"damaged ({exc})"


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if not lines:
        raise ValueError("empty")
    return lines[0], lines[1:]


def _read_png(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG image")
    return data


# The page.

def report_html(runs: Sequence[Run]) -> str:
    """The whole page: for several runs, a table of them and their curves overlaid, then each run."""
    several = len(runs) > 1
    title = f"{len(runs)} runs" if several else runs[0].name
    parts = [f"<h1>{escape(title)}</h1>", _side_by_side(runs), _overlaid_curves(runs)] if several else []
    parts += [_run_section(run, f"run-{n}", "h2" if several else "h1") for n, run in enumerate(runs, 1)]
    return PAGE.substitute(title=escape(f"cnnctl report: {title}"), style=STYLE, body="\n".join(parts),
                           version=escape(__version__))


def _side_by_side(runs: Sequence[Run]) -> str:
    """One row per run: status, epochs, every test metric any run has, best epoch, wall time."""
    metrics = _union(run.results.test or {} for run in runs)
    header = ["Run", "Status", "Epochs", *(f"test {m}" for m in metrics), "Best epoch", "Wall time"]
    rows = []
    for n, run in enumerate(runs, 1):
        r = run.results
        test = r.test or {}
        rows.append([f'<a href="#run-{n}">{escape(run.name)}</a>', _status(r.status), _count(r.epochs_completed),
                     *(_metric(test.get(m)) for m in metrics), _count(r.best_epoch), escape(_duration(r.wall_seconds))])
    return f"<section><h2>Runs</h2>{_table(header, rows, numeric_from=2)}</section>"


def _overlaid_curves(runs: Sequence[Run]) -> str:
    drawn = [run for run in runs if run.rows]
    if not drawn:
        return f"<section><h2>Curves</h2>{note('No run has a metrics.csv to draw.')}</section>"
    picture = _draw_curves(drawn, f"{plural(len(drawn), 'run')}: training solid, validation dashed")
    return f"<section><h2>Curves</h2>{_image(picture, 'the curves of every run, overlaid')}</section>"


def _draw_curves(runs: Sequence[Run], title: str | None = None) -> bytes:
    """Curves drawn here, in memory, from metrics.csv (matplotlib is imported only when a report needs it)."""
    from cnnctl.runfolder.plots import Curves, curves_figure, png_bytes

    return png_bytes(curves_figure([Curves(run.name, run.rows, run.results.halvings) for run in runs], title))


def _run_section(run: Run, anchor: str, level: str) -> str:
    r = run.results
    heading = f"<{level}>{escape(run.name)} {_status(r.status)}</{level}>"
    parts = [heading, _headline(r), _facts(run), _test_table(r), _curves(run), _per_class(run), _confusion(run),
             _mistakes(run), _text(run, files.SUMMARY_TEXT, "Model"), _text(run, files.CONFIG, "Config")]
    return f'<section class="run" id="{anchor}">{"".join(parts)}</section>'


def _headline(r: Results) -> str:
    """The numbers a reader looks for first: the final model's test metrics, epochs and time."""
    cards = [(f"test {m}", _metric(v)) for m, v in (r.test or {}).items()] or [("test", "not tested")]
    cards += [("epochs", _count(r.epochs_completed)), ("wall time", escape(_duration(r.wall_seconds)))]
    return '<div class="headline">' + "".join(
        f'<div><span>{escape(label)}</span><b>{value}</b></div>' for label, value in cards) + "</div>"


def _facts(run: Run) -> str:
    r = run.results
    rows = [("Folder", str(run.folder)), ("Config", r.config),
            ("Time", " to ".join(t for t in (r.started, r.finished) if t)),
            ("Data", _data_line(r.data)),
            ("Model", f"{r.parameters:,} parameters" if r.parameters is not None else ""),
            ("Best epoch", _best_line(r)),
            ("Device", ", ".join(x for x in (r.device, r.precision, _speed(r)) if x)),
            ("Learning rate", "; ".join(_halving_line(h) for h in r.halvings)),
            ("Diverged", _diverged_line(r.diverged_at) if r.diverged_at else ""),
            ("Resumed", ", ".join(f"after epoch {x.get('at_epoch')}" for x in r.resumed)),
            ("Error", r.error or ""),
            ("Versions", ", ".join(f"{k} {v}" for k, v in r.environment.items()))]
    body = "".join(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in rows if value)
    return f'<table class="facts">{body}</table>'


def _test_table(r: Results) -> str:
    """The final model and best.keras on the test split, as `cnnctl train` prints them last."""
    if not r.test:
        because = ABSENT_BECAUSE.get(r.status)
        return "<h3>Test</h3>" + note("Not tested" + (f": {because}." if because else "."))
    tested = [(f"final model ({files.MODEL}, epoch {_count(r.epochs_completed)})", r.test)]
    if r.best_test:
        tested.append((f"best model ({files.BEST}, epoch {_count(r.best_epoch)})", r.best_test))
    metrics = _union(scores for _, scores in tested)
    rows = [[escape(model), *(_metric(scores.get(m)) for m in metrics)] for model, scores in tested]
    return "<h3>Test</h3>" + _table(["Model", *metrics], rows, numeric_from=1)


def _curves(run: Run) -> str:
    """curves.png, or curves drawn from metrics.csv when the run stopped before drawing its own."""
    heading = "<h3>Curves</h3>"
    if files.CURVES in run.pictures:
        picture = _image(run.pictures[files.CURVES], f"{run.name}: loss, metrics and learning rate per epoch")
    elif run.rows:
        picture = note(f"{run.lacks(files.CURVES)} Drawn from {files.METRICS}:")
        picture += _image(_draw_curves([run]), f"{run.name}: loss, metrics and learning rate per epoch")
    else:
        picture = note(run.lacks(files.CURVES))
    epochs = _epoch_table(run.rows) if run.rows else note(run.lacks(files.METRICS))
    return heading + picture + epochs


def _epoch_table(rows: list[dict[str, float]]) -> str:
    header = list(rows[0])
    cells = [[escape(COLUMN_FORMATS.get(k, "{:.4f}").format(row[k])) for k in header] for row in rows]
    return (f"<details><summary>{files.METRICS}: {plural(len(rows), 'epoch')}</summary>"
            f"{_table(header, cells, numeric_from=0)}</details>")


def _per_class(run: Run) -> str:
    """Precision, recall, F1 and support per class, then the macro and weighted averages."""
    heading = "<h3>Per class</h3>"
    record = run.evaluation
    if record is None:
        return heading + note(run.lacks(files.EVALUATION))
    header = ["Class", "Precision", "Recall", "F1", "Support"]
    rows = [_class_row(escape(str(c["class"])), c) for c in record["per_class"]]
    rows += [_class_row(f"<i>{average} average</i>", record[average]) for average in ("macro", "weighted")]
    caption = (f"{escape(record['model'])} on {_count(record['macro'].get('support'))} test images, "
               f"accuracy {_metric(record['accuracy'])}")
    return heading + f"<p>{caption}</p>" + _table(header, rows, numeric_from=1)


def _class_row(label: str, scores: dict[str, Any]) -> list[str]:
    return [label, *(_metric(scores.get(k)) for k in ("precision", "recall", "f1")), _count(scores.get("support"))]


def _confusion(run: Run) -> str:
    heading = "<h3>Confusion matrix</h3>"
    if files.CONFUSION in run.pictures:
        picture = _image(run.pictures[files.CONFUSION], f"{run.name}: test confusion matrix, true classes down, "
                                                        "predicted across")
    else:
        picture = note(run.lacks(files.CONFUSION))
    pairs = (run.evaluation or {}).get("most_confused") or []
    listed = "".join(f"<li>{escape(str(p['true']))} taken for {escape(str(p['predicted']))}: {_count(p['count'])} "
                     f"images, {escape(format(p['rate'], '.1%'))} of the class</li>" for p in pairs)
    return heading + picture + (f"<p>Most confused, true class first:</p><ul>{listed}</ul>" if listed else "")


def _mistakes(run: Run) -> str:
    """The final model's most confident mistakes: the contact sheet, and errors.csv as a table beneath."""
    heading = "<h3>Most confident mistakes</h3>"
    if run.mistakes is None:
        return heading + note(run.lacks(files.ERRORS_TABLE))
    header, rows = run.mistakes
    if not rows:
        return heading + "<p>None: every test image is classified correctly.</p>"
    if files.ERRORS_SHEET in run.pictures:
        picture = _image(run.pictures[files.ERRORS_SHEET], f"{run.name}: the most confident test mistakes")
    else:
        picture = note(run.lacks(files.ERRORS_SHEET))
    table = _table(header, [[escape(cell) for cell in row] for row in rows], numeric_from=len(header) - 1)
    return (heading + picture +
            f"<details><summary>{files.ERRORS_TABLE}: {plural(len(rows), 'mistake')}</summary>{table}</details>")


def _text(run: Run, name: str, heading: str) -> str:
    text = run.texts.get(name)
    body = f"<pre>{escape(text)}</pre>" if text is not None else note(run.lacks(name))
    return f"<h3>{escape(heading)} <small>{escape(name)}</small></h3>{body}"


# Pieces of HTML. Table rows hold cells that are HTML already, escaped by the caller; headers are plain text.

def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> str:
    """A table; columns from `numeric_from` on are right-aligned numbers. Header cells are escaped here."""
    def cell(tag: str, column: int, content: str) -> str:
        kind = ' class="n"' if column >= numeric_from else ""
        return f"<{tag}{kind}>{content}</{tag}>"

    head = "".join(cell("th", k, escape(str(h))) for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", k, c) for k, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def note(text: str) -> str:
    """A remark about something the page cannot show, set apart so that a reader does not miss it."""
    return f'<p class="gap">{escape(text)}</p>'


def _status(status: str) -> str:
    known = status if status in ABSENT_BECAUSE or status == "completed" else "unknown"
    return f'<span class="status {known}">{escape(status)}</span>'


# Values as text (escaped where they may hold anything).

def _metric(value: Any) -> str:
    """A metric as the CLI prints it (`0.9633`); an absent or null one as a dash."""
    return escape(f"{value:.4f}") if isinstance(value, (int, float)) else "–"


def _count(value: Any) -> str:
    return escape(f"{value:,}") if isinstance(value, int) else "–"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


def _data_line(data: dict[str, Any]) -> str:
    """`synthetic: 1,080 train, 120 validation, 300 test images of 16×16×1, 4 classes, balanced (...)`."""
    if not data:
        return ""
    splits = ", ".join(f"{data[s]:,} {s}" for s in ("train", "validation", "test") if isinstance(data.get(s), int))
    shape = "×".join(map(str, data.get("image_shape") or []))
    classes = data.get("classes")
    parts = [f"{splits} images" + (f" of {shape}" if shape else ""),
             plural(classes, "class", "classes") if isinstance(classes, int) else "", data.get("class_balance", "")]
    where = " ".join(str(data[k]) for k in ("source", "path") if data.get(k))
    return (f"{where}: " if where else "") + ", ".join(str(p) for p in parts if p)


def _best_line(r: Results) -> str:
    if r.best_epoch is None:
        return ""
    value = ", ".join(f"{k} {v:.4f}" for k, v in (r.best or {}).items() if isinstance(v, (int, float)))
    return f"{r.best_epoch}" + (f" ({value})" if value else "")


def _speed(r: Results) -> str:
    parts = []
    if r.images_per_second:
        parts.append(f"{r.images_per_second:,.0f} images/s")
    if r.peak_rss_mb:
        parts.append(f"peak memory {r.peak_rss_mb:,.0f} MB")
    return ", ".join(parts)


def _halving_line(halving: dict[str, Any]) -> str:
    return (f"halved at epoch {halving.get('epoch')} to {_g(halving.get('new_learning_rate'))}, "
            f"from the weights of epoch {halving.get('restored_epoch')}")


def _diverged_line(where: dict[str, Any]) -> str:
    return (f"at epoch {where.get('epoch')}, loss {_g(where.get('loss'))}, "
            f"learning rate {_g(where.get('learning_rate'))}")


def _g(value: Any) -> str:
    """A rate or a loss in its shortest form; null (JSON's NaN) as words."""
    return format(value, "g") if isinstance(value, (int, float)) else "not a number"


def _union(dicts: Any) -> list[str]:
    """The keys of several dicts, in the order first seen."""
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


STYLE = """
body{margin:0;background:#fff;color:#1f2328;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:0 0 2px}
h2{font-size:22px;margin:0 0 8px}
h3{font-size:17px;margin:28px 0 8px}
h3 small{color:#59636e;font-weight:400;font-size:13px}
.kicker{color:#59636e;margin:0 0 4px;font-size:13px;text-transform:uppercase;letter-spacing:.06em}
section{margin-top:28px}
section+section.run{border-top:2px solid #d1d9e0;padding-top:18px}
.status{display:inline-block;font-size:13px;font-weight:600;padding:2px 10px;border-radius:999px;
  vertical-align:middle;background:#eff2f5;color:#424a53}
.completed{background:#dafbe1;color:#116329}
.diverged,.failed{background:#ffebe9;color:#a40e26}
.interrupted,.running{background:#fff8c5;color:#7d4e00}
.headline{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 14px}
.headline div{border:1px solid #d1d9e0;border-radius:8px;padding:8px 16px;min-width:120px}
.headline span{display:block;color:#59636e;font-size:13px}
.headline b{font-size:24px;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d1d9e0;padding:4px 10px;text-align:left;vertical-align:top}
thead th,.facts th{background:#f6f8fa;font-weight:600}
.n{text-align:right}
img{display:block;max-width:100%;height:auto;border:1px solid #d1d9e0;border-radius:6px;margin:6px 0}
pre{background:#f6f8fa;border:1px solid #d1d9e0;border-radius:6px;padding:10px 12px;overflow:auto;
  font:12.5px/1.2 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.gap{background:#fff8c5;border-left:4px solid #d4a72c;padding:6px 10px;color:#3b2300}
details{margin:6px 0 12px}
summary{cursor:pointer;color:#0969da}
footer{color:#59636e;font-size:13px;margin-top:40px;border-top:1px solid #d1d9e0;padding-top:10px}
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cnnctl $version">
<title>$title</title>
<style>$style</style>
</head>
<body>
<main>
<p class="kicker">cnnctl report</p>
$body
<footer>Written by <code>cnnctl report</code> (cnnctl $version); self-contained: every picture is in this file.
</footer>
</main>
</body>
</html>
""")
