"""`cnnctl tune` without the tune extra, and on a config without a search: section: one line each."""

from __future__ import annotations

import sys

from tests.conftest import ROOT, cli


def test_without_optuna_tune_names_the_extra_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` meets where it is not installed
    result = cli("tune", ROOT / "configs" / "tune_smoke.yaml")
    assert result.exit_code == 2
    assert result.stderr == 'error: cnnctl tune needs Optuna: pip install "cnnctl[tune]"\n'


def test_a_config_without_a_search_section_has_nothing_to_tune():
    import pytest

    pytest.importorskip("optuna", reason='cnnctl tune needs the tune extra: pip install "cnnctl[tune]"')
    result = cli("tune", ROOT / "configs" / "smoke.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {ROOT / 'configs' / 'smoke.yaml'}: no search: section: nothing to tune")
