"""A checkpoint opened for reading its tensors' bytes in chunks: a .safetensors file, an index and
its shards, or a pickled state_dict (.pt/.pth/.bin/.ckpt, through adapter/).

Safetensors bytes are read with pread into one reusable buffer per file: the page cache stays out
of the process's memory (a memory map would count every page read in its RSS), and two files of
any size are compared in a few MiB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..bounded_read import open_regular
from ..errors import UsageError, WeightsError
from ..sources.checkpoint import SUFFIXES
from ..sources.safetensors_header import read_header, read_index
from ..sources.spec import SourceKind

CHUNK_BYTES = 8 << 20
MANIFEST_KEY = "freezekit_manifest"  # what `--save` embeds (adapter/save.py)


@dataclass(frozen=True)
class Stored:
    """One tensor of a checkpoint, as its file declares it."""

    name: str
    dtype: str  # short torch name, e.g. "bfloat16"
    shape: tuple[int, ...]
    nbytes: int


class TensorFile:
    """The tensors of one checkpoint, in file order, and their bytes chunk by chunk."""

    path: str
    entries: dict[str, Stored]
    manifest_text: str | None  # the freeze manifest embedded by `freeze --save`

    def chunks(self, name: str, size: int = CHUNK_BYTES) -> Iterator[bytes | bytearray | memoryview]:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""


class SafetensorsFile(TensorFile):
    def __init__(self, path: str, index: bool):
        header = read_index(path) if index else read_header(path)
        self.path = path
        self.entries = {}
        self._where: dict[str, tuple[str, int, int]] = {}
        for t, loc in zip(header.tensors, header.locations):
            self.entries[t.name] = Stored(t.name, t.dtype, t.shape, loc[2] - loc[1])
            self._where[t.name] = loc
        text = header.metadata.get(MANIFEST_KEY)
        self.manifest_text = text if isinstance(text, str) else None
        self._files: dict[str, Any] = {}
        self._buffer = bytearray(0)

    def _fd(self, path: str) -> int:
        if path not in self._files:
            self._files[path] = open_regular(path, "safetensors file", WeightsError)
        return self._files[path].fileno()

    def chunks(self, name: str, size: int = CHUNK_BYTES) -> Iterator[bytes | bytearray | memoryview]:
        """The tensor's bytes in pieces of `size` (the last one shorter): a full piece is the file's one
        buffer, valid until the next piece is asked for."""
        path, begin, end = self._where[name]
        fd = self._fd(path)
        if hasattr(os, "posix_fadvise") and end > begin:  # the kernel reads ahead while we compare
            os.posix_fadvise(fd, begin, end - begin, os.POSIX_FADV_WILLNEED)
        if len(self._buffer) != size:
            self._buffer = bytearray(size)
        for offset in range(begin, end, size):
            n = min(size, end - offset)
            buf = self._buffer if n == size else bytearray(n)
            if os.preadv(fd, [buf], offset) != n:
                raise WeightsError(f"{path}: tensor '{name}' runs past the end of the file (truncated while read?)")
            yield buf

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


class PickledFile(TensorFile):
    def __init__(self, path: str, trust_pickle: bool):
        from ..adapter.inventory import dtype_name
        from ..adapter.state_dict_files import load_pickled_checkpoint

        self.path = path
        self._tensors, self.manifest_text = load_pickled_checkpoint(path, trust_pickle)
        self.entries = {
            name: Stored(name, dtype_name(t.dtype), tuple(t.shape), t.numel() * t.element_size())
            for name, t in self._tensors.items()
        }

    def chunks(self, name: str, size: int = CHUNK_BYTES) -> Iterator[bytes | bytearray | memoryview]:
        from ..adapter.value_digests import tensor_bytes

        data = tensor_bytes(self._tensors[name])
        for offset in range(0, len(data), size):
            yield data[offset : offset + size]


def open_checkpoint(path: str, trust_pickle: bool = False, what: str = "checkpoint") -> TensorFile:
    """The checkpoint at `path`, by its suffix as `count FILE` reads it; anything else is a usage error."""
    kind = SUFFIXES.get(Path(path).suffix.lower())
    if kind is SourceKind.SAFETENSORS or kind is SourceKind.SAFETENSORS_INDEX:
        return SafetensorsFile(path, index=kind is SourceKind.SAFETENSORS_INDEX)
    if kind is SourceKind.STATE_DICT:
        return PickledFile(path, trust_pickle)
    raise UsageError(
        f"{path}: not a checkpoint {what} (expected .safetensors, .safetensors.index.json, .pt, .pth, .bin or .ckpt)"
    )
