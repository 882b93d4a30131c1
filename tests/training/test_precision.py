"""`train.precision`: `auto` chooses by the hardware, says why, and a resumed run keeps what it started with."""

from __future__ import annotations

import json

import pytest

from cnnctl import load_config, resume, train
from cnnctl.training import precision
from cnnctl.training.precision import choose_precision, cpu_computes_bf16
from tests.conftest import ROOT
from tests.training.test_resume_state import rows, stop_before

SMOKE = ROOT / "configs" / "smoke.yaml"
QUIET = lambda line, kind: None  # noqa: E731
AMX = frozenset({"amx_bf16"})


@pytest.mark.parametrize("cpuinfo, native", [
    ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\nmodel name\t: AMD EPYC\n", False),  # AVX-512, no BF16
    ("flags\t\t: fpu avx512f avx512_bf16 amx_tile\n", True),
    ("flags\t\t: fpu avx512f amx_bf16 amx_tile\n", True),
    ("Features\t: fp asimd bf16 i8mm\n", True),  # Arm
    ("Features\t: fp asimd\n", False),
    ("processor\t: 0\n", None),  # no flags line: cannot be told
])
def test_native_bfloat16_is_read_from_the_cpu_flags(cpuinfo, native):
    assert cpu_computes_bf16(cpuinfo) is native


@pytest.mark.parametrize("flags, policy, why", [
    (AMX, "mixed_bfloat16", "this CPU computes bfloat16 natively (amx_bf16)"),
    (frozenset(), "float32", "this CPU has no native bfloat16 arithmetic"),
    (None, "float32", "cannot be read"),
])
def test_auto_on_a_cpu_goes_by_its_bfloat16_flags(monkeypatch, flags, policy, why):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: flags)
    chosen = choose_precision("auto", "CPU")
    assert chosen.policy == policy and why in chosen.why
    assert chosen.record() == {"asked": "auto", "why": chosen.why}
    undo = "train.precision: float32 for full precision" if policy != "float32" else "train.precision: mixed"
    assert chosen.line().startswith(f"precision: {policy}") and undo in chosen.line()


@pytest.mark.parametrize("tensor_cores, policy", [(True, "mixed_float16"), (False, "float32")])
def test_auto_on_a_gpu_goes_by_its_tensor_cores(monkeypatch, tensor_cores, policy):
    monkeypatch.setattr(precision, "gpus_have_tensor_cores", lambda: tensor_cores)
    assert choose_precision("auto", "GPU (NVIDIA H200)").policy == policy


@pytest.mark.parametrize("asked, device, policy", [
    ("float32", "CPU", "float32"), ("mixed", "CPU", "mixed_bfloat16"), ("mixed", "GPU (Tesla P100)", "mixed_float16"),
])
def test_a_precision_asked_by_name_is_taken_whatever_the_hardware(monkeypatch, asked, device, policy):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: frozenset())
    monkeypatch.setattr(precision, "gpus_have_tensor_cores", lambda: False)
    chosen = choose_precision(asked, device)
    assert chosen.policy == policy and chosen.why is None and chosen.record() is None


def test_an_auto_run_records_and_says_its_choice(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: AMX)
    config = load_config(SMOKE, ["train.epochs=1"])
    assert config.train.precision == "auto"  # the default
    lines = []
    run = train(config, tmp_path, device="cpu", say=lambda line, kind: lines.append(line))
    results = json.loads((run.path / "results.json").read_text())
    assert results["precision"] == "mixed_bfloat16"
    assert results["precision_choice"] == {"asked": "auto", "why": "this CPU computes bfloat16 natively (amx_bf16)"}
    assert any(line.startswith("precision: mixed_bfloat16") and "auto:" in line for line in lines)
    plain = train(load_config(SMOKE, ["train.epochs=1", "train.precision=float32"]), tmp_path, name="plain",
                  device="cpu", say=QUIET)
    assert plain.results.precision == "float32" and "precision_choice" not in json.loads(
        (plain.path / "results.json").read_text())


@pytest.mark.slow
def test_a_resumed_auto_run_keeps_its_precision_on_other_hardware(tmp_path, monkeypatch):
    """Started in mixed precision where bfloat16 is native, resumed where it is not: the epochs after the
    resume compute as those before did, so the run ends as if never stopped."""
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: AMX)
    config = load_config(SMOKE, ["train.epochs=3", "train.precision=auto"])
    whole = train(config, tmp_path, name="whole", device="cpu", say=QUIET)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, name="cut", device="cpu", say=QUIET, progress=stop_before(3))
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: frozenset())
    assert choose_precision("auto", "CPU").policy == "float32"  # what a new run here would get
    resumed = resume(tmp_path / "cut", device="cpu", say=QUIET)
    assert whole.results.precision == resumed.results.precision == "mixed_bfloat16"
    assert rows(resumed.path) == rows(whole.path)
