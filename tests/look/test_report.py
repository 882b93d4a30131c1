"""`cnnctl report`: one self-contained HTML page of one or more runs, checked in a real headless browser.

One smoke run is trained per session (conftest's `smoke_trained`); each test reports on its own copy of
it. Runs that lack files (interrupted, diverged, damaged) are copies with files taken away, or folders
written by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
CHROMIUM = shutil.which("chromium")
PICTURES = ("curves.png", "confusion.png", "errors.png")


@pytest.fixture
def run(smoke_copy: Path) -> Path:
    return smoke_copy


def report(*args: str | Path) -> str:
    """`cnnctl report ARGS...`, which must succeed; the HTML of the file it says it wrote."""
    result = cli("report", *args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert result.stdout.startswith("wrote ") and result.stdout.count("\n") == 1, result.stdout
    return Path(result.stdout.removeprefix("wrote ").strip()).read_text(encoding="utf-8")


def accuracy_shown(folder: Path) -> str:
    """The final model's test accuracy, as the page (and the CLI) prints it."""
    return f"{json.loads((folder / 'results.json').read_text())['test']['accuracy']:.4f}"


class TextOf(HTMLParser):
    """The text a browser shows of a page: its characters outside tags, without <style> and <title>."""

    def __init__(self, page: str):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("style", "title", "script")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("style", "title", "script")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def text_of(page: str) -> str:
    return TextOf(page).text


def write_run(folder: Path, results: dict, metrics: str | None = None) -> Path:
    """A run folder by hand: results.json, and metrics.csv when given."""
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    if metrics is not None:
        (folder / "metrics.csv").write_text(metrics)
    return folder


METRICS = "epoch,loss,lr,seconds,images_per_second\n1,2.5,0.1,1.0,100\n2,1e9,0.1,1.0,100\n"


@pytest.mark.slow
def test_one_run_gets_its_report_in_its_folder(run):
    page = report(run)
    assert (run / "report.html").is_file()
    shown = text_of(page)
    assert "smoke" in shown and accuracy_shown(run) in shown
    evaluation = json.loads((run / "evaluation.json").read_text())
    for name in evaluation["classes"]:  # the per-class table
        assert name in shown
    assert "learning_rate: 0.01" in shown  # the resolved config
    assert "Total params: 1,316" in shown  # the layer table
    assert page.count('src="data:image/png;base64,') == len(PICTURES)
    assert "not in the run folder" not in shown


@pytest.mark.slow
def test_the_page_needs_nothing_but_itself(run):
    """No address to fetch, no script, no style sheet or picture from elsewhere: it opens from a CI artifact."""
    page = report(run)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "url(" not in page
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(sources) == len(PICTURES) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', page))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install chromium)")
def test_chromium_shows_the_run_and_its_test_accuracy(run, tmp_path):
    from PIL import Image

    report(run)
    url = (run / "report.html").as_uri()
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=True).stdout

    shown = text_of(dom)
    assert "smoke" in shown and accuracy_shown(run) in shown, shown[:500]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    colours = dict((colour, count) for count, colour in image.getcolors(image.width * image.height))
    inked = 1 - colours.get((255, 255, 255), 0) / (image.width * image.height)
    assert len(colours) > 1000 and inked > 0.05, (len(colours), inked)  # text, tables and pictures, not a blank page


@pytest.mark.slow
def test_an_interrupted_run_says_what_it_lacks(run):
    """Stopped before it was tested and drawn: the page says so where each part would be, and draws
    the curves from metrics.csv."""
    for name in (*PICTURES, "evaluation.json", "errors.csv"):
        (run / name).unlink()
    results = json.loads((run / "results.json").read_text())
    del results["test"], results["best_test"]
    (run / "results.json").write_text(json.dumps({**results, "status": "interrupted"}))

    page = report(run)
    shown = text_of(page)
    for name in ("curves.png", "evaluation.json", "confusion.png", "errors.csv"):
        assert f"{name}: not in the run folder (the run was interrupted)." in shown
    assert "Not tested: the run was interrupted." in shown
    assert "Drawn from metrics.csv" in shown and page.count('src="data:image/png') == 1


@pytest.mark.slow
def test_several_runs_side_by_side_in_the_current_folder(run, tmp_path, monkeypatch):
    other = tmp_path / "runs" / "smoke-2"
    shutil.copytree(run, other)
    results = json.loads((other / "results.json").read_text())
    (other / "results.json").write_text(json.dumps({**results, "name": "smoke-2",
                                                    "test": {**results["test"], "accuracy": 0.123456}}))
    monkeypatch.chdir(tmp_path)

    page = report(run, other)
    assert (tmp_path / "report.html").is_file() and not (run / "report.html").exists()
    shown = text_of(page)
    assert "2 runs" in shown and accuracy_shown(run) in shown and "0.1235" in shown
    assert '<a href="#run-1">smoke</a>' in page and '<a href="#run-2">smoke-2</a>' in page
    assert 'id="run-1"' in page and 'id="run-2"' in page
    assert page.count('src="data:image/png') == 1 + 2 * len(PICTURES)  # the curves overlaid, then each run's


def test_runs_of_one_name_are_told_apart_by_their_folders(tmp_path):
    """A copied run folder keeps its name; two runs folders may each hold a `smoke`."""
    first, second = (write_run(tmp_path / runs / "smoke", {"name": "smoke", "status": "completed"})
                     for runs in ("runs-a", "runs-b"))
    page = report(first, second, "-o", tmp_path / "report.html")
    assert f'<a href="#run-1">{first}</a>' in page and f'<a href="#run-2">{second}</a>' in page


def test_every_value_from_the_run_folder_is_escaped(tmp_path):
    folder = write_run(tmp_path / "run", {"name": "<script>alert(1)</script>", "status": "diverged",
                                          "config": "a&b.yaml", "diverged_at": {"epoch": 2, "loss": None}},
                       METRICS)
    (folder / "config.yaml").write_text("name: </pre><h1>x</h1>\n")
    page = report(folder, "-o", tmp_path / "out" / "page.html")
    assert "<script" not in page and "<h1>x</h1>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b.yaml" in page
    assert "name: &lt;/pre&gt;&lt;h1&gt;x&lt;/h1&gt;" in page


def test_a_diverged_run_was_not_tested_and_says_so(tmp_path):
    folder = write_run(tmp_path / "run", {"name": "fast", "status": "diverged",
                                          "diverged_at": {"epoch": 2, "step": None, "learning_rate": 0.1,
                                                          "loss": None}}, METRICS)
    shown = text_of(report(folder))
    assert "Not tested: the run diverged and was not tested." in shown
    assert "evaluation.json: not in the run folder (the run diverged and was not tested)." in shown
    assert "at epoch 2, loss not a number, learning rate 0.1" in shown


def test_damaged_files_are_named_not_fatal(tmp_path):
    folder = write_run(tmp_path / "run", {"name": "hurt", "status": "completed"},
                       "epoch,loss,lr,seconds,images_per_second\n1,0.5,0.1,1.0,100\n3,0.4,0.1,1.0,100\n")
    (folder / "evaluation.json").write_text("{not json")
    (folder / "curves.png").write_text("not a picture")
    shown = text_of(report(folder))
    assert "metrics.csv: row 2 is epoch 3" in shown
    assert "evaluation.json: damaged (" in shown
    assert "curves.png: damaged (not a PNG image)." in shown


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nowhere", "no such folder"),
    (lambda tmp: tmp, "no results.json here: not a cnnctl run folder"),
])
def test_a_folder_that_is_not_a_run_is_refused_in_one_line(tmp_path, make, message):
    result = cli("report", make(tmp_path))
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_every_bad_folder_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    good = write_run(tmp_path / "good", {"name": "good", "status": "completed"})
    monkeypatch.chdir(tmp_path)
    result = cli("report", good, tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 2
    assert [line.split(": ")[1] for line in result.stderr.splitlines()] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert not (tmp_path / "report.html").exists()
