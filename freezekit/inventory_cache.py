"""The warm path: a model's inventory cached on disk, so a repeated audit never imports torch.

A parameter inventory (names, shapes, dtypes, module types, registration order, tied
aliases) is fully determined by the model source, its arguments and the installed
torch/torchvision versions, so that is the key. What is cached:
  - torchvision models by name (no weights), keyed on name, args and versions;
  - `file.py:callable` models, keyed on the file's content too (only that file: a factory
    whose result depends on other files it imports should be run with --no-cache);
  - `timm:NAME` models, keyed on name, args and the timm version too;
  - `hf:` models and PEFT adapters, keyed on the content of config.json (and adapter_config.json
    and the base's config.json), --hf-class, args and the transformers/peft versions; never a
    model that ships its own code (auto_map), which could change without its config changing;
never `pkg.mod:callable` (its source cannot be hashed without importing it), checkpoints
(their header is read directly, already fast), or anything with weights, --save or verify.

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

from .atomic_write import TMP_MARK, atomic_path
from .config import ModelSpec
from .installed import versions
from .records import BufferRecord, Inventory, ModuleRecord, ParamRecord
from .sources import FILE_FACTORY, HF, TIMM, TORCHVISION, parse_source

FORMAT = "freezekit.inventory-cache"
FORMAT_VERSION = 1
PREFIX = "inv-"


def cache_dir() -> Path:
    explicit = os.environ.get("FREEZEKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "freezekit"


def cache_key(spec: ModelSpec) -> str | None:
    """The key for this model source, or None when it must not be cached."""
    source = parse_source(spec.name)
    material: dict[str, Any] = {"format": FORMAT_VERSION, "kind": source.kind, "args": spec.args,
                                "versions": versions()}
    if source.kind == TORCHVISION:
        material["name"] = source.ref
    elif source.kind == TIMM:
        material["name"] = source.ref
        material["versions"] = versions(("timm",))
        if material["versions"]["timm"] is None:
            return None
    elif source.kind == HF:
        from .hub_folders import fingerprint

        material["configs_sha256"] = fingerprint(source.ref, spec.revision, spec.base)
        material["hf_class"] = spec.hf_class
        material["versions"] = versions(("transformers", "peft"))
        if material["configs_sha256"] is None or material["versions"]["transformers"] is None:
            return None
    elif source.kind == FILE_FACTORY:
        try:
            material["file_sha256"] = hashlib.sha256(Path(source.ref).read_bytes()).hexdigest()
        except OSError:
            return None  # the build reports the problem
        material["path"] = str(Path(source.ref).resolve())
        material["callable"] = source.attr
    else:
        return None
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
