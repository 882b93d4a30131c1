"""cnnctl: YAML model specs in, trained Keras CNNs and tidy run folders out.

`import cnnctl` is light: TensorFlow is imported only by the functions that need it.

    >>> import cnnctl
    >>> config = cnnctl.load_config("configs/mnist.yaml", overrides=["train.epochs=1"])
    >>> cnnctl.summarize(config).total_params
    137660
"""

from __future__ import annotations

import time
from typing import Any

__version__ = "0.1.0"
STARTED = time.perf_counter()  # for "seconds to the first training step" in results.json

# public name -> module that defines it; imported on first use
_API = {
    "load_config": "cnnctl.config",
    "parse_config": "cnnctl.config",
    "Config": "cnnctl.config",
    "build_model": "cnnctl.model",
    "summarize": "cnnctl.model",
    "Summary": "cnnctl.model",
    "train": "cnnctl.training",
    "Run": "cnnctl.training",
    "resume": "cnnctl.training",
    "evaluate_run": "cnnctl.training.evaluate",
    "read_results": "cnnctl.runfolder",
    "Results": "cnnctl.runfolder",
    "predict": "cnnctl.use.predict",
    "serving_model": "cnnctl.use.serving",
    "json_schema": "cnnctl.schema",
    "CnnctlError": "cnnctl.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'cnnctl' has no attribute {name!r}")
