"""`import cnnctl` stays light, and the README's "From Python" example runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_import_is_light():
    code = "import sys, cnnctl; print(sorted(m for m in ('tensorflow', 'keras', 'pydantic') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")  # the example trains: keep its runs/ out of the repo
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 32 filters: 32·9 + 32 = 320, then 50·(9·32) + 50 = 14,450, plus the unchanged dense layers
    assert result.stdout.splitlines() == [
        f"{320 + 14_450 + 125_100 + 1_010} [(32, 26, 26), (32, 13, 13)]",
        "True",
        "runs/smoke completed ['accuracy', 'loss']",
        "1 model.layers.0.Conv2d",
    ]
