"""Bytes per element of a parameter, its gradient and its optimizer state under a precision. Pure.

`--precision` (None: as stored, every part in the parameter's own dtype, as torch.optim keeps it):

    fp32 | bf16 | fp16          parameters, gradients and optimizer states all in that dtype
    bf16-mixed | fp16-mixed     the ZeRO paper's accounting with the freeze: each parameter costs
                                2 bytes (its half-precision copy); each trainable one also 2 bytes of
                                gradient and K bytes of float32 master copy and optimizer states
                                (K = 12 for Adam/AdamW, 8 for SGD with momentum, 4 for plain SGD);
                                frozen parameters have no master copy

`--param-dtype` is the storage dtype of the parameters only (default: the precision's dtype, or as
stored). A parameter stored in float32 under a mixed precision is its own master copy (K - 4).
Packed and quantized weights (bitsandbytes nf4/fp4, int8) keep their real bytes whatever the
precision: nf4/fp4 pack two values per byte, plus their float32 absmax, one per block of 64 values
(bitsandbytes' default blocksize; with double quantization it is smaller, which this overcounts).
"""

from __future__ import annotations

from ..core.choice import Choice
from ..core.records import DTYPE_BYTES, PACKED_BITS, ParamRecord

FLOATING = frozenset({"float64", "float32", "float16", "bfloat16"})
MASTER_BYTES = 4  # the float32 master copy a mixed-precision optimizer keeps per trainable element
STATE_BYTES = 4  # mixed precision keeps optimizer states in float32
ABSMAX_BLOCK = 64  # bitsandbytes' default blocksize for 4-bit quantization


class Precision(Choice):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    BF16_MIXED = "bf16-mixed"
    FP16_MIXED = "fp16-mixed"

    @property
    def mixed(self) -> bool:
        return self.value.endswith("-mixed")

    @property
    def dtype(self) -> str:
        """The dtype of the compute copy: the parameters' (default) storage and the gradients'."""
        return {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[self.value.removesuffix("-mixed")]


PRECISIONS = Precision.values()


def stored_bytes(p: ParamRecord) -> int:
    """The record's real bytes: packed 4-bit storage plus its absmax, or numel x dtype size."""
    if p.dtype in PACKED_BITS:
        return p.nbytes + -(-p.numel // ABSMAX_BLOCK) * 4
    return p.nbytes


def param_bytes(p: ParamRecord, precision: Precision | None, storage: str | None) -> int:
    """A parameter's bytes: quantized weights as they are packed, others in `storage` (the
    --param-dtype), else the precision's dtype, else as stored."""
    if p.dtype not in FLOATING:
        return stored_bytes(p)
    dtype = storage or (precision.dtype if precision else p.dtype)
    return p.numel * DTYPE_BYTES[dtype]


def grad_bytes(p: ParamRecord, precision: Precision | None, storage: str | None) -> int:
    """A trainable parameter's gradient: in the compute dtype, or as the parameter when none is set."""
    if precision is None:
        return param_bytes(p, None, storage)
    return p.numel * DTYPE_BYTES[precision.dtype]


def state_bytes(p: ParamRecord, states: int, precision: Precision | None, storage: str | None) -> int:
    """A trainable parameter's optimizer states (`states` per element), with its float32 master
    copy under a mixed precision when the stored parameter is narrower than float32."""
    if precision is None or not precision.mixed:
        return states * grad_bytes(p, precision, storage)
    master = MASTER_BYTES if param_bytes(p, precision, storage) < p.numel * MASTER_BYTES else 0
    return p.numel * (master + states * STATE_BYTES)
