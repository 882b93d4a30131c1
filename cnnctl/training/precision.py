"""`train.precision`: which Keras dtype policy a run computes in, and why.

`auto` is mixed precision (16-bit compute, float32 weights) where the hardware computes 16-bit
natively, and float32 elsewhere, as Ultralytics turns on AMP only where it works. Natively means
what makes mixed precision pay: a CPU with AMX or AVX512-BF16 (bfloat16) or a GPU with tensor cores
(float16, compute capability 7.0 or newer). Elsewhere the 16-bit arithmetic is emulated and slower: on
an AMD EPYC without AVX512-BF16 the lecture net trained 5× and fashion_best 14× slower than in float32.
Trained to completion, mixed kept float32's test accuracy within 0.3 points on the zoo (configs/README.md,
"Float32 against mixed precision"), which is why `auto` is the default: the rule issue #23 set for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnctl import keras_catalog

# CPU flags of native bfloat16 arithmetic in /proc/cpuinfo: x86's AVX512-BF16 and AMX, Arm's BF16 extension.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})

# Tensor cores came with Volta (compute capability 7.0); older GPUs emulate float16 matrix products.
TENSOR_CORE_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class Precision:
    """What a run computes in: `policy` is Keras' dtype policy name, `asked` the config's `train.precision`,
    `why` what `auto` went by (None when asked for by name)."""

    policy: str
    asked: str
    why: str | None = None

    @property
    def mixed(self) -> bool:
        return self.policy != "float32"

    def record(self) -> dict[str, str] | None:
        """For results.json: how `auto` chose, so a reader can tell it from a config that asked."""
        return {"asked": self.asked, "why": self.why} if self.why else None

    def line(self) -> str:
        """What `train` says as it starts."""
        what = f"precision: {self.policy}"
        if self.mixed:
            what += " (16-bit compute, float32 weights)"
        if self.why:
            undo = "train.precision: float32 for full precision" if self.mixed else "train.precision: mixed to force it"
            what += f"; auto: {self.why} ({undo})"
        return what


def choose_precision(asked: str, device: str) -> Precision:
    """The dtype policy for `train.precision` on `device` (`select_device`'s name: `CPU`, `GPU (...)`):
    16-bit compute is bfloat16 on a CPU and float16 on a GPU."""
    on_gpu = device.startswith("GPU")
    mixed = "mixed_float16" if on_gpu else "mixed_bfloat16"
    if asked == "mixed":
        return Precision(mixed, asked)
    if asked == "float32":
        return Precision("float32", asked)
    if on_gpu:
        native = gpus_have_tensor_cores()
        why = ("every GPU has tensor cores (compute capability 7.0 or newer)" if native else
               "a GPU without tensor cores (compute capability under 7.0)")
    else:
        flags = cpu_bf16_flags()
        native = bool(flags)
        why = (f"this CPU computes bfloat16 natively ({', '.join(sorted(flags))})" if native else
               "this CPU has no native bfloat16 arithmetic (AMX, AVX512-BF16 or Arm BF16)" if flags is not None else
               "this CPU's bfloat16 support cannot be read (no /proc/cpuinfo)")
    return Precision(mixed if native else "float32", asked, why)


def set_precision(asked: str, device: str) -> Precision:
    """Choose the policy and make it Keras' global one, which the layers built next compute in."""
    precision = choose_precision(asked, device)
    keras_catalog.keras().mixed_precision.set_global_policy(precision.policy)
    return precision


def cpu_bf16_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """This CPU's flags of native bfloat16 arithmetic (empty: none); None where they cannot be read (not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as info:
                cpuinfo = info.read()
        except OSError:
            return None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):  # x86 says flags, Arm says Features
            flags |= set(value.split())
    return frozenset(flags & NATIVE_BF16_FLAGS) if flags else None


def cpu_computes_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU does bfloat16 arithmetic natively; None where it cannot be told (not Linux).

    Without it, oneDNN emulates the 16-bit compute of `precision: mixed` and training is slower, not
    faster: on an AMD EPYC with AVX-512 but no AVX512-BF16, `cnnctl bench` measured the lecture net 5×
    and configs/fashion_best.yaml 14× slower than in float32 (BENCHMARKS.md, "Mixed precision").
    """
    flags = cpu_bf16_flags(cpuinfo)
    return None if flags is None else bool(flags)


def gpus_have_tensor_cores() -> bool:
    """Whether every GPU TensorFlow sees has compute capability 7.0 or newer."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(g).get("compute_capability") for g in gpus]
    return bool(gpus) and all(c is not None and tuple(c) >= TENSOR_CORE_CAPABILITY for c in capabilities)
