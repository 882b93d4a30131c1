"""`cnnctl runs`: every run in a folder, newest first, filtered and sorted; damaged folders listed, not fatal."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cnnctl.look.runs_table import SHOWN_STATUSES, SORTS
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"


def listed(runs_dir, *args: str) -> list[dict]:
    result = cli("runs", runs_dir, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The smoke config trained twice, the second with another seed (two epochs each)."""
    runs = tmp_path_factory.mktemp("look") / "runs"
    for seed in (0, 1):
        result = cli("train", SMOKE, "--runs-dir", runs, "--quiet", "--set", "train.epochs=2",
                     "--set", f"train.seed={seed}")
        assert result.exit_code == 0, result.output + repr(result.exception)
    return runs


@pytest.mark.slow
def test_runs_lists_both_trainings_newest_first(trained):
    rows = listed(trained)
    assert [row["name"] for row in rows] == ["smoke-2", "smoke"]
    for row in rows:
        results = json.loads((trained / row["name"] / "results.json").read_text())
        assert row["status"] == "completed" and row["epochs_completed"] == 2 and row["epochs"] == 2
        assert row["test"] == results["test"] and row["best"] == results["best"]["val_loss"]
        assert row["parameters"] == results["parameters"] and row["wall_seconds"] == results["wall_seconds"]
    text = cli("runs", trained).stdout
    assert text.startswith(f"2 runs in {trained}/")
    smoke = next(line for line in text.splitlines() if "│ smoke " in line)
    assert "completed" in smoke and "configs/smoke.yaml" in smoke and " 2/2 " in smoke
    assert f"accuracy {rows[1]['test']['accuracy']:.4f}" in smoke and "val_loss=" in smoke


@pytest.mark.slow
def test_runs_markdown_is_a_table(trained):
    result = cli("runs", trained, "--markdown")
    assert result.exit_code == 0, result.output
    header, rule, *rows = result.stdout.splitlines()
    assert [cell.strip() for cell in header.split("|")] == [
        "", "Name", "Status", "Config", "Epochs", "Best", "Test", "Params", "Wall", "Started", ""]
    assert all(re.fullmatch(r" -{3,} | -{2,}: ", cell) for cell in rule.split("|")[1:-1]), rule
    assert [row.split("|")[1].strip() for row in rows] == ["smoke-2", "smoke"]
    assert {len(line) for line in (header, rule, *rows)} == {len(header)}  # columns padded to line up


@pytest.mark.slow
def test_compare_shows_what_differs_between_the_trainings(trained):
    result = cli("compare", trained / "smoke", trained / "smoke-2")
    assert result.exit_code == 0, result.output
    seed = next(line for line in result.stdout.splitlines() if "train.seed" in line)
    assert seed.split("│")[1:4] == [" train.seed ", " 0     ", " 1       "]
    assert "only train.seed differs: mean ± std" in result.stdout
    assert json.loads(cli("compare", trained / "smoke", trained / "smoke-2", "--json").stdout)["config"] == {
        "train.seed": {"smoke": 0, "smoke-2": 1}}


def test_a_damaged_run_is_listed_and_the_others_still_are(make_run, tmp_path):
    make_run("good")
    (make_run("garbled") / "results.json").write_text("{not json")
    (make_run("lost") / "results.json").unlink()
    result = cli("runs", tmp_path / "runs", "--sort", "name")
    assert result.exit_code == 0, result.output
    statuses = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stdout.splitlines()
                if line.startswith("│")}
    assert statuses == {"garbled": "damaged", "good": "completed", "lost": "damaged"}
    warnings = result.stderr.splitlines()
    assert warnings[0].startswith(f"warning: {tmp_path / 'runs' / 'garbled' / 'results.json'}: damaged: not JSON")
    assert warnings[1] == (f"warning: {tmp_path / 'runs' / 'lost' / 'results.json'}: missing: the run's status is "
                           f"unknown (restore it, or start anew with `cnnctl train {tmp_path / 'runs' / 'lost'}"
                           f"/config.yaml`)")
    damaged = listed(tmp_path / "runs", "--status", "damaged")
    assert [row["name"] for row in damaged] == ["garbled", "lost"]  # no start date: last, by name
    assert all("problem" in row and row["test"] == {} for row in damaged)


def test_folders_that_are_not_runs_are_left_out(make_run, tmp_path):
    make_run("a")
    (tmp_path / "runs" / "notes").mkdir()
    (tmp_path / "runs" / ".trash").mkdir()
    (tmp_path / "runs" / ".trash" / "results.json").write_text("{}")
    (tmp_path / "runs" / "README.md").write_text("my runs")
    assert [row["name"] for row in listed(tmp_path / "runs")] == ["a"]


def test_filter_by_status_and_name(make_run, tmp_path):
    make_run("mnist-a")
    make_run("mnist-b", status="diverged")
    make_run("cifar-a", status="interrupted")
    runs = tmp_path / "runs"
    assert {row["name"] for row in listed(runs, "--name", "mnist-*")} == {"mnist-a", "mnist-b"}
    assert {row["name"] for row in listed(runs, "--status", "completed", "--status", "Interrupted")} == {
        "mnist-a", "cifar-a"}
    assert [row["name"] for row in listed(runs, "--name", "mnist-*", "--status", "interrupted")] == []
    assert cli("runs", runs, "--status", "interrupted", "--name", "mnist-*").stdout == \
        f"none of the 3 runs in {runs}/ match\n"


def test_sorting(make_run, tmp_path):
    make_run("early", started="2026-01-01T09:00:00+00:00", wall_seconds=30.0, test={"accuracy": 0.7, "loss": 0.5},
             best={"val_loss": 0.1})
    make_run("late", started="2026-01-03T09:00:00+00:00", wall_seconds=10.0, test={"accuracy": 0.9, "loss": 0.2},
             best={"val_loss": 0.3})
    make_run("middle", started="2026-01-02T09:00:00+00:00", wall_seconds=20.0, test={"accuracy": 0.8, "loss": 0.3},
             best={"val_loss": 0.2})
    make_run("unfinished", status="running", started="2026-01-04T09:00:00+00:00", test=None, best=None,
             wall_seconds=None)
    runs = tmp_path / "runs"

    def order(*args: str) -> list[str]:
        return [row["name"] for row in listed(runs, *args)]

    assert order() == ["unfinished", "late", "middle", "early"]
    assert order("--reverse") == ["early", "middle", "late", "unfinished"]
    assert order("--sort", "test") == ["late", "middle", "early", "unfinished"]  # higher accuracy first
    assert order("--sort", "best") == ["early", "middle", "late", "unfinished"]  # lower val_loss first
    assert order("--sort", "wall") == ["early", "middle", "late", "unfinished"]
    assert order("--sort", "wall", "--reverse") == ["late", "middle", "early", "unfinished"]  # unknown: last
    assert order("--sort", "name") == ["early", "late", "middle", "unfinished"]


def test_an_empty_folder_says_so(tmp_path):
    result = cli("runs", tmp_path)
    assert result.exit_code == 0 and result.stdout == f"no runs in {tmp_path}/\n"
    assert listed(tmp_path) == []


@pytest.mark.parametrize("where, message", [
    ("missing", "{path}: no such folder (pass the folder runs are trained into, runs/ or train's --runs-dir)"),
    ("runs/a", "{path}: this is a run folder, not a folder of runs (pass the folder that holds it, {parent})"),
])
def test_not_a_folder_of_runs_is_one_line(make_run, tmp_path, where, message):
    make_run("a")
    path = tmp_path / where
    result = cli("runs", path)
    assert result.exit_code == 2
    assert result.stderr == "error: " + message.format(path=path, parent=path.parent) + "\n"


def test_the_cli_offers_every_status_and_sort():
    """The CLI spells its choices out (importing them would slow `cnnctl --help`): they must stay the same."""
    from cnnctl.cli import runs

    choices = {param.name: list(param.type.choices) for param in runs.params if hasattr(param.type, "choices")}
    assert choices == {"statuses": list(SHOWN_STATUSES), "sort": list(SORTS)}


def test_runs_and_compare_read_files_only(make_run, tmp_path):
    """No TensorFlow, Keras or matplotlib: they answer in an instant, even beside a training."""
    make_run("a")
    make_run("b", config={"train.seed": 1})
    runs = tmp_path / "runs"
    code = ("import sys\nfrom cnnctl.cli import main\n"
            f"for args in (['runs', {str(runs)!r}], ['runs', {str(runs)!r}, '--markdown'],"
            f" ['compare', {str(runs / 'a')!r}, {str(runs / 'b')!r}]):\n"
            "    try:\n        main(args, prog_name='cnnctl')\n    except SystemExit as exc:\n"
            "        assert not exc.code, exc.code\n"
            "print('IMPORTED', sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "IMPORTED []" in out and "train.seed" in out


@pytest.mark.slow
def test_runs_by_config_pools_the_seeds_of_a_config(trained):
    import statistics

    result = cli("runs", trained, "--by-config", "--markdown")
    assert result.exit_code == 0, result.output
    header, rule, *rows = result.stdout.splitlines()
    assert [cell.strip() for cell in header.split("|")][1:-1] == [
        "Config", "Seeds", "Params", "Epochs", "Test", "Best model, test", "Wall (mean)", "Precision", "Machine",
        "Command"]
    assert len(rows) == 1  # the two seeds of one config
    cells = [cell.strip() for cell in rows[0].split("|")][1:-1]
    results = [json.loads((trained / name / "results.json").read_text()) for name in ("smoke", "smoke-2")]
    assert [r["overrides"] for r in results] == [["train.epochs=2", "train.seed=0"], ["train.epochs=2", "train.seed=1"]]
    accuracies = [r["test"]["accuracy"] for r in results]
    assert cells[:4] == [str(SMOKE), "0, 1", f"{results[0]['parameters']:,}", "2"]
    assert cells[4] == f"accuracy {statistics.mean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f}"
    assert cells[7] == results[0]["precision"] and cells[8] == results[0]["environment"]["machine"]
    assert cells[9] == f"cnnctl train {SMOKE} --set train.epochs=2 --set train.seed=S"
    (pooled,) = json.loads(cli("runs", trained, "--by-config", "--json").stdout)
    assert pooled["runs"] == ["smoke", "smoke-2"] and pooled["seeds"] == [0, 1]
    assert pooled["test"] == {"mean": pytest.approx(statistics.mean(accuracies)),
                              "std": pytest.approx(statistics.stdev(accuracies))}


def test_runs_by_config_keeps_runs_of_other_settings_apart(tmp_path):
    """Pooled are runs whose config.yaml differs only in name and seed: another precision is its own row."""
    from cnnctl.look.config_table import group, trained as completed
    from cnnctl.look.runs_table import scan

    for name, seed, precision in [("a", 0, "float32"), ("b", 1, "float32"), ("c", 0, "mixed")]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(f"name: {name}\ntrain: {{seed: {seed}, precision: {precision}}}\n")
        (folder / "results.json").write_text(json.dumps({
            "name": name, "status": "completed", "config": "c.yaml", "test": {"accuracy": 0.5 + seed / 10},
            "overrides": [f"train.seed={seed}", f"train.precision={precision}"]}))
    groups = group(completed(scan(tmp_path)))
    assert [[run.row.name for run in g.runs] for g in groups] == [["a", "b"], ["c"]]
    assert groups[0].values() == [0.5, 0.6]
    assert groups[1].command() == "cnnctl train c.yaml --set train.precision=mixed --set train.seed=0"


def test_runs_by_config_says_so_when_no_run_completed(tmp_path):
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "results.json").write_text(json.dumps({"name": "cut", "status": "interrupted"}))
    result = cli("runs", tmp_path, "--by-config")
    assert result.exit_code == 0 and result.stdout == (
        "no completed run among the 1 run listed: --by-config pools completed runs\n")


def test_runs_by_config_sorted_by_name_orders_the_configs_by_path(tmp_path):
    """The table's rows are named by config file: `--sort name` orders them so, whatever the runs' names."""
    for size, (name, config) in enumerate([("a-run", "configs/z.yaml"), ("b-run", "configs/lecture/adam.yaml"),
                                           ("c-run", "configs/fashion_best.yaml")], 8):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(f"name: {name}\nmodel: {{input_shape: [{size}, {size}, 1]}}\n")
        (folder / "results.json").write_text(json.dumps({"name": name, "status": "completed", "config": config,
                                                         "test": {"accuracy": 0.5}}))

    def order(*args: str) -> list[str]:
        result = cli("runs", tmp_path, "--by-config", "--json", *args)
        assert result.exit_code == 0, result.output
        return [row["config"] for row in json.loads(result.stdout)]

    assert order("--sort", "name") == ["configs/fashion_best.yaml", "configs/lecture/adam.yaml", "configs/z.yaml"]
    assert order("--sort", "name", "--reverse") == ["configs/z.yaml", "configs/lecture/adam.yaml",
                                                    "configs/fashion_best.yaml"]
