"""What `cnnctl validate` checks: everything `train` would refuse before its first step, without training
and without loading an image.

The config (every section), the model built from it (shapes, the output against the loss), the
data: its paths, one image's shape from the files' headers, and its classes from the labels against
the last layer; and TensorBoard, installed if the config asks for it. Problems are listed together, in
the file's order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnctl.config import Config, load_config
from cnnctl.errors import CnnctlError, in_file_order


def check_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Config, Any]:
    """The validated config and its built `keras.Model`, or a `CnnctlError` listing every problem found.

    Example:

    ```python
    config, model = check_config("configs/mnist.yaml")
    ```
    """
    from cnnctl.data.metadata import data_problems, path_problems
    from cnnctl.model import build_model, check_output
    from cnnctl.model.build import internal_input_shape
    from cnnctl.training.tensorboard import missing_tensorboard

    try:
        config = load_config(path, overrides)  # a config that does not load cannot be built or fed...
    except CnnctlError as exc:
        if exc.loaded is None:
            raise
        # ...but the files its data section names can still be looked for
        raise CnnctlError(in_file_order(exc.problems + path_problems(*exc.loaded))) from None
    problems, model = missing_tensorboard(config), None
    try:
        model = build_model(config)
        check_output(config, model)
    except CnnctlError as exc:
        problems += exc.problems
    units = int(model.output.shape[-1]) if model is not None and not problems else None
    problems += data_problems(config, internal_input_shape(config), units)
    if problems:
        raise CnnctlError(in_file_order(problems))
    return config, model
