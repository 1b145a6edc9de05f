"""The warm path: a model's inventory cached on disk, so a repeated audit never imports torch.

A parameter inventory (names, shapes, dtypes, module types, registration order, tied
aliases) is fully determined by the model source, its arguments and the installed
torch/torchvision versions, so that is the key: the kind's module says what identifies its
source (`cache_identity`: a torchvision name, a factory file's content), or that it must not
be cached. Nothing is cached when real tensors are needed (weights, --save, verify).

One small JSON file per key under $FREEZEKIT_CACHE_DIR, else $XDG_CACHE_HOME/freezekit,
else ~/.cache/freezekit. Writes are atomic (temp file + rename), so concurrent runs writing
the same key never leave a damaged file; a damaged or foreign file is ignored and rewritten.
A folder or entry that another user could have written is not read (sources/cache_trust.py), with
one warning; each entry carries a SHA-256 of its content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..atomic_write import TMP_MARK, atomic_path
from ..core.installed import versions
from ..core.records import BufferRecord, Inventory, ModuleRecord, ParamRecord
from . import cache_trust
from .registry import source_type
from .spec import SourceSpec

FORMAT = "freezekit.inventory-cache"
FORMAT_VERSION = 3  # 2: a sha256 of the content, the source's notes and the class it built; 3: no_split
PREFIX = "inv-"
KEYS = {
    *("format", "format_version", "sha256", "key", "source", "has_modules"),
    *("modules", "params", "buffers", "notes", "built_class", "no_split"),
}
MAX_NOTES = 64
ENTRY_HEAD = b'{"format":"' + FORMAT.encode() + b'"'  # how every entry _to_json writes begins
ENTRY_NAME = re.compile(re.escape(PREFIX) + r"[0-9a-zA-Z]{64}\.json")
TEMP_NAME = re.compile(
    r"\." + re.escape(PREFIX) + r"[0-9a-zA-Z]{64}\.json" + re.escape(TMP_MARK) + r"\d+-(probe-)?[0-9a-f]{8}"
)
# Limits on an entry: far above any real model, low enough that a planted entry cannot hurt.
MAX_ENTRY_BYTES = 256 << 20
MAX_ENTRIES = 1_000_000  # parameters, buffers or modules
MAX_NAME = 4096
MAX_DIMS = 32
MAX_NUMEL = 1 << 53
DTYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def cache_dir() -> Path:
    explicit = os.environ.get("FREEZEKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "freezekit"


def cache_key(spec: SourceSpec) -> str | None:
    """The key for this model source, or None when it must not be cached."""
    identity = source_type(spec.kind).cache_identity(spec)
    if identity is None:
        return None
    material: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "kind": spec.kind.value,
        "args": spec.args,
        "versions": versions(),
        **identity,
    }
    if material["versions"].get("torch") is None:
        return None
    try:
        text = json.dumps(material, sort_keys=True)
    except (TypeError, ValueError):
        return None  # args that are not JSON values: do not cache
    return hashlib.sha256(text.encode()).hexdigest()


def _to_json(inv: Inventory, key: str) -> str:
    fields = {
        "key": key,
        "source": inv.source,
        "has_modules": inv.has_modules,
        "modules": [[m.name, m.type, list(m.bases)] for m in inv.modules],
        "params": [
            [p.name, list(p.shape), p.dtype, p.module, p.module_type, p.requires_grad, list(p.aliases)]
            for p in inv.params
        ],
        "buffers": [[b.name, list(b.shape), b.dtype, b.module] for b in inv.buffers],
        "notes": list(inv.notes),
        "built_class": inv.built_class,
        "no_split": list(inv.no_split),
    }
    head = {"format": FORMAT, "format_version": FORMAT_VERSION}
    entry = {**head, "sha256": cache_trust.checksum({**head, **fields}), **fields}
    return json.dumps(entry, separators=(",", ":"))


def _strings(value: Any, limit: int = MAX_ENTRIES) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= limit
        and all(isinstance(v, str) and len(v) <= MAX_NAME for v in value)
    )


def _shape(value: Any) -> tuple[int, ...] | None:
    """A shape as the adapter records it: at most MAX_DIMS non-negative ints, numel within MAX_NUMEL."""
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        return None
    numel = 1
    for d in value:
        if type(d) is not int or d < 0:
            return None
        numel *= d
        if numel > MAX_NUMEL:
            return None
    return tuple(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_NAME


def _param(row: Any) -> ParamRecord | None:
    if not (isinstance(row, list) and len(row) == 7):
        return None
    name, shape, dtype, module, module_type, requires_grad, aliases = row
    shape = _shape(shape)
    if (
        shape is None
        or not all(_is_text(v) for v in (name, module, module_type))
        or not _is_text(dtype)
        or not DTYPE_NAME.fullmatch(dtype)
        or type(requires_grad) is not bool
        or not _strings(aliases)
    ):
        return None
    return ParamRecord(name, shape, dtype, module, module_type, requires_grad, tuple(aliases))


def _buffer(row: Any) -> BufferRecord | None:
    if not (isinstance(row, list) and len(row) == 4):
        return None
    name, shape, dtype, module = row
    shape = _shape(shape)
    if shape is None or not all(_is_text(v) for v in (name, dtype, module)) or not DTYPE_NAME.fullmatch(dtype):
        return None
    return BufferRecord(name, shape, dtype, module)


def _module(row: Any) -> ModuleRecord | None:
    if not (
        isinstance(row, list)
        and len(row) == 3
        and _is_text(row[0])
        and _is_text(row[1])
        and _strings(row[2], MAX_DIMS * 8)
    ):
        return None
    return ModuleRecord(row[0], row[1], tuple(row[2]))


def _rows(value: Any, parse: Any) -> tuple | None:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        return None
    rows = tuple(parse(row) for row in value)
    return None if any(r is None for r in rows) else rows


def _from_json(text: str, key: str) -> Inventory | None:
    """The cached inventory, validated as if a stranger wrote it; None on any doubt (then it is rebuilt).

    Exactly the keys and types `_to_json` writes, shapes of non-negative ints within limits, and
    parameter names (aliases included) unique: an entry that could change an answer is never used.
    """
    try:
        d = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if (
        not isinstance(d, dict)
        or set(d) != KEYS
        or d["format"] != FORMAT
        or d["format_version"] != FORMAT_VERSION
        or d["key"] != key
        or not cache_trust.checksum_matches(d)
        or not _is_text(d["source"])
        or type(d["has_modules"]) is not bool
        or not isinstance(d["no_split"], list)
        or not all(_is_text(n) for n in d["no_split"])
        or not _strings(d["notes"], MAX_NOTES)
        or not _is_text(d["built_class"])
    ):
        return None
    params, buffers, modules = _rows(d["params"], _param), _rows(d["buffers"], _buffer), _rows(d["modules"], _module)
    if params is None or buffers is None or modules is None:
        return None
    names = [n for p in params for n in p.names]
    if len(set(names)) != len(names) or len({b.name for b in buffers}) != len(buffers):
        return None
    return Inventory(
        params=params,
        buffers=buffers,
        modules=modules,
        has_modules=d["has_modules"],
        source=d["source"],
        no_split=tuple(d["no_split"]),
        notes=tuple(d["notes"]),
        built_class=d["built_class"],
    )


def _path(key: str) -> Path:
    return cache_dir() / f"{PREFIX}{key}.json"


def _read_entry(path: Path) -> tuple[str | None, str | None]:
    """The entry's text, if it is a regular file (not a link, FIFO or device) of at most MAX_ENTRY_BYTES
    that only its owner, the current user, can write; else None, and why when someone else could have."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None, None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
                return None, None
            doubt = cache_trust.doubt(st, path)
            if doubt:
                return None, doubt
            raw = f.read(MAX_ENTRY_BYTES + 1)
        return (raw.decode("utf-8") if len(raw) <= MAX_ENTRY_BYTES else None), None
    except (OSError, UnicodeDecodeError):
        return None, None


def lookup(key: str) -> tuple[Inventory | None, str | None]:
    """The cached inventory (None: build it), and a warning when the folder or the entry could have
    been written by another user (then nothing is read, and `put` writes nothing into such a folder)."""
    doubt = cache_trust.folder_doubt(cache_dir())
    if doubt:
        return None, doubt
    text, doubt = _read_entry(_path(key))
    return (None if text is None else _from_json(text, key)), doubt


def get(key: str) -> Inventory | None:
    return lookup(key)[0]


def put(key: str, inventory: Inventory) -> None:
    """Best effort: a cache that cannot be written never fails the command. The folder is created
    private, each entry is left writable by its owner only, and nothing goes into a folder in doubt."""
    path = _path(key)
    with contextlib.suppress(Exception):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if cache_trust.folder_doubt(path.parent):
            return
        with atomic_path(path, force=True) as tmp:
            tmp.write_text(_to_json(inventory, key), encoding="utf-8")
        os.chmod(path, 0o600)


def _written_by_us(path: Path) -> bool:
    """An entry (`inv-<key>.json` holding our format) or one of our temp files beside one; never a link."""
    if path.is_symlink() or not path.is_file():
        return False
    if TEMP_NAME.fullmatch(path.name):
        return True
    if not ENTRY_NAME.fullmatch(path.name):
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(ENTRY_HEAD)) == ENTRY_HEAD
    except OSError:
        return False


def clear() -> int:
    """Remove the cache files freezekit wrote (and its leftover temp files); return how many were removed.
    Anything else in the folder (a file that merely starts with `inv-`, a link) is left alone."""
    removed = 0
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if _written_by_us(path):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed
