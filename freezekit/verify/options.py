"""What verify is asked to run: device, batch, input shape, dtype, steps; checked before any model is built."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.dtypes import SHORT, Dtype
from ..errors import UsageError

DTYPES = (Dtype.FLOAT32, Dtype.BFLOAT16)  # what verify trains in (bfloat16: under autocast)


@dataclass(frozen=True)
class VerifyOptions:
    device: str = "cpu"
    batch_size: int | None = None  # None: a small default per family
    input_shape: tuple[int, ...] | None = None  # without the batch dimension, e.g. (3, 224, 224)
    dtype: str = "float32"  # float32 | bfloat16 (autocast)
    steps: int = 3
    warmup: int = 1
    compare: bool = False


def verify_options(
    device: str, batch_size: int | None, input_shape: str | None, dtype: str, steps: int, warmup: int, compare: bool
) -> VerifyOptions:
    """The options as given on the command line, or a UsageError naming the flag."""
    chosen = Dtype(dtype) if dtype in Dtype.values() or dtype in SHORT else None  # bf16 as count spells it
    if chosen not in DTYPES:
        raise UsageError(f"--dtype {dtype}: choose float32 or bfloat16")
    if not (device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise UsageError(f"--device {device}: choose cpu, cuda or cuda:N")
    shape = parse_shape(input_shape) if input_shape else None
    return VerifyOptions(device, batch_size, shape, str(chosen), steps, warmup, compare)


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(x) for x in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise UsageError(f"--input-shape {text}: expected positive integers like 3,224,224")
    return shape
