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

from ..bounded_read import is_regular, read_regular, resolves_inside, stays_inside
from ..errors import ConfigError, FreezekitError, ModelError, UsageError, quoted, shortened
from ..text_files import read_text
from .hub_confinement import confine

MAX_JSON_BYTES = 8 << 20  # a config.json is kilobytes; an index of 100k tensors is a few MiB
MAX_JSON_DEPTH = 64  # real configs nest 3 or 4 levels (text_config.rope_scaling...)
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/\w[\w.-]*")  # and no '..' (is_repo_id)
COMMIT = re.compile(r"[0-9a-f]{40}")
REF_NAME = re.compile(r"\w[\w.-]*(/\w[\w.-]*)*")  # a branch or tag (refs/pr/1 included), and no '..'
MAX_REF_BYTES = 1024  # refs/main holds a 40-character commit hash
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
    except RecursionError as exc:
        raise ModelError(f"{path}: nested too deeply (over {MAX_JSON_DEPTH} levels)") from exc
    except ValueError as exc:
        raise ModelError(f"{path}: not valid JSON: {shortened(str(exc).splitlines()[0])}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, not {type(data).__name__}")
    if _depth(data) > MAX_JSON_DEPTH:  # transformers and peft walk configs recursively
        raise ModelError(f"{path}: nested too deeply (over {MAX_JSON_DEPTH} levels)")
    archs = data.get("architectures")
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        raise ModelError(f"{path}: 'architectures' must be a list of class names, not {quoted(archs)}")
    return data


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


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


def is_repo_id(text: str) -> bool:
    return bool(REPO_ID.fullmatch(text)) and ".." not in text


def check_revision(revision: str | None, what: str = "--revision", error: type[FreezekitError] = UsageError) -> None:
    """A revision is a commit hash or a ref name (branch, tag), never a path to a file."""
    if revision is not None and (".." in revision or not REF_NAME.fullmatch(revision)):
        raise error(f"{what} {quoted(revision)}: not a commit hash or a branch or tag name")


def cached_repo_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of any repo (a tokenizer's has no config.json), or None."""
    return _cached_snapshot(repo_id, None, names=())


def _cached_snapshot(repo_id: str, revision: str | None, names: tuple[str, ...] | None = None) -> Path | None:
    """The cached snapshot folder of repo_id at revision (huggingface_hub's documented layout:
    refs/<name> holds a commit hash, snapshots/<commit>/ its files), or None when not cached."""
    repo = expected_cache_dir(repo_id)
    commit = _commit(repo_id, repo, revision or "main")
    if commit is None:
        return None
    snapshots = repo / "snapshots"
    if snapshots.exists() and not snapshots.is_dir():
        raise ModelError(f"hf:{repo_id}: the cache entry {repo} is damaged ({snapshots} is not a folder)")
    snapshot = snapshots / commit
    if not snapshot.is_dir() or not resolves_inside(snapshot, repo):
        return None
    if names is None:
        names = ("config.json", "adapter_config.json", "model.safetensors.index.json", "model.safetensors")
    return snapshot if not names or any((snapshot / name).is_file() for name in names) else None


def _commit(repo_id: str, repo: Path, revision: str) -> str | None:
    ref = repo / "refs" / revision
    if not os.path.lexists(ref):
        return revision if COMMIT.fullmatch(revision) else None
    if not resolves_inside(ref, repo / "refs") or not is_regular(ref):
        raise ModelError(f"hf:{repo_id}: the cache entry {repo} is damaged (refs/{revision} is not a regular file)")
    raw = read_regular(ref, MAX_REF_BYTES, "cache ref", ModelError)
    try:
        commit = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        commit = ""
    if not COMMIT.fullmatch(commit):
        raise ModelError(f"hf:{repo_id}: the cache entry {repo} is damaged (refs/{revision} holds no commit hash)")
    return commit


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
    ref: str, revision: str | None = None, download: bool = False, with_weights: bool = False, repo_only: bool = False
) -> tuple[Path, str | None]:
    """The folder an hf: reference names, and its repo id when it came from the cache. `repo_only`:
    the reference was read from someone else's file, so a relative `ORG/NAME` is a repo id, never a folder
    of the working directory (an absolute path is a folder freezekit confined itself)."""
    if not ref.strip():
        raise ModelError("hf: needs a folder or a repo id after it, e.g. hf:./my-model or hf:meta-llama/Llama-3.1-8B")
    check_revision(revision)
    path = Path(ref)
    local = not repo_only or path.is_absolute()
    if local and path.is_dir():
        if revision is not None:
            raise UsageError(f"--revision picks a version of a repo id in the Hugging Face cache; {ref} is a folder")
        return path, None
    if local and path.exists():
        raise ModelError(f"hf:{ref}: not a folder (hf: names a model folder or a repo id)")
    if not is_repo_id(ref):
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


def resolve(
    ref: str,
    revision: str | None = None,
    download: bool = False,
    with_weights: bool = False,
    repo_only: bool = False,
) -> HubFolder:
    """The folder, what it holds, and its config text; refused when a loader would read outside it
    (sources/hub_confinement.py)."""
    path, repo_id = locate(ref, revision, download, with_weights, repo_only)
    label = f"hf:{ref}"
    confine(path, expected_cache_dir(repo_id) if repo_id else path, label)
    for kind in (ADAPTER, MODEL):
        config = path / CONFIG_FILES[kind]
        if config.is_file():
            return HubFolder(ref, path, kind, repo_id, _read(config))
    folder = HubFolder(ref, path, WEIGHTS, repo_id)
    if not folder.weight_files():
        raise ModelError(f"hf:{ref}: {path} holds no config.json, adapter_config.json or *.safetensors")
    return folder


def resolve_base(
    adapter: HubFolder, base: str | None, download: bool = False, with_weights: bool = False, repo_only: bool = False
) -> HubFolder:
    """The adapter's base model: --base when given, else the adapter's base_model_name_or_path,
    followed only as a folder inside the adapter's own folder or a repo id (the local cache, or
    --download): a path read from a file never leads elsewhere on the disk, nor to the working folder."""
    if base:
        return resolve(base.removeprefix("hf:"), download=download, with_weights=with_weights, repo_only=repo_only)
    named = adapter.config().get("base_model_name_or_path")
    if not isinstance(named, str) or not named.strip():
        raise ModelError(
            f"{adapter.label}: adapter_config.json names no base_model_name_or_path; pass --base hf:FOLDER"
        )
    inside = adapter.path / named
    if stays_inside(named) and inside.is_dir() and resolves_inside(inside, adapter.path):
        return resolve(str(inside), with_weights=with_weights)
    if is_repo_id(named):
        return resolve(named, download=download, with_weights=with_weights, repo_only=True)
    raise ModelError(
        f"{adapter.label}: its base model {quoted(named)} is a path outside the adapter's folder, which is "
        "not followed; pass --base hf:FOLDER (or a cached repo id)"
    )


def fingerprint(ref: str, revision: str | None, base: str | None, repo_only: bool = False) -> str | None:
    """sha256 over the configs that fix an hf: model's inventory, or None when it is not cacheable
    (a folder of weights alone: its header is read directly, already fast) or cannot be resolved."""
    try:
        folder = resolve(ref, revision, repo_only=repo_only)
        if folder.kind == WEIGHTS or {"auto_map", "quantization_config"} & set(folder.config()):
            return None  # code that may change under the same config; a note the cache would not keep
        texts = [folder.kind, folder.config_text]
        if folder.kind == ADAPTER:
            base_folder = resolve_base(folder, base, repo_only=repo_only)
            if base_folder.kind != MODEL or {"auto_map", "quantization_config"} & set(base_folder.config()):
                return None
            texts += [base_folder.kind, base_folder.config_text]
    except FreezekitError:
        return None  # the build reports the problem
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def is_adapter(ref: str, revision: str | None, repo_only: bool = False) -> bool:
    """Whether an hf: reference is a PEFT adapter (whose rules start where PEFT left requires_grad)."""
    try:
        return resolve(ref, revision, repo_only=repo_only).kind == ADAPTER
    except FreezekitError:
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
