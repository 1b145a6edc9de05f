"""Source kinds for checkpoint files given as MODEL: names, shapes and dtypes, without a model.

Safetensors files and sharded indexes are read from their headers alone (no torch
import, no tensor data read); pickle-based state_dicts (.pt, .pth, .bin, .ckpt) go
through the torch adapter, safely unless the user trusts the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from ..core.records import BufferRecord, Inventory, ParamRecord
from ..errors import UsageError
from .packed_weights import unpack
from .safetensors_header import read_header, read_index
from .spec import Loaded, SourceKind, SourceSpec

SUFFIXES = {
    ".safetensors": SourceKind.SAFETENSORS,
    ".json": SourceKind.SAFETENSORS_INDEX,
    ".pt": SourceKind.STATE_DICT,
    ".pth": SourceKind.STATE_DICT,
    ".bin": SourceKind.STATE_DICT,
    ".ckpt": SourceKind.STATE_DICT,
}

BUFFER_NAMES = frozenset({"running_mean", "running_var", "num_batches_tracked"})
PARAMETER_DTYPE_PREFIXES = ("float", "bfloat", "complex")


def is_buffer(name: str, dtype: str) -> bool:
    """Whether a state_dict entry is a buffer rather than a parameter.

    A state_dict mixes both without saying which is which, so this guesses:
    BatchNorm running statistics are buffers by name, and a tensor that is neither
    floating point nor complex (int64 `position_ids`, bool masks) cannot be a
    trainable parameter. Other buffers (a float attention mask, say) count as parameters.
    """
    return name.rpartition(".")[2] in BUFFER_NAMES or not dtype.startswith(PARAMETER_DTYPE_PREFIXES)


def natural_key(name: str) -> list:
    """Sort key putting 'layers.2' before 'layers.10', close to the model's own order."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name))]


def inventory_from_tensors(
    tensors: Iterable[tuple[str, tuple[int, ...], str, tuple[str, ...]]], source: str
) -> Inventory:
    """Records for (name, shape, dtype, aliases) entries; module names come from the parameter names.
    Packed quantized weights and pruning masks are counted as packed_weights.py explains."""
    params, buffers = [], []
    entries, notes = unpack(list(tensors))
    for e in entries:
        module = e.name.rpartition(".")[0]
        if e.buffer if e.buffer is not None else is_buffer(e.name, e.dtype):
            buffers.append(BufferRecord(e.name, e.shape, e.dtype, module))
        else:
            params.append(ParamRecord(e.name, e.shape, e.dtype, module, "", aliases=e.aliases))
    return Inventory(tuple(params), tuple(buffers), (), has_modules=False, source=source, notes=tuple(notes))


def read_checkpoint_inventory(spec: SourceSpec) -> Inventory:
    """Inventory of a .safetensors file, a *.safetensors.index.json, or a pickled state_dict file."""
    path = spec.ref
    if spec.kind in (SourceKind.SAFETENSORS, SourceKind.SAFETENSORS_INDEX):
        header = read_header(path) if spec.kind == SourceKind.SAFETENSORS else read_index(path)
        entries = sorted(header.tensors, key=lambda t: natural_key(t.name))
        return inventory_from_tensors(((t.name, t.shape, t.dtype, ()) for t in entries), path)
    from ..adapter.state_dict_files import load_state_dict_file, stored_tensors

    loaded = load_state_dict_file(path, trust_pickle=spec.trust_pickle)
    if not isinstance(loaded, dict):  # a whole pickled nn.Module: its real inventory
        from ..adapter.inventory import inventory_of

        return inventory_of(loaded, source=path)
    return inventory_from_tensors(((t.name, t.shape, t.dtype, t.aliases) for t in stored_tensors(loaded)), path)


# -- the SourceType protocol (sources/registry.py) ---------------------------------------------


def parse(text: str, base: Path | None) -> SourceSpec | None:
    """A file name ending in a checkpoint suffix; relative to the config's folder when it came from one."""
    kind = next((k for suffix, k in SUFFIXES.items() if text.lower().endswith(suffix)), None)
    if kind is None:
        return None
    if base is not None and ":" not in text and not os.path.isabs(text):
        text = str(base / text)
    return SourceSpec(kind, text, text)


def load(spec: SourceSpec, materialize: bool) -> Loaded:
    if spec.weights is not None or spec.weights_file is not None:
        raise UsageError("--weights and --weights-file apply to a model, not to a checkpoint given as MODEL")
    return Loaded(read_checkpoint_inventory(spec))


def builds_model(spec: SourceSpec) -> bool:
    return False


def runs_code(spec: SourceSpec) -> bool:
    return False


def input_files(spec: SourceSpec) -> tuple[str, ...]:
    return (spec.ref,)


def cache_identity(spec: SourceSpec) -> dict[str, Any] | None:
    return None  # the header is read directly, already fast
