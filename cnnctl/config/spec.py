"""The config file's sections, their keys, types, defaults and one-line descriptions.

This is the single definition of the format: the validator checks against it
and `cnnctl schema` publishes it as JSON Schema. Layer, loss, optimizer and
metric names are checked against Keras itself (`cnnctl.config.components`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PositiveInt, Tag, WithJsonSchema

# keras.utils.set_random_seed seeds NumPy's global generator, which takes 32-bit seeds only.
MAX_SEED = 2**32 - 1

# A Keras object by name, alone or with its constructor arguments:
# `adam`, `{SGD: {learning_rate: 0.1, momentum: 0.9}}`.
Component = Union[str, dict[str, Union[dict[str, Any], None]]]


class Section(BaseModel):
    """Strict: unknown keys and wrongly typed values are errors, never silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SyntheticData(Section):
    """Generated images of simple shapes at random positions: learnable, seeded, no download."""

    train_size: PositiveInt = Field(2000, description="Number of training images.")
    test_size: PositiveInt = Field(500, description="Number of test images.")
    classes: int = Field(4, ge=2, le=8, description="Number of shape classes (2 to 8).")
    noise: float = Field(0.1, ge=0, le=1, description="Standard deviation of the pixel noise added.")


class DataSection(Section):
    """Where the images come from and how they are prepared."""

    source: Literal["synthetic", "mnist", "fashion_mnist", "cifar10", "cifar100", "idx", "npz", "folder"] = Field(
        "synthetic", description="A Keras built-in dataset by name, `synthetic` (generated, no download), or your own "
                                 "files: `idx` (a folder of MNIST-format IDX files), `npz` (a NumPy archive with "
                                 "x_train, y_train, x_test, y_test) or `folder` (class sub-folders of images).")
    path: Union[str, None] = Field(
        None, description="For `idx` and `folder` a folder, for `npz` a file. A relative path starts at this "
                          "file's folder (one given with `--set`: at the current folder).")
    test_path: Union[str, None] = Field(
        None, description="`folder` only: a second folder of class sub-folders to test on; relative as `path`.")
    test_split: Union[Annotated[float, Field(gt=0, lt=1)], None] = Field(
        None, description="`folder` without `test_path`: the fraction of each class held out as the test split "
                          "(the same images every run); default 0.2.")
    data_dir: Union[str, None] = Field(None, description="Built-in datasets: a folder to look in before any download; "
                                                        "relative as `path`.")
    limit: Union[PositiveInt, None] = Field(None, description="Use at most this many training and test images.")
    resize: bool = Field(False, description="Resize images to the model input's height and width (bilinear). "
                                            "`folder` images are always read at that size.")
    scale: Literal["unit", "standardize"] = Field(
        "unit", description="`unit`: pixels to [0, 1]; `standardize`: then, per channel, minus the mean and divided "
                            "by the standard deviation of the training images (recorded in results.json).")
    augment: list[Any] = Field(
        [], description="Keras image augmentation layers applied to training batches only, in order, seeded from "
                        "train.seed: `- RandomFlip: {mode: horizontal}`. They see pixels in 0-255.")
    cache: Union[Literal["memory", "disk", "none"], None] = Field(
        None, description="`folder`, `idx`, `npz`: where decoded images are kept. `memory`: decoded once, held in "
                          "memory (fastest when they fit); `disk`: decoded once into `cache_dir` and read from there "
                          "(memory-mapped); `none`: read from the files at every batch (a folder's images are "
                          "decoded in parallel, an uncompressed IDX or .npz file is memory-mapped). Default: "
                          "`memory` when the decoded images take at most a quarter of this machine's memory, else "
                          "`disk` if `cache_dir` is set, else `none`; the choice is printed.")
    cache_dir: Union[str, None] = Field(
        None, description="The folder `cache: disk` writes decoded images to (reused while the files are "
                          "unchanged); relative as `path`.")
    on_corrupt: Union[Literal["stop", "skip"], None] = Field(
        None, description="`folder`: a training image that cannot be decoded stops the run with its name (`stop`, "
                          "default; resume once it is replaced) or is left out, named on stderr and in "
                          "results.json (`skip`). A damaged test or validation image always stops.")
    synthetic: SyntheticData = Field(default_factory=SyntheticData, description="Options of the synthetic source.")


class ModelSection(Section):
    """The network: an input shape and a list of Keras layers applied in order."""

    input_shape: list[PositiveInt] = Field(
        min_length=1, max_length=4,
        description="Shape of one image: [height, width, channels], or [channels, height, width] "
                    "with `data_format: channels_first`.")
    data_format: Literal["channels_last", "channels_first"] = Field(
        "channels_last", description="Order of `input_shape` and of the shapes cnnctl prints. "
                                     "The model itself is always built channels-last.")
    layers: list[Any] = Field(
        min_length=1,
        description="Keras layers by class name with Keras' own arguments, e.g. "
                    "`- Conv2D: {filters: 25, kernel_size: 3}`. `name:` names a layer; "
                    "`inputs: [a, b]` takes its inputs from earlier named layers (`input` is the model input); "
                    "`call: {training: false}` gives arguments of its call; `- Reuse: {layer: NAME}` applies "
                    "an earlier layer again, with the same weights.")


class Execution(Section):
    """How steps run on the device; `auto` picks what measured fastest there (see BENCHMARKS.md)."""

    steps_per_execution: Union[PositiveInt, Literal["auto"]] = Field(
        "auto", description="Training steps per call into the compiled graph; callbacks see every n-th step.")
    jit_compile: Union[bool, Literal["auto"]] = Field("auto", description="Compile the step with XLA.")


class Mirrored(Section):
    """One process, several local devices: `tf.distribute.MirroredStrategy`."""

    devices: Union[list[str], None] = Field(
        None, min_length=1,
        description="Devices to mirror the model on, e.g. `[GPU:0, GPU:1]`; null: every local GPU. `CPU:n` names "
                    "split the CPU into that many logical devices (to check a strategy without GPUs).")


class MultiWorker(Section):
    """Several processes, on one or more machines: `tf.distribute.MultiWorkerMirroredStrategy`."""

    timeout: PositiveInt = Field(
        120, description="Seconds a worker waits for its peers in one collective step before the run fails "
                         "with a clear message (a peer that died or was stopped), instead of hanging.")


class MirroredChoice(Section):
    mirrored: Mirrored = Field(description=Mirrored.__doc__)


class MultiWorkerChoice(Section):
    multi_worker: MultiWorker = Field(description=MultiWorker.__doc__)


DistributionName = Literal["none", "mirrored", "multi_worker"]


def _distribution_form(value: Any) -> str:
    """Which form of `distribution` a value is, so a mistake is reported against that form alone.

    The tags contain '-', which the config loader reads as a union member's name, not a key.
    """
    if isinstance(value, MultiWorkerChoice) or isinstance(value, dict) and "multi_worker" in value:
        return "form-multi_worker"
    return "form-mirrored" if isinstance(value, (dict, MirroredChoice)) else "form-name"


Distribution = Annotated[Union[Annotated[DistributionName, Tag("form-name")],
                               Annotated[MirroredChoice, Tag("form-mirrored")],
                               Annotated[MultiWorkerChoice, Tag("form-multi_worker")]],
                         Discriminator(_distribution_form)]


class TrainSection(Section):
    """How the model is trained: loss, optimizer, batches, epochs, metrics."""

    loss: Component = Field("categorical_crossentropy",
                            description="A Keras loss by name (`mse`, `categorical_crossentropy`, ...).")
    optimizer: Component = Field("adam", description="A Keras optimizer by name, or `{SGD: {learning_rate: 0.1}}`.")
    batch_size: PositiveInt = Field(32, description="Images per gradient step (mini-batch).")
    epochs: PositiveInt = Field(10, description="Passes over the training data.")
    metrics: list[Component] = Field(["accuracy"], description="Keras metrics by name, reported every epoch.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for weights, shuffling and data generation: "
                                                         f"0 to {MAX_SEED} (what NumPy's global seed takes).")
    validation: Union[Annotated[float, Field(gt=0, lt=1)], Literal["test"], None] = Field(
        0.1, description="Fraction of the training split held out (seeded, stratified), `test` to validate "
                         "on the test split, or null for none.")
    monitor: Union[str, None] = Field(
        None, description="Metric that picks best.keras, early stopping and plateaus; "
                          "default `val_loss` with validation, else `loss`.")
    lr_schedule: Union[Component, None] = Field(
        None, description="A Keras schedule from `keras.optimizers.schedules` (steps, not epochs), e.g. "
                          "`{CosineDecay: {initial_learning_rate: 0.1, decay_steps: 5000, warmup_steps: 100}}`, "
                          "or `{ReduceLROnPlateau: {factor: 0.5, patience: 2}}`. Default: the optimizer's constant rate.")
    on_divergence: Literal["stop", "halve"] = Field(
        "halve", description="When the loss diverges (NaN, far above the untrained model's, or no better than it "
                             "after an epoch): `halve` (default; the lecture's rule) restores the last weights that passed "
                             "the check, halves the learning rate and goes on; `stop` ends the run as diverged. "
                             "With a Keras schedule in lr_schedule the default is `stop`.")
    early_stopping: Union[dict[str, Any], None] = Field(
        None, description="Arguments of `keras.callbacks.EarlyStopping` (e.g. `{patience: 3}`); null: off.")
    execution: Execution = Field(default_factory=Execution, description=Execution.__doc__)
    precision: Literal["float32", "auto", "mixed"] = Field(
        "auto", description="`auto` (default): mixed where the hardware computes 16-bit natively (a CPU with AMX "
                            "or AVX512-BF16, a GPU with tensor cores), float32 elsewhere. `mixed`: 16-bit compute "
                            "(float16 on GPU, bfloat16 on CPU), float32 weights. `float32`: full precision.")
    distribution: Distribution = Field(
        "none", description="Where training runs: `none` (one device), `mirrored` (every local GPU, or "
                            "`{mirrored: {devices: [GPU:0, GPU:1]}}`), or `multi_worker` (a cluster from TF_CONFIG "
                            "or `cnnctl train --workers`; `{multi_worker: {timeout: 120}}`). batch_size is the "
                            "global batch, split over the replicas; the learning rate is not rescaled.")

    def strategy(self) -> tuple[str, Union[Mirrored, MultiWorker, None]]:
        """`distribution` as (name, options): the bare name gets the default options."""
        d = self.distribution
        if isinstance(d, MirroredChoice):
            return "mirrored", d.mirrored
        if isinstance(d, MultiWorkerChoice):
            return "multi_worker", d.multi_worker
        return d, {"none": None, "mirrored": Mirrored(), "multi_worker": MultiWorker()}[d]

    tensorboard: bool = Field(
        False, description="Write TensorBoard event files into the run folder's tensorboard/: loss, metrics and "
                           "learning rate per epoch, and the model graph. Needs the tensorboard extra "
                           "(pip install \"cnnctl[tensorboard]\").")


def _yaml_float(value: Any) -> Any:
    """`1e-3` as a number: YAML 1.1 (PyYAML) reads an exponent without a dot as text, and a search range is
    where such numbers are written. Text that is not a finite number is left for the type check to refuse."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if abs(number) != float("inf") and number == number else value
    return value


# What an editor's YAML language server sees: a number, or the text PyYAML makes of `1e-3`.
EXPONENT_TEXT = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"
Number = Annotated[float, BeforeValidator(_yaml_float), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string", "pattern": EXPONENT_TEXT}]})]
Ends = Annotated[list[Number], Field(min_length=2, max_length=2)]  # [low, high]


class SearchRange(Section):
    """The values one config key takes in a search: exactly one of loguniform, uniform, int or choice."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    loguniform: Union[Ends, None] = Field(
        None, description="[low, high]: a float drawn evenly on a log scale (learning rates). `1e-3` is read as "
                          "a number here.")
    uniform: Union[Ends, None] = Field(None, description="[low, high]: a float drawn evenly.")
    integer: Union[Annotated[list[int], Field(min_length=2, max_length=2)], None] = Field(None, alias="int",
                                                  description="[low, high]: an integer, both ends included.")
    choice: Union[list[Any], None] = Field(None, min_length=1, description="One of these values, as written.")
    step: Union[PositiveInt, Annotated[Number, Field(gt=0)], None] = Field(
        None, description="`int` and `uniform` only: the values are low, low + step, ... up to high.")
    log: bool = Field(False, description="`int` only: draw on a log scale.")


class SearchSection(Section):
    """`cnnctl tune`: which config keys to search, for how many trials, by what metric (Optuna).

    `cnnctl train` trains the config as written and leaves this section alone.
    """

    study: Union[str, None] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                    description="Study name and folder (runs/<study>/); default: the config's name.")
    trials: PositiveInt = Field(20, description="Finished (completed or pruned) trials the study ends with.")
    metric: Union[str, None] = Field(None, description="What a trial is judged by: its best value over the "
                                                       "epochs; default: train.monitor.")
    direction: Union[Literal["maximize", "minimize"], None] = Field(
        None, description="Default: maximize a metric Keras says goes up (accuracy), minimize a loss.")
    sampler: Component = Field("TPESampler", description="An Optuna sampler from `optuna.samplers` by name, or "
                                                        "`{RandomSampler: {}}` with its arguments.")
    seed: Union[Annotated[int, Field(ge=0, le=MAX_SEED)], None] = Field(
        0, description="The sampler's seed (with one worker, the same trials every time); null: unseeded.")
    pruner: Union[Component, None] = Field(
        {"MedianPruner": {"n_startup_trials": 2}},
        description="An Optuna pruner from `optuna.pruners`, judged on each epoch's metric; null: none.")
    process: Literal["fresh", "shared"] = Field(
        "fresh", description="`fresh`: each trial trains in a new Python process, which ends with the trial, so "
                             "nothing TensorFlow keeps grows over the study (a few seconds' start-up a trial); "
                             "`shared`: every trial in the `cnnctl tune` process (no start-up; about 2 MiB more "
                             "memory a trial, tensorflow#61791).")
    space: dict[str, SearchRange] = Field(
        min_length=1, description="Dotted config keys (as `--set` takes them) and their ranges: "
                                  "`train.batch_size: {choice: [32, 64]}`.")


class ConfigFile(Section):
    """A cnnctl config: one YAML file that describes data, model and training."""

    model_config = ConfigDict(extra="forbid", strict=True, title="cnnctl config")

    name: Union[str, None] = Field(None, description="Run name; defaults to the file's stem.",
                                   pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataSection = Field(default_factory=DataSection, description=DataSection.__doc__)
    model: ModelSection = Field(description=ModelSection.__doc__)
    train: TrainSection = Field(default_factory=TrainSection, description=TrainSection.__doc__)
    search: Union[SearchSection, None] = Field(None, description=SearchSection.__doc__)
