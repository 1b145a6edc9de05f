"""The warm path: a model's inventory cached on disk, so a repeated audit never imports torch.

A parameter inventory (names, shapes, dtypes, module types, registration order, tied
aliases) is fully determined by the model source, its arguments and the installed
torch/torchvision versions, so that is the key: the kind's module says what identifies its
source (`cache_identity`: a torchvision name, a factory file's content), or that it must not
be cached. Nothing is cached when real tensors are needed (weights, --save, verify).

One small JSON file per key under $FREEZEKIT_CACHE_DIR, else $XDG_CACHE_HOME/freezekit,
else ~/.cache/freezekit. Writes are atomic (temp file + rename), so concurrent runs writing
the same key never leave a damaged file; a damaged or foreign file is ignored and rewritten.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..atomic_write import TMP_MARK, atomic_path
from ..core.installed import versions
from ..core.records import BufferRecord, Inventory, ModuleRecord, ParamRecord
from .registry import source_type
from .spec import SourceSpec

FORMAT = "freezekit.inventory-cache"
FORMAT_VERSION = 1
PREFIX = "inv-"


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
    material: dict[str, Any] = {"format": FORMAT_VERSION, "kind": spec.kind.value, "args": spec.args,
                                "versions": versions(), **identity}
    if material["versions"].get("torch") is None:
        return None
    try:
        text = json.dumps(material, sort_keys=True)
    except (TypeError, ValueError):
        return None  # args that are not JSON values: do not cache
    return hashlib.sha256(text.encode()).hexdigest()


def _to_json(inv: Inventory, key: str) -> str:
    return json.dumps({
        "format": FORMAT, "format_version": FORMAT_VERSION, "key": key, "source": inv.source,
        "has_modules": inv.has_modules,
        "modules": [[m.name, m.type, list(m.bases)] for m in inv.modules],
        "params": [[p.name, list(p.shape), p.dtype, p.module, p.module_type, p.requires_grad, list(p.aliases)]
                   for p in inv.params],
        "buffers": [[b.name, list(b.shape), b.dtype, b.module] for b in inv.buffers],
    }, separators=(",", ":"))


def _from_json(text: str, key: str) -> Inventory | None:
    try:
        d = json.loads(text)
        if d.get("format") != FORMAT or d.get("format_version") != FORMAT_VERSION or d.get("key") != key:
            return None
        return Inventory(
            params=tuple(ParamRecord(n, tuple(s), dt, m, mt, bool(rg), tuple(al)) for n, s, dt, m, mt, rg, al in d["params"]),
            buffers=tuple(BufferRecord(n, tuple(s), dt, m) for n, s, dt, m in d["buffers"]),
            modules=tuple(ModuleRecord(n, t, tuple(b)) for n, t, b in d["modules"]),
            has_modules=bool(d["has_modules"]),
            source=d["source"],
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # damaged: ignored, and rewritten by the next build


def _path(key: str) -> Path:
    return cache_dir() / f"{PREFIX}{key}.json"


def get(key: str) -> Inventory | None:
    try:
        return _from_json(_path(key).read_text(encoding="utf-8"), key)
    except (OSError, UnicodeDecodeError):
        return None


def put(key: str, inventory: Inventory) -> None:
    """Best effort: a cache that cannot be written never fails the command."""
    path = _path(key)
    with contextlib.suppress(Exception):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, force=True) as tmp:
            tmp.write_text(_to_json(inventory, key), encoding="utf-8")


def clear() -> int:
    """Remove every cache file (and leftover temp files); return how many were removed."""
    removed = 0
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if path.name.startswith(PREFIX) or (path.name.startswith("." + PREFIX) and TMP_MARK in path.name):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed
