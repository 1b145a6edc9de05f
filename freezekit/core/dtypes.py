"""The floating-point dtypes a user names: verify's --dtype and count's --param-dtype spell them
alike (float32, bfloat16, float16); the short spellings fp32, bf16 and fp16 are accepted too."""

from __future__ import annotations

from .choice import Choice

SHORT = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class Dtype(Choice):
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"

    @classmethod
    def _missing_(cls, value: object) -> Dtype | None:
        """fp32, bf16 and fp16 (count --param-dtype's former spellings) name the same members."""
        name = SHORT.get(value) if isinstance(value, str) else None
        return cls(name) if name else None

    @property
    def dtype(self) -> str:
        """torch's name for it (the value)."""
        return str(self.value)


def dtype_metavar(*members: Dtype) -> str:
    return "|".join(m.value for m in members or tuple(Dtype))
