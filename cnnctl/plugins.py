"""Import a module the user named with `--plugin`: the user's own code, so its failures are the user's to fix.

A name that is not a module name (a path such as `./my_layers.py`, an empty
name) is refused with the name to use instead. A module that raises while it
is imported is a mistake in the user's code, not a bug in cnnctl: exit code 2,
the plugin's own traceback (cnnctl's and importlib's frames left out), then one
line saying which plugin failed and how.
"""

from __future__ import annotations

import importlib
import os
import traceback
from types import ModuleType

from cnnctl.errors import CnnctlError, Problem

EXAMPLE = "e.g. --plugin my_layers for my_layers.py in the current folder, or --plugin mypackage.layers"


def import_plugin(name: str) -> ModuleType:
    """The module `name`, imported.

    Raises:
        CnnctlError: `name` is not a module name, no such module exists, or
            importing it raised (with the plugin's traceback in `details`).

    Example:

    ```python
    module = import_plugin("my_layers")
    ```
    """
    check_module_name(name)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise CnnctlError(Problem(f"--plugin {name}: cannot import it ({exc})", hint="name a module on the "
                                      "Python path, e.g. a my_layers.py in this folder")) from exc
        raise _failed(name, exc) from exc  # the plugin itself imports something missing
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the user's code raises is the user's
        raise _failed(name, exc) from exc


def check_module_name(name: str) -> None:
    """Refuse what `importlib` cannot take as an absolute module name, with the name to use instead."""
    if not name:
        raise CnnctlError(Problem("--plugin needs a module name", hint=EXAMPLE))
    is_path = "/" in name or os.sep in name or name.endswith(".py")
    if not is_path and all(part.isidentifier() for part in name.split(".")):
        return
    if is_path:
        folder, stem = os.path.dirname(name), os.path.splitext(os.path.basename(name))[0]
        where = "" if os.path.abspath(folder or ".") == os.getcwd() else f", with {folder or '.'} on PYTHONPATH"
        hint = f"--plugin takes a module name, not a file: --plugin {stem}{where}"
    else:
        hint = f"a module name is Python identifiers joined by dots, {EXAMPLE}"
    raise CnnctlError(Problem(f"--plugin {name}: not a Python module name", hint=hint))


def _failed(name: str, exc: BaseException) -> CnnctlError:
    """The plugin's error as the plugin's: its traceback from its own first frame on, and one line."""
    tb = exc.__traceback__
    while tb is not None and _machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    details = "".join(traceback.format_exception(type(exc), exc, tb))
    reason = (str(exc).strip().splitlines() or [""])[0]
    what = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return CnnctlError(Problem(f"--plugin {name}: importing it raised {what}",
                               hint="the traceback above is from the plugin's code; fix the module"),
                       details=details)


def _machinery(filename: str) -> bool:
    """A frame of cnnctl's or of the import system's, between cnnctl and the plugin's first line."""
    return (filename == __file__ or filename.startswith("<frozen importlib")
            or filename.startswith(os.path.dirname(importlib.__file__) + os.sep))
