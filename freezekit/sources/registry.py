"""The registry of model source kinds, and the one function that parses a MODEL string.

Each kind is implemented by one module of this package, listed in SOURCES. A module
implements the SourceType protocol below with plain module-level functions; it may serve
several kinds (checkpoint.py serves three) and dispatches on `spec.kind`.

`parse_source` asks the modules in SOURCES order and the first whose `parse` accepts the
text wins: kinds with a prefix (`timm:`, `hf:`) go first, the catch-all (torchvision
names) last. To add a kind: a SourceKind member, one module, one line here; the test
that every registered kind is exercised tells what else it needs (tests/sources).
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, cast

from .spec import Loaded, SourceKind, SourceOptions, SourceSpec


class SourceType(Protocol):
    """What a source kind's module provides (module-level functions)."""

    def parse(self, text: str, base: Path | None) -> SourceSpec | None:
        """The spec (kind, text, ref, attr) when `text` names this kind, else None. No file reads.
        `base`: the folder of the config the text came from; relative paths resolve against it."""

    def load(self, spec: SourceSpec, materialize: bool) -> Loaded:
        """Build or read the source. `materialize`: real tensors are needed (else meta is fine).
        Header-only kinds never import torch."""

    def builds_model(self, spec: SourceSpec) -> bool:
        """Whether `load` gives an nn.Module (needed by --save and verify), not only an inventory."""

    def input_files(self, spec: SourceSpec) -> tuple[str, ...]:
        """Files the source reads (an output must never overwrite one of them)."""

    def runs_code(self, spec: SourceSpec) -> bool:
        """Whether loading imports and calls code the spec names (refused from a manifest without consent)."""

    def cache_identity(self, spec: SourceSpec) -> dict[str, Any] | None:
        """What identifies the inventory besides kind, args and library versions (a name, a file
        hash); None when it must not be cached (see inventory_cache)."""


# kind -> module of this package, in the order `parse_source` asks them.
SOURCES: dict[SourceKind, str] = {
    SourceKind.TIMM: "timm_source",
    SourceKind.HF: "hf_source",
    SourceKind.SAFETENSORS: "checkpoint",
    SourceKind.SAFETENSORS_INDEX: "checkpoint",
    SourceKind.STATE_DICT: "checkpoint",
    SourceKind.FILE_FACTORY: "factory",
    SourceKind.FACTORY: "factory",
    SourceKind.TORCHVISION: "torchvision",
}


def source_type(kind: SourceKind) -> SourceType:
    if kind not in SOURCES:
        raise ValueError(f"no source module for kind {kind.value!r}")  # PYTHON: a model passed in, never loaded
    return cast(SourceType, importlib.import_module(f".{SOURCES[kind]}", __package__))


def parse_source(text: str, options: SourceOptions = SourceOptions(), base: Path | None = None) -> SourceSpec:
    """The one place a MODEL string is parsed (command line, config, manifest, API); `options`
    what the caller says beyond the name; `base` the folder relative paths resolve against."""
    for module in dict.fromkeys(SOURCES.values()):
        spec = cast(SourceType, importlib.import_module(f".{module}", __package__)).parse(text, base)
        if spec is not None:
            return replace(
                spec,
                args=dict(options.args),
                weights=options.weights,
                weights_file=options.weights_file,
                trust_pickle=options.trust_pickle,
                hf_class=options.hf_class or spec.hf_class,
                revision=options.revision or spec.revision,
                base=options.base or spec.base,
                download=options.download,
                trust_code=options.trust_code,
            )
    raise AssertionError(f"no source kind accepts {text!r}: the registry lacks its catch-all")  # pragma: no cover
