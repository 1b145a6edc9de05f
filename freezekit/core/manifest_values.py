"""The values a manifest records (schema version 2): one SHA-256 digest per frozen tensor and, under
the eval and frozen BatchNorm policies, per running statistic of the frozen norm layers. Pure: the
bytes come from the caller (adapter/value_digests.py for a model, compare/ for a checkpoint).

A digest covers the tensor's dtype and shape (as the parameter table writes them, "3x3:float32")
and its contiguous little-endian bytes, so `sha256:` of the same values in another dtype or shape
differs. The name is the key the digest is filed under.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import ConfigError, quoted
from .choice import Choice

ALGORITHM = "sha256"
NOT_RECORDED_META = "built on the meta device: no values were recorded (pass --weights or --weights-file)"
NOT_RECORDED_HEADER = "read from a checkpoint's header: no values were recorded"
NOT_RECORDED_ASKED = "--values none: no values were recorded"
NOT_RECORDED_V1 = "a version 1 manifest: values and the BatchNorm policy were not recorded"


class ValuesChoice(Choice):
    """--values: record the digests when the model holds values (auto), or never (none)."""

    AUTO = "auto"
    NONE = "none"


def entry(shape: tuple[int, ...], dtype: str) -> str:
    return "x".join(map(str, shape)) + ":" + dtype


def new_digest(shape: tuple[int, ...], dtype: str) -> Any:
    """A SHA-256 object primed with the tensor's shape and dtype; feed it the bytes, then `finish`."""
    digest = hashlib.sha256()
    digest.update(entry(shape, dtype).encode() + b"\n")
    return digest


def finish(digest: Any) -> str:
    return f"{ALGORITHM}:{digest.hexdigest()}"


def digest_of(shape: tuple[int, ...], dtype: str, chunks: Iterable[bytes | bytearray | memoryview]) -> str:
    digest = new_digest(shape, dtype)
    for chunk in chunks:
        digest.update(chunk)
    return finish(digest)


@dataclass(frozen=True)
class RecordedValues:
    """What a manifest says about values: digests when `recorded`, else `note` says why none."""

    recorded: bool
    note: str = ""
    tensors: dict[str, str] = field(default_factory=dict)  # frozen parameter name -> digest
    norm_stats: dict[str, str] = field(default_factory=dict)  # frozen norm layer's running statistic -> digest

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "note": self.note,
            "algorithm": ALGORITHM,
            "tensors": self.tensors,
            "norm_stats": self.norm_stats,
        }


def _damaged(path: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: damaged manifest: {problem}")


def _digests(path: str, value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _damaged(path, f"{what!r} must be an object of name -> digest")
    for name, digest in value.items():
        if not (isinstance(digest, str) and digest.startswith(ALGORITHM + ":") and len(digest) == 71):
            raise _damaged(path, f"{what}[{quoted(name)}] is not a {ALGORITHM} digest")
    return dict(value)


def parse_values(path: str, data: Any, parameters: dict[str, str], frozen: Iterable[str]) -> RecordedValues:
    """The 'values' object of a version 2 manifest; its digests must name frozen parameters of its own
    parameter table (and statistics of the layers those belong to): anything else is a damaged file."""
    if not isinstance(data, dict) or not isinstance(data.get("recorded"), bool):
        raise _damaged(path, "'values' must be an object with a boolean 'recorded'")
    if not data["recorded"]:
        note = data.get("note", "")
        return RecordedValues(False, note if isinstance(note, str) else "")
    if data.get("algorithm") != ALGORITHM:
        raise _damaged(path, f"'values.algorithm' must be {ALGORITHM!r}, not {quoted(data.get('algorithm'))}")
    tensors = _digests(path, data.get("tensors"), "values.tensors")
    norm_stats = _digests(path, data.get("norm_stats", {}), "values.norm_stats")
    frozen_set = set(frozen)
    stray = [n for n in tensors if n not in frozen_set or n not in parameters]
    if stray:
        raise _damaged(path, f"'values.tensors' names {quoted(stray[0])}, not a frozen parameter of its table")
    layers = {n.rpartition(".")[0] for n in frozen_set}
    stray = [n for n in norm_stats if n.rpartition(".")[0] not in layers]
    if stray:
        raise _damaged(path, f"'values.norm_stats' names {quoted(stray[0])}, not a statistic of a frozen layer")
    return RecordedValues(True, "", tensors, norm_stats)
