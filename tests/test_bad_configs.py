"""The corpus in tests/bad_configs/: each malformed config names the message fragment it must produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli

CORPUS = sorted((Path(__file__).parent / "bad_configs").glob("*.yaml"))


def test_the_corpus_is_large():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_config_gives_its_message(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), "each file starts with '# expect: <message fragment>'"
    expected = first.removeprefix("# expect: ")
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output  # click 8.2+: stdout and stderr together
    # a clean exit 2 reaches CliRunner as SystemExit(2); any other exception is a crash, whatever the exit code
    assert result.exception is None or (isinstance(result.exception, SystemExit) and result.exception.code == 2), \
        repr(result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(expected in line for line in errors), result.stderr
    assert all(line.startswith(f"error: {path}") for line in errors), result.stderr
