"""The data section: which keys each source reads, and augmentation layers checked against Keras."""

import pytest
import yaml

from cnnctl.config import parse_config
from cnnctl.config.data import augmentation_layers
from cnnctl.errors import CnnctlError

MODEL = "model: {input_shape: [8, 8, 1], layers: [Flatten, {Dense: {units: 2}}]}\n"


def problems(data: str) -> list[str]:
    with pytest.raises(CnnctlError) as info:
        parse_config(f"data:\n{data}\n{MODEL}")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("data", [
    "  {source: idx, path: data/kmnist}",
    "  {source: npz, path: data/shapes.npz, scale: standardize, resize: true}",
    "  {source: folder, path: data/train, test_path: data/test}",
    "  {source: folder, path: data/all, test_split: 0.3, limit: 100}",
    "  {source: folder, path: data/all, cache: disk, cache_dir: /tmp/decoded, on_corrupt: skip}",
    "  {source: idx, path: data/kmnist, cache: none}",
    "  {source: fashion_mnist, data_dir: ~/datasets, augment: [{RandomFlip: {mode: horizontal}}, RandomInvert]}",
])
def test_valid_data_sections_round_trip(data):
    config = parse_config(f"data:\n{data}\n{MODEL}")
    assert parse_config(yaml.safe_dump(config.resolved())).resolved() == config.resolved()


@pytest.mark.parametrize("data, expected", [
    ("  source: idx", "<string>:2: data.source: source idx needs data.path (set it to a folder of IDX files)"),
    ("  source: npz", "<string>:2: data.source: source npz needs data.path (set it to a .npz file)"),
    ("  source: mnist\n  path: data", "<string>:3: data.path: source mnist reads no path: only idx, npz, folder do "
                                      "(use data.data_dir for a built-in dataset's files)"),
    ("  source: npz\n  path: d.npz\n  test_path: t", "<string>:4: data.test_path: only source folder reads test_path"),
    ("  {source: folder, path: a, test_path: b, test_split: 0.1}",
     "<string>:2: data.test_split: test_split and test_path both give a test split (keep one)"),
    ("  scale: zscore", "<string>:2: data.scale: expected 'unit' or 'standardize', got 'zscore'"),
    ("  {source: npz, path: d.npz, on_corrupt: skip}",
     "<string>:2: data.on_corrupt: only source folder reads on_corrupt (remove data.on_corrupt)"),
    ("  {source: mnist, cache: none}", "<string>:2: data.cache: source mnist is always held in memory: cache none "
                                       "is for idx, npz, folder (remove data.cache)"),
    ("  {source: folder, path: a, cache: disk}",
     "<string>:2: data.cache: cache disk needs data.cache_dir (set data.cache_dir to a folder for the decoded images)"),
    ("  {source: folder, path: a, cache: none, cache_dir: c}",
     "<string>:2: data.cache_dir: cache none writes no files: only cache disk uses cache_dir (remove "
     "data.cache_dir, or set data.cache: disk)"),
    ("  {source: folder, path: a, cache: fast}",
     "<string>:2: data.cache: expected 'memory', 'disk' or 'none', got 'fast'"),
])
def test_source_keys(data, expected):
    assert problems(data) == [expected]


def test_augmentation_mistakes_each_at_their_line():
    found = problems("""\
  augment:
    - RandomFlp
    - Conv2D
    - RandomRotation: {}
    - RandomFlip: {mode: horizontal, seed: 3}
    - RandomZoom: 0.1
    - RandomZoom: {height_factor: x}
    - {RandomFlip: {}, RandomZoom: {}}""")
    assert found == [
        "<string>:3: data.augment.0.RandomFlp: unknown augmentation layer 'RandomFlp' (did you mean 'RandomFlip' "
        "or 'RandomCrop' or 'RandomHue'?)",
        found[1],
        "<string>:5: data.augment.2.RandomRotation: RandomRotation needs 'factor' " + found[2].split("'factor' ")[1],
        "<string>:6: data.augment.3.RandomFlip.seed: seed is not set here (augmentation is seeded from train.seed, "
        "the epoch and the step)",
        "<string>:7: data.augment.4.RandomZoom: arguments of RandomZoom must be a mapping of names to values "
        "(write RandomZoom: {height_factor: 0.1})",
        "<string>:8: data.augment.5.RandomZoom.height_factor: expected a number, got 'x' (string)",
        "<string>:9: data.augment.6: an augment entry is one Keras layer name, with or without arguments "
        "(e.g. '- RandomFlip: {mode: horizontal}')",
    ]
    assert found[1].startswith("<string>:4: data.augment.1.Conv2D: Conv2D is not an image augmentation layer "
                               "(augment takes Keras image preprocessing layers: AugMix, ")


def test_augmentation_layers_are_keras_image_preprocessing_layers():
    layers = augmentation_layers()
    assert {"RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast", "RandomCrop",
            "MixUp"} <= set(layers)
    assert not {"Conv2D", "Dense", "Normalization", "StringLookup", "Rescaling"} & set(layers)


@pytest.mark.parametrize("text, expected", [
    ("data: {synthetic: {test_size: 300000000}}\nmodel: {input_shape: [16, 16, 1], layers: [Flatten]}",
     "<string>:1: data.synthetic.test_size: synthetic data: 2,000 train + 300,000,000 test images of 16×16×1 "
     "would take 286.1 GiB"),
    ("model:\n  input_shape: [1, 30000, 30000]\n  data_format: channels_first\n  layers: [Flatten]",
     "<string>:2: model.input_shape: synthetic data: 2,000 train + 500 test images of 1×30000×30000 would take "
     "8.2 TiB of memory (float32), over cnnctl's limit of 4.0 GiB (each image takes 3.4 GiB"),
], ids=["many test images", "large images"])
def test_synthetic_data_that_would_not_fit_in_memory(text, expected):
    with pytest.raises(CnnctlError) as info:
        parse_config(text)
    assert str(info.value).startswith(expected), str(info.value)


def test_synthetic_size_is_not_checked_for_files():
    parse_config("data: {source: npz, path: d.npz}\nmodel: {input_shape: [1000, 1000, 3], layers: [Flatten]}")


def test_data_paths_in_a_file_start_at_its_folder_and_set_ones_at_the_current_folder(tmp_path, monkeypatch):
    from cnnctl.config import load_config

    (tmp_path / "configs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    config_file = tmp_path / "configs" / "net.yaml"
    config_file.write_text("data: {source: folder, path: ../images, test_path: ~/test, cache_dir: ../cache}\n"
                           + MODEL)
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(config_file)
    assert config.data.path == str(tmp_path / "images")
    assert config.data.test_path == str(tmp_path / "home" / "test")
    assert config.data.cache_dir == str(tmp_path / "cache")
    typed = load_config(config_file, ["data.path=images"])
    assert typed.data.path == str(tmp_path / "elsewhere" / "images")
    whole = load_config(config_file, ["data={source: npz, path: d.npz}"])
    assert whole.data.path == str(tmp_path / "elsewhere" / "d.npz")
    beside = load_config(config_file, ["data.limit=5"])  # the path is still the file's
    assert beside.data.path == str(tmp_path / "images")
    # a run folder's copy holds absolute paths: it finds the same data from anywhere
    copy = tmp_path / "run.yaml"
    copy.write_text(yaml.safe_dump(config.resolved()))
    monkeypatch.chdir(tmp_path / "configs")
    assert load_config(copy).data == config.data
