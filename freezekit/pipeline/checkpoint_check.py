"""`check` on a checkpoint file: the manifest (given, or the one `--save` embedded in the file)
against the file's tensors by name and by value (compare/check_values.py). No model is built."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..compare.check_values import check_checkpoint
from ..compare.tensor_files import TensorFile, open_checkpoint
from ..core.manifest import Drift, Manifest, load_manifest, parse_manifest
from ..core.manifest_paths import resolve_in_manifest_folder
from ..errors import ConfigError
from ..sources.checkpoint import SUFFIXES


@dataclass(frozen=True)
class CheckpointCheck:
    manifest: str  # the manifest file, or "CHECKPOINT (embedded manifest)"
    checkpoint: str
    drift: Drift
    frozen: int  # frozen names in the manifest
    policy: str | None  # the manifest's BatchNorm policy


def is_checkpoint(path: str, json_too: bool = True) -> bool:
    """Whether `path` names a checkpoint by its suffix, as MODEL does (a .json MODEL is an index);
    `json_too=False` for check's first argument, where .json is a manifest."""
    suffix = Path(path).suffix.lower()
    return suffix in SUFFIXES and (json_too or suffix != ".json")


def _embedded(checkpoint: TensorFile) -> Manifest:
    if checkpoint.manifest_text is None:
        raise ConfigError(
            f"{checkpoint.path}: holds no freeze manifest (only `freeze --save` embeds one); "
            f"give it: freezekit check MANIFEST {checkpoint.path}"
        )
    return parse_manifest(f"{checkpoint.path} (embedded manifest)", checkpoint.manifest_text)


def _reference(manifest: Manifest, checkpoint: str, against: str | None, trust_pickle: bool) -> TensorFile | None:
    """--against, else the --save file the manifest names when it is there (and is not the checkpoint)."""
    if against is not None:
        return open_checkpoint(against, trust_pickle, "--against file")
    if manifest.saved is None:
        return None
    path = resolve_in_manifest_folder(manifest.path, "saved", manifest.saved)
    if not os.path.isfile(path) or os.path.samefile(path, checkpoint):
        return None
    return open_checkpoint(path, trust_pickle, "saved file")


def run_checkpoint_check(
    manifest_path: str | None, checkpoint_path: str, against: str | None = None, trust_pickle: bool = False
) -> CheckpointCheck:
    checkpoint = open_checkpoint(checkpoint_path, trust_pickle)
    reference = None
    try:
        manifest = _embedded(checkpoint) if manifest_path is None else load_manifest(manifest_path)
        if manifest_path is not None:
            reference = _reference(manifest, checkpoint_path, against, trust_pickle)
        elif against is not None:
            reference = open_checkpoint(against, trust_pickle, "--against file")
        drift = check_checkpoint(manifest, checkpoint, reference)
    finally:
        checkpoint.close()
        if reference is not None:
            reference.close()
    label = manifest_path or f"{checkpoint_path} (embedded manifest)"
    policy = None if manifest.batchnorm is None else manifest.batchnorm.value
    return CheckpointCheck(label, checkpoint_path, drift, len(manifest.frozen), policy)
