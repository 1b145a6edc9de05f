"""Source kinds for the user's own builders: `package.module:callable` and `path/to/file.py:callable`.

Both import and call user code (through adapter/build.py); the callable gets the spec's args.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..bounded_read import MAX_FACTORY_BYTES, read_regular
from ..errors import ModelError, UsageError
from .spec import Loaded, SourceKind, SourceSpec


def parse(text: str, base: Path | None) -> SourceSpec | None:
    """`head:tail` with both parts non-empty; a `.py` head is a file, relative to the config's folder."""
    head, sep, tail = text.rpartition(":")
    if not (sep and head and tail):
        return None
    if not head.endswith(".py"):
        return SourceSpec(SourceKind.FACTORY, text, head, tail)
    if base is not None and not os.path.isabs(head):
        head = str(base / head)
        text = f"{head}:{tail}"
    return SourceSpec(SourceKind.FILE_FACTORY, text, head, tail)


def load(spec: SourceSpec, materialize: bool) -> Loaded:
    if spec.weights is not None:
        raise UsageError("--weights names torchvision weights; for your own model use --weights-file")
    from ..adapter.build import build_factory
    from .built import loaded_model

    from_file = spec.kind == SourceKind.FILE_FACTORY
    return loaded_model(build_factory(spec.ref, spec.attr, from_file, dict(spec.args), materialize), spec)


def builds_model(spec: SourceSpec) -> bool:
    return True


def runs_code(spec: SourceSpec) -> bool:
    return True


def input_files(spec: SourceSpec) -> tuple[str, ...]:
    return (spec.ref,) if spec.kind == SourceKind.FILE_FACTORY else ()


def cache_identity(spec: SourceSpec) -> dict[str, Any] | None:
    """A file factory by the file's content (only that file: a factory whose result depends on other
    files it imports should be run with --no-cache); never `pkg.mod:callable`, whose source cannot
    be hashed without importing it."""
    if spec.kind != SourceKind.FILE_FACTORY:
        return None
    if not os.path.lexists(spec.ref):
        return None  # the build reports the problem
    # a FIFO, a device or a huge file is refused here, before a byte is read (exit 4)
    digest = hashlib.sha256(read_regular(spec.ref, MAX_FACTORY_BYTES, "Python file", ModelError)).hexdigest()
    return {"file_sha256": digest, "path": str(Path(spec.ref).resolve()), "callable": spec.attr}
