"""A folder streamed from disk (`data.cache: none`) trains as the same folder in memory, resumes exactly,
and a file damaged mid-run stops it by name (resumable) or is skipped, as `data.on_corrupt` says.

In-process, as test_resume_state.py: a run is stopped by a KeyboardInterrupt as an epoch begins.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnctl import load_config, resume, train
from cnnctl.errors import CnnctlError
from tests.training.test_resume_state import stop_before

pytestmark = pytest.mark.slow  # each test trains two or three small runs

QUIET = lambda line, kind: None  # noqa: E731
CONFIG = """\
name: streamed
data:
  source: folder
  path: images
  augment: [{RandomFlip: {mode: horizontal}}]
model:
  input_shape: [12, 12, 3]
  layers:
    - Conv2D: {filters: 4, kernel_size: 3, activation: relu}
    - Dropout: {rate: 0.3}
    - GlobalAveragePooling2D
    - Dense: {units: 3, activation: softmax}
train:
  batch_size: 8
  epochs: 3
  validation: 0.1
  seed: 5
"""


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """Three classes of 16 RGB PNGs, each class brighter in its own channel, and the config reading them."""
    from tests.data.conftest import _write_image_folder

    root = tmp_path_factory.mktemp("streamed")
    rng = np.random.default_rng(0)
    classes = {}
    for k, name in enumerate(["red", "green", "blue"]):
        base = rng.integers(0, 120, (16, 12, 12, 3))
        base[..., k] += 120
        classes[name] = base.astype(np.uint8)
    _write_image_folder(root / "images", classes)
    (root / "streamed.yaml").write_text(CONFIG)
    return root / "streamed.yaml"


@pytest.fixture(scope="module")
def streamed_whole(config_file, tmp_path_factory):
    runs = tmp_path_factory.mktemp("whole")
    return train(load_config(config_file, ["data.cache=none"]), runs, device="cpu", say=QUIET)


def test_a_streamed_folder_trains_as_in_memory_and_says_which_cache(config_file, streamed_whole, tmp_path):
    said = []
    in_memory = train(load_config(config_file, ["data.cache=memory"]), tmp_path, device="cpu",
                      say=lambda line, kind: said.append(line))
    assert rows(streamed_whole.path) == rows(in_memory.path)  # same order, augmentation and pixels
    assert streamed_whole.results.test == pytest.approx(in_memory.results.test, rel=1e-6)
    assert streamed_whole.results.data["cache"] == "none" and in_memory.results.data["cache"] == "memory"
    assert any("; cache memory (20.2 KiB decoded, data.cache: memory)" in line for line in said), said


def test_a_streamed_folder_resumes_to_the_same_metrics(config_file, streamed_whole, tmp_path):
    config = load_config(config_file, ["data.cache=none"])
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, name="cut", device="cpu", say=QUIET, progress=stop_before(3))
    assert len(rows(tmp_path / "cut")) == 2
    resumed = resume(tmp_path / "cut", device="cpu", say=QUIET)
    assert rows(resumed.path) == rows(streamed_whole.path)
    assert resumed.results.test == pytest.approx(streamed_whole.results.test, rel=1e-6)


def damage_once_started(monkeypatch, file: Path) -> None:
    """Cut `file`'s pixels off once the run has read what it reads whole (the check images, just before
    training): its header read well when the run started, and training finds it damaged mid-epoch."""
    from cnnctl.training import run

    def check_then_damage(*args, **kwargs):
        check = original(*args, **kwargs)
        whole = file.read_bytes()
        file.write_bytes(whole[:len(whole) // 2])
        return check

    original = run.check_dataset
    monkeypatch.setattr(run, "check_dataset", check_then_damage)


def copy_of(config_file: Path, tmp_path: Path) -> tuple[Path, Path, bytes]:
    """The config and its images copied; a training image of the copy (FOLDER_SEED's split) and its bytes."""
    shutil.copytree(config_file.parent / "images", tmp_path / "images")
    shutil.copy(config_file, tmp_path / "streamed.yaml")
    image = tmp_path / "images" / "green" / "007.png"
    return tmp_path / "streamed.yaml", image, image.read_bytes()


def test_a_file_damaged_mid_run_stops_it_by_name_and_resume_continues_once_replaced(config_file, streamed_whole,
                                                                                       tmp_path, monkeypatch):
    copy, image, whole = copy_of(config_file, tmp_path)
    damage_once_started(monkeypatch, image)
    with pytest.raises(CnnctlError) as info:
        train(load_config(copy, ["data.cache=none"]), tmp_path / "runs", device="cpu", say=QUIET)
    assert str(info.value).startswith(f"{image}: cannot decode image: ")
    assert "set data.on_corrupt: skip" in str(info.value) and "`cnnctl resume`" in str(info.value)
    folder = tmp_path / "runs" / "streamed"
    results = json.loads((folder / "results.json").read_text())
    assert results["status"] == "failed" and results["error"] == str(info.value)
    assert not (folder / "metrics.csv").exists() or not rows(folder)  # stopped in its first epoch
    image.write_bytes(whole)
    monkeypatch.undo()
    resumed = resume(folder, device="cpu", say=QUIET)
    assert resumed.results.status == "completed"
    assert rows(folder) == rows(streamed_whole.path)


def test_a_file_damaged_mid_run_is_skipped_by_name(config_file, streamed_whole, tmp_path, capfd, monkeypatch):
    copy, image, _ = copy_of(config_file, tmp_path)
    damage_once_started(monkeypatch, image)
    run = train(load_config(copy, ["data.cache=none", "data.on_corrupt=skip"]), tmp_path / "runs", device="cpu",
                say=QUIET)
    assert run.results.status == "completed" and run.results.epochs_completed == 3
    assert json.loads((run.path / "results.json").read_text())["data"]["skipped_files"] == [str(image)]
    warned = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: {image}: cannot decode image, skipped (data.on_corrupt: skip)"]
    assert rows(run.path)[0] != rows(streamed_whole.path)[0]  # another image took its place


def test_a_resumed_run_lists_the_files_skipped_before_and_after_the_resume(config_file, tmp_path, capfd,
                                                                           monkeypatch):
    copy, first, whole = copy_of(config_file, tmp_path)
    damage_once_started(monkeypatch, first)
    config = load_config(copy, ["data.cache=none", "data.on_corrupt=skip"])
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "runs", device="cpu", say=QUIET, progress=stop_before(2))
    folder = tmp_path / "runs" / "streamed"
    assert json.loads((folder / "results.json").read_text())["data"]["skipped_files"] == [str(first)]
    monkeypatch.undo()
    first.write_bytes(whole)  # mended; another training image is damaged before the resume reads it
    second = tmp_path / "images" / "red" / "003.png"
    damage_once_started(monkeypatch, second)
    capfd.readouterr()
    resumed = resume(folder, device="cpu", say=QUIET)
    assert resumed.results.status == "completed"
    assert json.loads((folder / "results.json").read_text())["data"]["skipped_files"] == [str(first), str(second)]
    warned = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: {second}: cannot decode image, skipped (data.on_corrupt: skip)"]
