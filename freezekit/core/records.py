"""Plain records describing a model's parameters, buffers and modules.

Everything after the torch adapter works on these: no torch import, easy to
build by hand in tests, and cheap to cache as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

# Bytes per element, keyed by the short dtype names the adapter records
# (torch.float32 -> "float32"). Unknown dtypes count as 0 bytes rather than guess, and `--save`
# refuses them (freezekit writes only files it can read back). float4_e2m1fn_x2 packs two 4-bit
# values in one element of one byte, as torch counts it.
DTYPE_BYTES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "float8_e4m3fnuz": 1,
    "float8_e5m2fnuz": 1,
    "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1,
    "complex128": 16,
    "complex64": 8,
    "complex32": 4,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
    "bool": 1,
    "qint8": 1,
    "quint8": 1,
    "qint32": 4,
}
# Packed sub-byte dtypes (bitsandbytes 4-bit): bits per logical element.
PACKED_BITS = {"nf4": 4, "fp4": 4}


def numel_of(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class ModuleRecord:
    """One entry of `named_modules()`, in registration (pre-)order."""

    name: str  # "" for the root module
    type: str  # class name, e.g. "Conv2d"
    bases: tuple[str, ...] = ()  # class names of the whole MRO, the class itself first

    def is_a(self, type_name: str) -> bool:
        return type_name == self.type or type_name in self.bases


@dataclass(frozen=True)
class ParamRecord:
    """One distinct parameter tensor. Tied tensors appear once; their other names are aliases."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    module: str  # owning module's full name, "" for the root
    module_type: str
    requires_grad: bool = True
    aliases: tuple[str, ...] = ()

    @cached_property  # read by totals, plan, every renderer: 100,000-tensor checkpoints ask often
    def numel(self) -> int:
        return numel_of(self.shape)

    @property
    def nbytes(self) -> int:
        if self.dtype in PACKED_BITS:
            return self.numel * PACKED_BITS[self.dtype] // 8
        return self.numel * DTYPE_BYTES.get(self.dtype, 0)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class BufferRecord:
    """A buffer (e.g. BatchNorm running statistics): reported apart, never counted as a parameter."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    module: str

    @property
    def numel(self) -> int:
        return numel_of(self.shape)


@dataclass(frozen=True)
class Inventory:
    """What a model source holds.

    `has_modules` is False for checkpoint-only sources (a safetensors header, a
    state_dict): module names are then inferred from parameter names and there
    are no module types, so `type:` and `through:` rules cannot apply.
    """

    params: tuple[ParamRecord, ...]
    buffers: tuple[BufferRecord, ...] = ()
    modules: tuple[ModuleRecord, ...] = ()
    has_modules: bool = True
    source: str = ""
    notes: tuple[str, ...] = ()  # what the source says about how it counted (packed weights): report warnings
    no_split: tuple[str, ...] = ()  # a transformers model's _no_split_modules: its FSDP units by default
    built_class: str = ""  # hf: the class built when the config named none (reports record it as hf_class)

    def module_names(self) -> list[str]:
        if self.modules:
            return [m.name for m in self.modules if m.name]
        names: dict[str, None] = {}
        for p in self.params:
            for name in (p.name, *p.aliases) if p.aliases else (p.name,):
                module = name.rpartition(".")[0]
                if not module or module in names:  # a known module's parents are known too
                    continue
                parent = module.rpartition(".")[0]
                if not parent or parent in names:  # the common case: one new module
                    names[module] = None
                    continue
                parents: list[str] = []
                while module and module not in names:
                    parents.append(module)
                    module = module.rpartition(".")[0]
                names.update(dict.fromkeys(reversed(parents)))
        return list(names)
