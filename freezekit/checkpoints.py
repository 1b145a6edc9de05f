"""The inventory of a checkpoint file given as MODEL: names, shapes and dtypes, without a model.

Safetensors files and sharded indexes are read from their headers alone (no torch
import, no tensor data read); pickle-based state_dicts (.pt, .pth, .bin, .ckpt) go
through the torch adapter, safely unless the user trusts the file.
"""
from __future__ import annotations

import re
from typing import Iterable

from .packed_weights import unpack
from .records import BufferRecord, Inventory, ParamRecord
from .safetensors_header import read_header, read_index
from .sources import SAFETENSORS, SAFETENSORS_INDEX, Source

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


def inventory_from_tensors(tensors: Iterable[tuple[str, tuple[int, ...], str, tuple[str, ...]]],
                           source: str, meta: dict) -> Inventory:
    """Records for (name, shape, dtype, aliases) entries; module names come from the parameter names.
    Packed quantized weights and pruning masks are counted as packed_weights explains."""
    params, buffers = [], []
    entries, notes = unpack(list(tensors))
    for e in entries:
        module = e.name.rpartition(".")[0]
        if e.buffer if e.buffer is not None else is_buffer(e.name, e.dtype):
            buffers.append(BufferRecord(e.name, e.shape, e.dtype, module))
        else:
            params.append(ParamRecord(e.name, e.shape, e.dtype, module, "", aliases=e.aliases))
    if notes:
        meta = {**meta, "notes": tuple(notes)}
    return Inventory(tuple(params), tuple(buffers), (), has_modules=False, source=source, meta=meta)


def read_checkpoint_inventory(source: Source, trust_pickle: bool = False) -> Inventory:
    """Inventory of a .safetensors file, a *.safetensors.index.json, or a pickled state_dict file."""
    path = source.ref
    if source.kind in (SAFETENSORS, SAFETENSORS_INDEX):
        header = read_header(path) if source.kind == SAFETENSORS else read_index(path)
        entries = sorted(header.tensors, key=lambda t: natural_key(t.name))
        return inventory_from_tensors(((t.name, t.shape, t.dtype, ()) for t in entries), path,
                                      {"format": source.kind, "metadata": header.metadata})
    from .adapter.state_dict_files import load_state_dict_file, stored_tensors

    loaded = load_state_dict_file(path, trust_pickle=trust_pickle)
    if not isinstance(loaded, dict):  # a whole pickled nn.Module: its real inventory
        from .adapter.inventory import inventory_of

        return inventory_of(loaded, source=path)
    return inventory_from_tensors(((t.name, t.shape, t.dtype, t.aliases) for t in stored_tensors(loaded)),
                                  path, {"format": source.kind})
