"""timm: models: `timm.create_model(NAME, pretrained=False, **args)` on the meta device, names and
pretrained tags listed, and pretrained weights read from the local Hugging Face cache only.

Weights are never fetched unless --download is given; a file found in the cache is loaded by
timm's own loader (safetensors, or torch.load with weights_only=True), which also adapts the
classifier when --arg num_classes=N differs from the checkpoint's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.suggest import nearest
from ..errors import ModelError, UsageError, WeightsError

if TYPE_CHECKING:
    from torch import nn

TIMM_EXTRA = "pip install 'freezekit[timm]'"
RESERVED_ARGS = ("pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path", "cache_dir")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def require_timm() -> Any:
    try:
        import timm
    except ImportError as exc:
        raise ModelError(f"timm: models need timm, which is not installed: {TIMM_EXTRA}") from exc
    return timm


def list_models(name_filter: str | None = None) -> list[str]:
    names = require_timm().list_models()
    return [n for n in names if not name_filter or name_filter.lower() in n.lower()]


def check_name(name: str) -> None:
    timm = require_timm()
    if not name:
        raise ModelError("timm: needs a model name after it, e.g. timm:resnet50 ('freezekit models --source timm')")
    arch, _tag = timm.models.split_model_name_tag(name)
    if not timm.is_model(arch):
        names = timm.list_models()
        close = nearest(arch, names, n=5) or [n for n in names if arch.lower() in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'freezekit models --source timm' lists them"
        raise ModelError(f"unknown timm model '{name}'{hint}")


def list_weights(name: str) -> list[str]:
    """The pretrained tags of a timm architecture, the default first."""
    timm = require_timm()
    check_name(name)
    arch, _ = timm.models.split_model_name_tag(name)
    tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
    if not tags:
        raise ModelError(f"timm model '{arch}' has no pretrained weights")
    return [f"DEFAULT (= {tags[0]})", *tags]


def _pretrained_cfg(name: str, weights: str) -> Any:
    timm = require_timm()
    arch, tag = timm.models.split_model_name_tag(name)
    if weights != "DEFAULT":
        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        if weights not in tags:
            from ..core.suggest import did_you_mean

            raise WeightsError(
                f"timm model '{arch}' has no weights '{weights}'{did_you_mean(weights, tags)}"
                f" (choices: DEFAULT, {', '.join(tags) or 'none'})"
            )
        tag = weights
    cfg = timm.models.get_pretrained_cfg(f"{arch}.{tag}" if tag else arch)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise WeightsError(f"timm model '{name}' has no pretrained weights to load")
    return cfg


def cached_weights(cfg: Any, download: bool) -> Path:
    """The weights file in the local cache (the Hugging Face hub cache, or torch hub's for URL-only
    weights); fetched only under --download; else exit 5 naming the path and the repo id."""
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        from ..sources.hub_folders import expected_cache_dir, hub_cache_dir

        repo = cfg.hf_hub_id
        files = (cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else WEIGHT_FILES
        for filename in files:
            found = try_to_load_from_cache(repo, filename, cache_dir=hub_cache_dir())
            if isinstance(found, str):
                return Path(found)
        if download:
            return _download_hub(repo, files)
        expected = expected_cache_dir(repo) / "snapshots" / "<revision>" / files[0]
        raise WeightsError(
            f"timm weights {repo} are not in the local cache: expected {expected}; pass --download to fetch them"
        )
    import os
    from urllib.parse import urlparse

    import torch.hub

    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(cfg.url).path)
    if path.is_file():
        return path
    if not download:
        raise WeightsError(
            f"timm weights are not in the local cache: expected {path}; fetch {cfg.url} to that "
            "path, or pass --download"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(cfg.url, str(path), progress=False)
    except Exception as exc:
        raise WeightsError(f"could not download {cfg.url} to {path}: {exc}") from exc
    return path


def _download_hub(repo: str, files: tuple[str, ...]) -> Path:
    from huggingface_hub import hf_hub_download

    from ..sources.hub_folders import hub_cache_dir

    last: Exception | None = None
    for filename in files:
        try:
            return Path(hf_hub_download(repo, filename, cache_dir=hub_cache_dir()))
        except Exception as exc:  # this file is not in the repo, or the network failed: try the next
            last = exc
    raise WeightsError(f"could not download the weights of {repo}: {last}") from last


def build_timm(name: str, args: dict, *, weights: str | None, download: bool, materialize: bool) -> "nn.Module":
    """The timm model: on meta unless values are needed; with pretrained weights from the cache."""
    from .build import build_cascade

    timm = require_timm()
    check_name(name)
    reserved = sorted(set(args) & set(RESERVED_ARGS))
    if reserved:
        raise UsageError(
            f"--arg {reserved[0]}: timm weights are chosen with --weights (from the local cache), "
            "never passed to the builder"
        )
    kwargs: dict[str, Any] = {"pretrained": False}
    if weights is not None:
        cfg = _pretrained_cfg(name, weights)
        path = cached_weights(cfg, download)
        arch = timm.models.split_model_name_tag(name)[0]
        name = f"{arch}.{cfg.tag}" if cfg.tag else arch
        kwargs = {
            "pretrained": True,
            "pretrained_cfg_overlay": {"file": str(path), "source": "timm", "state_dict": None},
        }

    def make() -> "nn.Module":
        try:
            return timm.create_model(name, **kwargs, **args)
        except (NotImplementedError, RuntimeError) as exc:
            if weights is not None and "state_dict" in str(exc):
                raise WeightsError(
                    f"timm model '{name}': the cached weights do not fit: {str(exc).splitlines()[0]}"
                ) from exc
            raise  # may be the meta device: let the cascade retry
        except TypeError as exc:
            raise ModelError(f"timm model '{name}' does not accept these arguments: {exc}") from exc
        except (Exception, SystemExit) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(
                f"timm model '{name}' could not be built with {args or 'its defaults'}: {type(exc).__name__}: {first}"
            ) from exc

    return build_cascade(make, f"timm model '{name}'", materialize or weights is not None)
