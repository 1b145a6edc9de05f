"""Bytes of any stored dtype as NumPy numbers, for the differences of a changed tensor.

NumPy has no bfloat16 or float8: bfloat16 is the top half of a float32 (shifted into place, never
read as float16), and each float8 format is decoded through a 256-entry table built from its
definition (sign, exponent bits, bias, and how it spells NaN and infinity).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

PLAIN = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint64": "<u8",
    "uint32": "<u4",
    "uint16": "<u2",
    "uint8": "u1",
    "bool": "u1",
    "complex64": "<c8",
    "complex128": "<c16",
}
FLOAT8 = {  # name -> (exponent bits, mantissa bits, bias, how NaN and infinity are spelled)
    "float8_e4m3fn": (4, 3, 7, "fn"),
    "float8_e5m2": (5, 2, 15, "ieee"),
    "float8_e4m3fnuz": (4, 3, 8, "fnuz"),
    "float8_e5m2fnuz": (5, 2, 16, "fnuz"),
    "float8_e8m0fnu": (8, 0, 127, "e8m0"),
}


@lru_cache(maxsize=None)
def float8_table(dtype: str) -> Any:
    """float64 value of each of the 256 codes of a float8 format."""
    exp_bits, man_bits, bias, style = FLOAT8[dtype]
    codes = np.arange(256)
    if style == "e8m0":  # no sign, no mantissa: 2**(e - 127), 0xFF is NaN
        table = np.ldexp(1.0, codes - bias)
        table[255] = np.nan
        return table
    e = (codes >> man_bits) & ((1 << exp_bits) - 1)
    m = (codes & ((1 << man_bits) - 1)) / (1 << man_bits)
    magnitude = np.where(e == 0, np.ldexp(m, 1 - bias), np.ldexp(1.0 + m, e - bias))
    table = np.where(codes & 0x80, -magnitude, magnitude)
    top = (1 << exp_bits) - 1
    if style == "fn":  # no infinity; S.1111.111 is NaN
        table[(e == top) & (m * (1 << man_bits) == (1 << man_bits) - 1)] = np.nan
    elif style == "fnuz":  # no infinity, no negative zero: 0x80 is the one NaN
        table[0x80] = np.nan
    else:  # IEEE: an all-ones exponent is infinity (mantissa 0) or NaN
        table[(e == top) & (m == 0)] = np.where(codes[(e == top) & (m == 0)] & 0x80, -np.inf, np.inf)
        table[(e == top) & (m != 0)] = np.nan
    return table


def numbers(dtype: str, raw: bytes | bytearray | memoryview) -> Any:
    """The values in a dtype that holds each exactly: float32 for 32 bits and fewer (bf16, fp16,
    float8), float64 for float64 and integers, complex128 for complex; None for a dtype kept only
    as bytes (packed float4)."""
    if dtype == "bfloat16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    if dtype in FLOAT8:
        return float8_table(dtype).astype(np.float32)[np.frombuffer(raw, np.uint8)]
    if dtype not in PLAIN:
        return None
    values = np.frombuffer(raw, PLAIN[dtype])
    if values.dtype.kind == "c":
        return values.astype(np.complex128)
    if dtype in ("float32", "float16"):
        return values.astype(np.float32, copy=False)  # float32: the buffer itself, no copy
    return values.astype(np.float64, copy=False)
