"""Read a safetensors file's header, or a sharded index's, without loading any tensor.

Pure Python on purpose (no torch, numpy or safetensors import): auditing a 70-billion-parameter
checkpoint reads a few kilobytes of JSON, never the data (compare/ reads it, at `locations`).

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian unsigned header
length N, then N bytes of UTF-8 JSON object mapping each tensor name to {"dtype", "shape",
"data_offsets": [begin, end]} plus an optional "__metadata__" {str: str}; offsets count from the
first byte after the header. Everything is validated, since the file may come from anywhere.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..bounded_read import open_regular, stays_inside
from ..core.records import DTYPE_BYTES, numel_of
from ..errors import WeightsError, quoted, shortened_path

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
MAX_TENSORS = 1_000_000
MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_INDEX_HEADERS_BYTES = 256 * 1024 * 1024  # all the shards' headers of one index together

# safetensors dtype -> the short torch name used in records.DTYPE_BYTES
DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "C64": "complex64",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
    "F4": "float4_e2m1fn_x2",  # sub-byte: the file counts 4-bit values, two per byte (see _entry)
}
ENTRY_KEYS = ("dtype", "shape", "data_offsets")


class TensorEntry(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: a header may declare 100,000 of them."""

    name: str
    dtype: str  # short torch name, e.g. "bfloat16"
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SafetensorsHeader:
    """The tensors a file (or every shard of an index) declares, in the order the JSON lists them."""

    path: str
    tensors: tuple[TensorEntry, ...]
    metadata: dict = field(default_factory=dict, compare=False, hash=False)
    header_bytes: int = field(default=0, compare=False)  # the JSON header's length in the file
    locations: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)  # (file, begin, end) per tensor


def _fail(path: str | os.PathLike, problem: str) -> WeightsError:
    return WeightsError(f"{shortened_path(path)}: {problem}")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    seen = dict(pairs)
    if len(seen) != len(pairs):  # the fast path first: called for every tensor's object too
        counts: dict = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        raise ValueError(f"duplicate key {next(k for k, n in counts.items() if n > 1)!r}")
    return seen


_KEY_END = re.compile(rb'"\s*:')  # every key ends so; a string value may hold it too, never less often


def _shallow_pairs(value: object) -> int:
    """Key-value pairs of an object and of the objects directly inside it (a header's entries)."""
    return len(value) + sum(len(v) for v in value.values() if type(v) is dict) if isinstance(value, dict) else -1


def _loads_unique(text: str, raw: bytes) -> object:
    """json.loads refusing duplicate keys anywhere. The fast path parses without a hook (a Python
    call per object is 100,000 calls on a big header) and proves nothing was lost: the raw text holds
    at least as many key endings ('"' then ':') as keys, and the parsed objects at least the
    counted pairs, so equal counts mean no key was dropped. Anything else (a duplicate, deeper
    objects, '":' inside a string) takes the exact path."""
    data = json.loads(text)
    if len(_KEY_END.findall(raw)) == _shallow_pairs(data):
        return data
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


def _parse_json(path: str | os.PathLike, raw: bytes, what: str) -> dict:
    try:
        data = _loads_unique(raw.decode("utf-8"), raw)
    except UnicodeDecodeError as exc:
        raise _fail(
            path, f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start}): not a safetensors file or damaged"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"{what} is not valid JSON ({exc}): not a safetensors file or damaged") from exc
    if not isinstance(data, dict):
        raise _fail(path, f"{what} is a JSON {type(data).__name__}, not an object")
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(path: str | os.PathLike, name: str, info: object, data_size: int) -> tuple[TensorEntry, int, int]:
    if type(info) is dict and len(info) == 3:  # the fast path for a well-formed entry: 100,000 of them
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if (
            type(shape) is list
            and type(offsets) is list
            and len(offsets) == 2
            and type(dtype) is str
            and dtype in DTYPES
            and all(type(d) is int and d >= 0 for d in shape)
        ):
            begin, end = offsets
            if type(begin) is int and type(end) is int and 0 <= begin <= end <= data_size:
                shape_t = tuple(shape)
                name_dtype = DTYPES[dtype]
                if end - begin == numel_of(shape_t) * DTYPE_BYTES[name_dtype]:
                    return TensorEntry(name, name_dtype, shape_t), begin, end
    where = f"tensor {quoted(name)}"  # the slow path says exactly what is wrong
    if not isinstance(info, dict):
        raise _fail(path, f"{where}: expected an object with {', '.join(ENTRY_KEYS)}, got {type(info).__name__}")
    missing = [k for k in ENTRY_KEYS if k not in info]
    if missing:
        raise _fail(path, f"{where}: missing {', '.join(repr(k) for k in missing)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _fail(path, f"{where}: unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)):
        raise _fail(path, f"{where}: data_offsets must be [begin, end] with non-negative integers, got {offsets!r}")
    begin, end = offsets
    if end < begin:
        raise _fail(path, f"{where}: data_offsets end {end} is before begin {begin}")
    name_dtype = DTYPES[dtype]
    if dtype == "F4":  # torch's float4_e2m1fn_x2: one element holds the last dimension's values in pairs
        if not shape or shape[-1] % 2:
            raise _fail(path, f"{where}: F4 needs an even last dimension to pack in bytes, got {shape!r}")
        shape = [*shape[:-1], shape[-1] // 2]
    expected = numel_of(tuple(shape)) * DTYPE_BYTES[name_dtype]
    if end - begin != expected:
        raise _fail(path, f"{where}: data_offsets span {end - begin} bytes but {dtype} {shape} needs {expected}")
    if end > data_size:
        raise _fail(
            path, f"{where}: data ends at byte {end} but the file holds only {data_size} bytes of data (truncated?)"
        )
    return TensorEntry(name, name_dtype, tuple(shape)), begin, end


def _check_no_overlap(path: str | os.PathLike, spans: list[tuple[int, int, str]]) -> None:
    spans.sort()
    for (_, prev_end, prev_name), (begin, _, name) in zip(spans, spans[1:]):
        if begin < prev_end:
            raise _fail(path, f"tensors '{prev_name}' and '{name}' overlap in the data (damaged or crafted header)")


def read_header(
    path: str | os.PathLike, max_header_bytes: int = MAX_HEADER_BYTES, quiet: bool = False
) -> SafetensorsHeader:
    """Parse and validate the header of one .safetensors file; reads only the header bytes.

    Errors never echo what was read (the first 8 bytes as a length, say): the file may be anything.
    `quiet`: the file was named by another file (an index's shard), so it may be anything the
    index's author pointed at: a header that is not JSON is then not described either.
    """
    with open_regular(path, "safetensors file", WeightsError) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise _fail(
                    path,
                    "file is empty" if size == 0 else f"file is only {size} bytes, too short to be a safetensors file",
                )
            n = int.from_bytes(f.read(8), "little")
            if n > max_header_bytes:  # n is whatever the first 8 bytes were: never quoted
                raise _fail(
                    path,
                    f"not a safetensors file (its header length is over the {max_header_bytes // 2**20} MiB limit)",
                )
            if 8 + n > size:
                raise _fail(
                    path,
                    f"not a safetensors file or truncated (its header runs past the end of the {size:,}-byte file)",
                )
            raw = f.read(n)
        except OSError as exc:
            raise _fail(path, f"cannot be read: {exc.strerror or exc}") from exc
    if len(raw) != n:
        raise _fail(path, "file ended inside its header")
    if quiet:
        try:
            data = _parse_json(path, raw, "header")
        except WeightsError as exc:
            raise _fail(path, "not a safetensors file (its header is not a JSON object)") from exc
    else:
        data = _parse_json(path, raw, "header")
    metadata = data.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(path, "__metadata__ must be an object of string values")
    if len(data) > MAX_TENSORS:
        raise _fail(path, f"header declares {len(data):,} tensors, over the limit of {MAX_TENSORS:,}")
    tensors, spans = [], []
    for name, info in data.items():
        entry, begin, end = _entry(path, name, info, size - 8 - n)
        tensors.append(entry)
        spans.append((begin, end, name))
    locations = tuple((str(path), 8 + n + begin, 8 + n + end) for begin, end, _ in spans)
    _check_no_overlap(path, spans)
    return SafetensorsHeader(str(path), tuple(tensors), metadata, header_bytes=n, locations=locations)


def read_index(path: str | os.PathLike) -> SafetensorsHeader:
    """Read a sharded checkpoint's `*.safetensors.index.json` and the header of every shard it names.

    Tensors come in the weight_map's order; each must be declared by the shard it maps to. A shard
    must lie inside the index's folder (an absolute path or a '..' that climbs out is refused
    without opening it); shards named under several spellings are read once, and all their
    headers together may hold at most MAX_INDEX_HEADERS_BYTES.
    """
    index = Path(path)
    with open_regular(index, "safetensors index", WeightsError) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_INDEX_BYTES:
            raise _fail(path, f"index is {size:,} bytes, over the {MAX_INDEX_BYTES // 2**20} MiB limit")
        try:
            raw = f.read(MAX_INDEX_BYTES + 1)
        except OSError as exc:
            raise _fail(path, f"cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_INDEX_BYTES:
        raise _fail(path, f"index grew over the {MAX_INDEX_BYTES // 2**20} MiB limit while being read")
    data = _parse_json(path, raw, "index")
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) and v for v in weight_map.values()):
        raise _fail(path, 'not a safetensors index: needs a "weight_map" object of tensor name -> shard file name')
    if len(weight_map) > MAX_TENSORS:
        raise _fail(path, f"weight_map lists {len(weight_map):,} tensors, over the limit of {MAX_TENSORS:,}")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _fail(path, '"metadata" must be an object')
    spellings = dict.fromkeys(weight_map.values())
    for shard in spellings:
        if not stays_inside(shard):
            raise _fail(path, f"shard {quoted(shard)} lies outside the index's folder; refused without opening it")
    by_file: dict[str, dict[str, tuple[TensorEntry, tuple[str, int, int]]]] = {}
    shards: dict[str, dict[str, tuple[TensorEntry, tuple[str, int, int]]]] = {}
    budget = MAX_INDEX_HEADERS_BYTES
    for shard in spellings:
        shard_path = index.parent / shard
        real = os.path.realpath(shard_path)
        if real not in by_file:
            if not shard_path.exists():
                raise _fail(path, f"shard {quoted(shard)} is missing (looked for {shortened_path(shard_path)})")
            header = read_header(shard_path, quiet=True)
            budget -= header.header_bytes
            if budget < 0:
                raise _fail(
                    path,
                    f"the shards' headers hold more than {MAX_INDEX_HEADERS_BYTES:,} bytes, "
                    "over the limit for an index",
                )
            by_file[real] = {t.name: (t, loc) for t, loc in zip(header.tensors, header.locations)}
        shards[shard] = by_file[real]
    pairs = []
    for name, shard in weight_map.items():
        found = shards[shard].get(name)
        if found is None:
            raise _fail(path, f"weight_map puts tensor '{name}' in shard '{shard}', which does not declare it")
        pairs.append(found)
    return SafetensorsHeader(str(path), tuple(p[0] for p in pairs), metadata, locations=tuple(p[1] for p in pairs))
