"""One rule for what an hf: folder may make a loader read, checked before transformers or peft is
handed the folder (sources/hub_folders.resolve applies it to every folder it resolves). Pure: no torch.

A downloaded model folder is someone else's work: its shard index may name `../victim/...` or
`/home/me/secret.safetensors`, and `model.safetensors` may be a symbolic link to anywhere. Loaders
follow both. So, inside the folder's root (the folder itself, or the cached repository whose
snapshot links into its own `blobs/`):
- every shard an index names stays inside (no absolute path, no `..`, no link leading out);
- every weight, config or code file is a regular file that resolves inside (no link leading out,
  no FIFO or device that would block the loader).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..bounded_read import is_regular, read_regular, resolves_inside, stays_inside
from ..errors import FreezekitError, ModelError, WeightsError, quoted

INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json", "adapter_model.safetensors.index.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf")
TOKENIZER_SUFFIXES = (".model", ".txt", ".tiktoken")  # sentencepiece, merges and vocabularies
READ_SUFFIXES = (".json", ".py", *WEIGHT_SUFFIXES, *TOKENIZER_SUFFIXES)  # what transformers and peft may open
MAX_INDEX_BYTES = 64 << 20  # as a safetensors index given as MODEL (sources/safetensors_header.py)


def confine(folder: Path, root: Path, label: str) -> None:
    """Refuse, naming the file, a folder whose loaders would read outside `root` or block on a non-regular file."""
    for entry in _entries(folder, label):
        if entry.name.endswith(READ_SUFFIXES):
            _check_file(folder / entry.name, root, label)
    for name in INDEXES:
        if is_regular(folder / name):
            for shard in _shards(folder / name, label):
                _check_shard(folder, root, name, shard, label)


def shard_files(folder: Path, label: str) -> tuple[Path, ...]:
    """The shard files the folder's indexes name (after confine accepted them)."""
    names = {shard for name in INDEXES if is_regular(folder / name) for shard in _shards(folder / name, label)}
    return tuple(folder / shard for shard in sorted(names))


def _error(name: str) -> type[FreezekitError]:
    return WeightsError if name.endswith(WEIGHT_SUFFIXES) or ".index." in name else ModelError


def _entries(folder: Path, label: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as exc:
        raise ModelError(f"{label}: {folder} cannot be listed: {exc.strerror or exc}") from exc


def _check_file(path: Path, root: Path, label: str) -> None:
    error = _error(path.name)
    if not resolves_inside(path, root):
        raise error(
            f"{label}: {path.name} is a symbolic link leading out of the folder (to {quoted(os.path.realpath(path))}); "
            "refused: copy the file into the folder"
        )
    if path.exists() and not is_regular(path):
        if path.is_dir():
            return  # a folder named like a file is never opened by a loader as one
        raise error(
            f"{label}: {path.name} is not a regular file (a FIFO, a device or a socket); refused without opening it"
        )


def _shards(index: Path, label: str) -> list[str]:
    raw = read_regular(index, MAX_INDEX_BYTES, "shard index", WeightsError)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise WeightsError(f"{label}: {index.name} is not valid JSON") from exc
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise WeightsError(f'{label}: {index.name} needs a "weight_map" object of tensor name -> shard file name')
    return sorted(set(weight_map.values()))


def _check_shard(folder: Path, root: Path, index: str, shard: str, label: str) -> None:
    if not stays_inside(shard) or not resolves_inside(folder / shard, root):
        raise WeightsError(
            f"{label}: {index} names shard {quoted(shard)}, which lies outside the folder; refused without opening it"
        )
    if (folder / shard).exists() and not is_regular(folder / shard):
        raise WeightsError(f"{label}: shard {quoted(shard)} is not a regular file; refused without opening it")
