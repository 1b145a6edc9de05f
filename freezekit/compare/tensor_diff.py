"""One tensor in two checkpoints: unchanged, changed (how much), reshaped or retyped.

The comparison is by bytes, chunk by chunk: byte-identical chunks are recognised at memory speed
and cost no float math. So a NaN that stayed the same NaN is unchanged, and -0.0 -> 0.0 is a
change (its largest absolute difference is 0). Only a tensor whose bytes differ is decoded
(compare/decode.py) for its largest absolute difference and its relative change
||after - before|| / ||before||.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.choice import Choice
from ..core.records import numel_of
from .tensor_files import TensorFile


class Status(Choice):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    RESHAPED = "reshaped"
    RETYPED = "retyped"


@dataclass(frozen=True)
class TensorDiff:
    name: str
    status: Status
    dtype: str  # "float32", or "float32 -> bfloat16" when retyped
    shape: str  # "3x3", or "3x3 -> 3x4" when reshaped
    numel: int
    max_abs_diff: float | None = None  # changed only; NaN when a value became or stopped being NaN
    rel_change: float | None = None  # changed only; None when the tensor was all zeros before
    frozen: bool | None = None  # None: no rules given, or not a parameter (a buffer)


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bytearray) and isinstance(b, bytearray):
        return a == b  # memcmp
    import numpy as np

    return bool(np.array_equal(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8)))


class _Differences:
    """Running largest difference and squared norms over the chunks of a changed tensor."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.max_abs = 0.0
        self.diff_sq = 0.0
        self.before_sq = 0.0
        self.nan_flip = False
        self.decodable = True
        self._work: Any = None  # one scratch array for the differences: no fresh 8 MiB (page faults) a chunk

    def add(self, before: Any, after: Any) -> None:
        """Add a chunk; `after is before` for a chunk whose bytes did not change."""
        import numpy as np

        from .decode import numbers

        x = numbers(self.dtype, before)
        if x is None:
            self.decodable = False
            return
        with np.errstate(all="ignore"):
            if after is not before:
                self._add_difference(x, numbers(self.dtype, after))
            norm = _sum_squares(x)
            self.before_sq += norm if not math.isnan(norm) else float(np.nansum(np.abs(x) ** 2))

    def _add_difference(self, x: Any, y: Any) -> None:
        """The fast path has no NaN in the difference; a NaN sends the chunk through the exact one."""
        import numpy as np

        if self._work is None or self._work.size < x.size or self._work.dtype != x.dtype:
            self._work = np.empty_like(x)
        d = self._work[: x.size]
        np.subtract(y, x, out=d)
        np.abs(d, out=d)
        top = float(d.max()) if d.size else 0.0
        if math.isnan(top):  # a NaN on either side (or inf - inf): equal values and both-NaN differ by 0
            d[(x == y) | (np.isnan(x) & np.isnan(y))] = 0.0
            self.nan_flip = self.nan_flip or bool(np.isnan(d).any())
            top = float(np.nanmax(d))
            d = np.nan_to_num(d, nan=0.0)
        self.max_abs = max(self.max_abs, top)
        self.diff_sq += _sum_squares(d)

    def result(self) -> tuple[float | None, float | None]:
        if not self.decodable:
            return None, None
        max_abs = math.nan if self.nan_flip else self.max_abs
        if self.before_sq == 0.0:
            return max_abs, 0.0 if self.diff_sq == 0.0 else None
        return max_abs, math.sqrt(self.diff_sq) / math.sqrt(self.before_sq)


def _sum_squares(values: Any) -> float:
    """Σ|v|² in float64 (np.dot in the values' own dtype: BLAS, a few milliseconds a chunk)."""
    import numpy as np

    if values.dtype.kind == "c":
        values = np.abs(values)
    return float(np.dot(values, values))


def compare_tensor(name: str, before: TensorFile, after: TensorFile) -> TensorDiff:
    a, b = before.entries[name], after.entries[name]
    numel = numel_of(b.shape)
    if a.dtype != b.dtype:
        return TensorDiff(name, Status.RETYPED, f"{a.dtype} -> {b.dtype}", shape_text(b.shape), numel)
    if a.shape != b.shape:
        return TensorDiff(name, Status.RESHAPED, a.dtype, f"{shape_text(a.shape)} -> {shape_text(b.shape)}", numel)
    diffs: _Differences | None = None
    equal_prefix = 0
    for ca, cb in zip(before.chunks(name), after.chunks(name)):
        if _same(ca, cb):
            if diffs is None:
                equal_prefix += 1
            else:
                diffs.add(ca, ca)  # equal bytes add to ||before|| only
            continue
        if diffs is None:
            diffs = _Differences(a.dtype)
            diffs.add(ca, cb)
            for i, prefix in enumerate(before.chunks(name)):  # read again: ||before|| of the equal start
                if i == equal_prefix:
                    break
                diffs.add(prefix, prefix)
        else:
            diffs.add(ca, cb)
    if diffs is None:
        return TensorDiff(name, Status.UNCHANGED, a.dtype, shape_text(a.shape), numel)
    max_abs, rel = diffs.result()
    return TensorDiff(name, Status.CHANGED, a.dtype, shape_text(a.shape), numel, max_abs, rel)
