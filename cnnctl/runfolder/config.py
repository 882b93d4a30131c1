"""config.yaml read back: the resolved config a run was trained with, as plain data.

Training writes it with every default filled in, so two runs' files can be compared key by key
without knowing the config format; `cnnctl train runs/<name>/config.yaml` reproduces the run.
Read as YAML only (safe_load): a run folder from elsewhere cannot make cnnctl run anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files
from cnnctl.runfolder.results import anew


def read_config(folder: Path) -> dict[str, Any]:
    """A run's config.yaml as a mapping, or a one-line refusal naming the file."""
    path = folder / files.CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CnnctlError(Problem("missing: the run's config is unknown", str(path),
                                  hint="restore it from the config the run was trained with")) from None
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CnnctlError(Problem(f"damaged: not YAML ({' '.join(str(exc).split())})", str(path),
                                  hint=anew(folder, "restore it"))) from None
    if not isinstance(data, dict):
        raise CnnctlError(Problem("damaged: not a mapping of sections", str(path), hint=anew(folder, "restore it")))
    return data
