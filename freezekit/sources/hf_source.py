"""Source kind: `hf:FOLDER` or `hf:ORG/NAME` (a repo id resolved in the local Hugging Face cache).

What the folder holds decides (sources/hub_folders.py, no torch):
- config.json: a transformers model built from it on the meta device (adapter/hf_models.py);
- adapter_config.json: a PEFT adapter applied to its base model (adapter/peft_models.py);
- only *.safetensors: a header-only checkpoint audit, as for a .safetensors file given as MODEL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.installed import versions
from ..errors import FreezekitError, UsageError
from . import hub_folders
from .hub_confinement import shard_files
from .hub_offline import offline
from .spec import Loaded, SourceKind, SourceSpec

PREFIX = "hf:"


def parse(text: str, base: Path | None) -> SourceSpec | None:
    """`hf:` and what follows; a relative folder that exists beside the config resolves against it
    (one stat: `org/name` may be a folder or a repo id, and only the disk can tell)."""
    if not text.startswith(PREFIX):
        return None
    ref = text[len(PREFIX) :]
    if base is not None and ref and not os.path.isabs(ref) and (base / ref).is_dir():
        ref = str(base / ref)
        text = PREFIX + ref
    return SourceSpec(SourceKind.HF, text, ref)


def _folder(spec: SourceSpec, materialize: bool = False) -> hub_folders.HubFolder:
    return hub_folders.resolve(
        spec.ref, spec.revision, spec.download, with_weights=materialize, repo_only=spec.repo_ids_only
    )


def load(spec: SourceSpec, materialize: bool) -> Loaded:
    if spec.weights is not None:
        raise UsageError(
            "--weights names torchvision or timm weights; an hf: model loads its folder's own "
            "safetensors (with --save or verify) or --weights-file"
        )
    folder = _folder(spec, materialize)
    if folder.kind == hub_folders.WEIGHTS:
        return Loaded(_header_inventory(folder, spec))
    with offline(not spec.download):  # a file may name a repo id: fetched only with --download
        return _built(folder, spec, materialize)


def _built(folder: hub_folders.HubFolder, spec: SourceSpec, materialize: bool) -> Loaded:
    from .built import loaded_model

    if folder.kind == hub_folders.ADAPTER:
        from ..adapter.peft_models import build_peft

        model = build_peft(
            folder,
            dict(spec.args),
            base=spec.base,
            hf_class=spec.hf_class,
            trust_code=spec.trust_code,
            materialize=materialize,
            download=spec.download,
            repo_only=spec.repo_ids_only,
        )
    else:
        from ..adapter.hf_models import build_hf

        model = build_hf(
            folder,
            dict(spec.args),
            hf_class=spec.hf_class,
            trust_code=spec.trust_code,
            materialize=materialize,
            weights_file=spec.weights_file,
        )
    loaded = loaded_model(model, spec)
    if folder.kind == hub_folders.MODEL and _built_by_auto_model(folder, spec):
        from ..adapter.hf_models import auto_model_note

        built = type(model).__name__
        loaded = _noted(loaded, auto_model_note(folder, built), built_class=built)
    quantized = None if materialize else _bnb_config(folder, spec)
    if quantized is not None:  # a meta build of a bitsandbytes model: its weights at their packed bytes
        from dataclasses import replace

        from .bnb_config import quantized_inventory

        return replace(loaded, inventory=quantized_inventory(loaded.inventory, *quantized))
    note = hub_folders.quantization_note(folder)
    return _noted(loaded, note) if note else loaded


def _bnb_config(folder: hub_folders.HubFolder, spec: SourceSpec) -> tuple[dict[str, Any], str] | None:
    """The config.json (and its folder's label) asking bitsandbytes to quantize: the model's, or a
    PEFT adapter's base's; None when neither does."""
    from .bnb_config import bnb_dtype

    if folder.kind == hub_folders.ADAPTER:
        folder = hub_folders.resolve_base(folder, spec.base, repo_only=spec.repo_ids_only)
    config = folder.config() if folder.kind == hub_folders.MODEL else {}
    return (config, folder.label) if bnb_dtype(config) else None


def _built_by_auto_model(folder: hub_folders.HubFolder, spec: SourceSpec) -> bool:
    """Whether AutoModel chose the class because the config names none (not --hf-class, not auto_map)."""
    from ..adapter.hf_models import architecture_class, require_transformers

    config = folder.config()
    return (
        spec.hf_class is None
        and "auto_map" not in config
        and architecture_class(config, require_transformers()) is None
    )


def _noted(loaded: Loaded, note: str, built_class: str = "") -> Loaded:
    from dataclasses import replace

    inventory = loaded.inventory
    built_class = built_class or inventory.built_class
    return replace(loaded, inventory=replace(inventory, notes=(*inventory.notes, note), built_class=built_class))


def _header_inventory(folder: hub_folders.HubFolder, spec: SourceSpec) -> Any:
    """A folder of weights without config.json: its safetensors header(s), no torch."""
    from .checkpoint import read_checkpoint_inventory

    if spec.weights_file is not None:
        raise UsageError(
            f"{folder.label} holds weights but no config.json: a checkpoint, which takes no --weights-file"
        )
    files = folder.weight_files()
    if len(files) > 1:
        raise UsageError(f"{folder.label}: several *.safetensors and no model.safetensors.index.json; name one file")
    kind = SourceKind.SAFETENSORS_INDEX if files[0].name.endswith(".json") else SourceKind.SAFETENSORS
    return read_checkpoint_inventory(SourceSpec(kind, str(files[0]), str(files[0])))


def builds_model(spec: SourceSpec) -> bool:
    try:
        return _folder(spec).kind != hub_folders.WEIGHTS
    except FreezekitError:
        return True  # load reports the problem


def input_files(spec: SourceSpec) -> tuple[str, ...]:
    """The folder's config and weights, and a PEFT base's: no output may overwrite the model it reads."""
    try:
        folder = _folder(spec)
    except FreezekitError:
        return ()
    folders = [folder]
    if folder.kind == hub_folders.ADAPTER:  # the PEFT base's config and weights are read too
        try:
            folders.append(hub_folders.resolve_base(folder, spec.base, repo_only=spec.repo_ids_only))
        except FreezekitError:
            pass  # load reports the problem
    return tuple(str(path) for f in folders for path in _own_files(f))


def _own_files(folder: hub_folders.HubFolder) -> tuple[Path, ...]:
    config = folder.path / hub_folders.CONFIG_FILES.get(folder.kind, "config.json")
    own = ((config,) if config.is_file() else ()) + folder.weight_files()
    return own + shard_files(folder.path, folder.label)


def runs_code(spec: SourceSpec) -> bool:
    """Whether building would run code shipped with the model (or its PEFT base): an `auto_map` entry for
    a class transformers does not have itself (adapter/hf_models.remote_code_entry decides)."""
    try:
        folder = _folder(spec)
        folders = [folder]
        if folder.kind == hub_folders.ADAPTER:
            folders.append(hub_folders.resolve_base(folder, spec.base, repo_only=spec.repo_ids_only))
    except FreezekitError:
        return False  # load reports the problem
    configs = [f.config() for f in folders if f.kind == hub_folders.MODEL]
    if not any("auto_map" in c for c in configs):
        return False
    from ..adapter.hf_models import remote_code_entry, require_transformers

    transformers = require_transformers()
    return any(remote_code_entry(c, transformers, spec.hf_class) is not None for c in configs)


def cache_identity(spec: SourceSpec) -> dict[str, Any] | None:
    """The content of the configs that fix the inventory (config.json; an adapter's and its base's),
    --hf-class, and the transformers/peft versions; None for a model that ships its own code or
    describes quantized weights, and for a folder of weights alone (its header is read directly)."""
    digest = hub_folders.fingerprint(spec.ref, spec.revision, spec.base, spec.repo_ids_only)
    library = versions(("transformers", "peft"))
    if digest is None or library["transformers"] is None:
        return None
    return {
        "configs_sha256": digest,
        "hf_class": spec.hf_class,
        "transformers": library["transformers"],
        "peft": library["peft"],
    }
