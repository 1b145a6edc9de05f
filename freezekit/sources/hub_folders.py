"""hf: sources before any torch: which folder (a path, or a repo id in the local Hugging Face
cache), what it holds (a transformers model, a PEFT adapter, or weights alone), and a fingerprint
of its configs for the inventory cache.

Nothing here downloads unless the user passed --download, and nothing runs code: a config is data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError, UsageError
from ..text_files import read_text

MAX_JSON_BYTES = 8 << 20  # a config.json is kilobytes; an index of 100k tensors is a few MiB
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
MODEL, ADAPTER, WEIGHTS = "model", "adapter", "weights"
CONFIG_FILES = {MODEL: "config.json", ADAPTER: "adapter_config.json"}
HF_EXTRA = "pip install 'freezekit[hf]'"


@dataclass(frozen=True)
class HubFolder:
    """A resolved hf: source. `config_text` is config.json (model) or adapter_config.json (adapter)."""

    ref: str  # what followed hf:
    path: Path
    kind: str  # MODEL, ADAPTER or WEIGHTS
    repo_id: str | None = None
    config_text: str = ""

    def config(self) -> dict[str, Any]:
        return parse_json(self.config_text, self.path / CONFIG_FILES.get(self.kind, ""))

    @property
    def label(self) -> str:
        return f"hf:{self.ref}"

    def weight_files(self) -> tuple[Path, ...]:
        """The folder's own safetensors: the sharded index when there is one, else every *.safetensors."""
        index = self.path / "model.safetensors.index.json"
        if index.is_file():
            return (index,)
        return tuple(sorted(p for p in self.path.glob("*.safetensors") if p.is_file()))


def parse_json(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, not {type(data).__name__}")
    return data


def _read(path: Path) -> str:
    try:
        return read_text(path, MAX_JSON_BYTES, path.name)
    except ConfigError as exc:  # a model's config.json is part of the model, not freezekit's config
        raise ModelError(exc.message) from exc


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise ModelError(f"hf: repo ids need huggingface_hub, which is not installed: {HF_EXTRA}") from exc
    return huggingface_hub


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (huggingface_hub reads it once, at
    import): $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/..."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def expected_cache_dir(repo_id: str) -> Path:
    return hub_cache_dir() / f"models--{repo_id.replace('/', '--')}"


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    hub = _hub()
    for name in ("config.json", "adapter_config.json", "model.safetensors.index.json", "model.safetensors"):
        found = hub.try_to_load_from_cache(repo_id, name, cache_dir=hub_cache_dir(), revision=revision)
        if isinstance(found, str):
            return Path(found).parent
    return None


def _download(repo_id: str, revision: str | None, with_weights: bool) -> Path:
    hub = _hub()
    patterns = ["*.json"] + (["*.safetensors"] if with_weights else [])
    try:
        return Path(
            hub.snapshot_download(repo_id, revision=revision, allow_patterns=patterns, cache_dir=hub_cache_dir())
        )
    except Exception as exc:  # network, unknown repo, gated repo: one line naming the repo
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"hf:{repo_id}: download failed: {first}") from exc


def locate(
    ref: str, revision: str | None = None, download: bool = False, with_weights: bool = False
) -> tuple[Path, str | None]:
    """The folder an hf: reference names, and its repo id when it came from the cache."""
    if not ref.strip():
        raise ModelError("hf: needs a folder or a repo id after it, e.g. hf:./my-model or hf:meta-llama/Llama-3.1-8B")
    path = Path(ref)
    if path.is_dir():
        if revision is not None:
            raise UsageError(f"--revision picks a version of a repo id in the Hugging Face cache; {ref} is a folder")
        return path, None
    if path.exists():
        raise ModelError(f"hf:{ref}: not a folder (hf: names a model folder or a repo id)")
    if not REPO_ID.fullmatch(ref):
        raise ModelError(f"hf:{ref}: no such folder, and not a repo id like ORG/NAME")
    if download:
        return _download(ref, revision, with_weights), ref
    found = _cached_snapshot(ref, revision)
    if found is None:
        at = f" at revision {revision}" if revision else ""
        raise ModelError(
            f"hf:{ref}: not in the local Hugging Face cache{at} (expected under {expected_cache_dir(ref)}); "
            "pass --download to fetch its config, or name a local folder"
        )
    return found, ref


def resolve(ref: str, revision: str | None = None, download: bool = False, with_weights: bool = False) -> HubFolder:
    path, repo_id = locate(ref, revision, download, with_weights)
    for kind in (ADAPTER, MODEL):
        config = path / CONFIG_FILES[kind]
        if config.is_file():
            return HubFolder(ref, path, kind, repo_id, _read(config))
    folder = HubFolder(ref, path, WEIGHTS, repo_id)
    if not folder.weight_files():
        raise ModelError(f"hf:{ref}: {path} holds no config.json, adapter_config.json or *.safetensors")
    return folder


def base_reference(adapter: HubFolder, base: str | None) -> str:
    """What the adapter's base model is: --base when given, else the adapter's base_model_name_or_path,
    followed only as a repo id in the local cache or a folder inside the adapter's own folder (a path
    read from a file never leads elsewhere on the disk)."""
    if base:
        return base.removeprefix("hf:")
    named = adapter.config().get("base_model_name_or_path")
    if not isinstance(named, str) or not named.strip():
        raise ModelError(
            f"{adapter.label}: adapter_config.json names no base_model_name_or_path; pass --base hf:FOLDER"
        )
    inside = (adapter.path / named).resolve()
    if inside.is_dir() and inside.is_relative_to(adapter.path.resolve()):
        return str(inside)
    if REPO_ID.fullmatch(named) and not Path(named).is_absolute():
        return named
    raise ModelError(
        f"{adapter.label}: its base model '{named}' is a path outside the adapter's folder, which is "
        "not followed; pass --base hf:FOLDER (or a cached repo id)"
    )


def fingerprint(ref: str, revision: str | None, base: str | None) -> str | None:
    """sha256 over the configs that fix an hf: model's inventory, or None when it is not cacheable
    (a folder of weights alone: its header is read directly, already fast) or cannot be resolved."""
    try:
        folder = resolve(ref, revision)
        if folder.kind == WEIGHTS or {"auto_map", "quantization_config"} & set(folder.config()):
            return None  # code that may change under the same config; a note the cache would not keep
        texts = [folder.kind, folder.config_text]
        if folder.kind == ADAPTER:
            base_folder = resolve(base_reference(folder, base))
            if base_folder.kind != MODEL or "auto_map" in base_folder.config():
                return None
            texts += [base_folder.kind, base_folder.config_text]
    except (ModelError, UsageError):
        return None  # the build reports the problem
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def is_adapter(ref: str, revision: str | None) -> bool:
    """Whether an hf: reference is a PEFT adapter (whose rules start where PEFT left requires_grad)."""
    try:
        return resolve(ref, revision).kind == ADAPTER
    except (ModelError, UsageError):
        return False  # the build reports the problem


def quantization_note(folder: HubFolder) -> str | None:
    """What a meta build of a quantized checkpoint's config counts (the logical parameters), said once."""
    quant = folder.config().get("quantization_config") if folder.kind == MODEL else None
    if not isinstance(quant, dict):
        return None
    method = str(quant.get("quant_method", "quantized"))
    bits = quant.get("bits") or (4 if quant.get("load_in_4bit") else 8 if quant.get("load_in_8bit") else None)
    how = f"{method}, {bits}-bit" if bits else method
    return (
        f"{folder.label}: config.json describes {how} weights; built from the config on the meta device, the "
        "counts are the logical (unpacked) parameters and the bytes are in the config's dtype, not the packed "
        "storage (audit the safetensors file for the stored bytes)"
    )
