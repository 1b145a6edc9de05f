"""PEFT adapters: the base model with the adapter applied, arranged exactly as PEFT arranges it for
training (base frozen, adapter and `modules_to_save` trainable), so that the totals equal PEFT's
`get_nb_trainable_parameters()`.

On the meta device the adapter's layers are created from adapter_config.json alone; its weights
(adapter_model.safetensors) are loaded by PEFT only when values are needed (--save, verify).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ContextManager

from ..core import time_budget as budget
from ..errors import ModelError, RuleError, WeightsError
from ..sources.adapter_paths import confined_config
from ..sources.hub_folders import HF_EXTRA, MODEL, HubFolder, resolve_base
from .hf_models import build_hf, quiet_transformers

if TYPE_CHECKING:
    from torch import nn

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def require_peft() -> Any:
    try:
        import peft
    except ImportError as exc:
        raise ModelError(f"PEFT adapters need peft, which is not installed: {HF_EXTRA}") from exc
    return peft


def _adapter_config(adapter: HubFolder) -> Any:
    """PEFT's config object, built from adapter_config.json once every path it names is confined
    (sources/adapter_paths.py): PEFT never reads the file itself."""
    peft = require_peft()
    data = confined_config(adapter.config(), adapter.path, adapter.label)
    data.pop("runtime_config", None)  # what PeftConfig.from_pretrained drops
    try:
        config = peft.PeftConfig.from_peft_type(**peft.PeftConfig.check_kwargs(**data))
    except (Exception, SystemExit) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{adapter.label}: peft cannot read {adapter.path / 'adapter_config.json'}: {first}") from exc
    config.inference_mode = False  # what PeftModel.from_pretrained(..., is_trainable=True) does
    return config


@quiet_transformers()  # a fresh context on every call (contextlib's ContextDecorator)
def build_peft(
    adapter: HubFolder,
    args: dict,
    *,
    base: str | None,
    hf_class: str | None,
    trust_code: bool,
    materialize: bool,
    download: bool,
    repo_only: bool = False,
) -> "nn.Module":
    peft = require_peft()
    base_folder = resolve_base(adapter, base, download=download, with_weights=materialize, repo_only=repo_only)
    if base_folder.kind != MODEL:
        raise ModelError(f"{adapter.label}: its base {base_folder.label} is not a model folder (no config.json)")
    config = _adapter_config(adapter)
    model = build_hf(
        base_folder, args, hf_class=hf_class, trust_code=trust_code, materialize=materialize, weights_file=None
    )
    with _pattern_budget(adapter):  # peft matches the config's patterns against every module name
        return _apply_adapter(peft, adapter, base_folder, model, config, materialize)


def _pattern_budget(adapter: HubFolder) -> ContextManager[None]:
    """adapter_config.json's patterns (target_modules, exclude_modules, rank_pattern ...) are regular
    expressions from a file: peft's matching runs under a time budget (core/time_budget.py)."""
    seconds = budget.PEFT_BUDGET_S
    return budget.time_budget(
        seconds,
        lambda: RuleError(
            f"{adapter.label}: peft did not finish matching adapter_config.json's module patterns "
            f"(target_modules, exclude_modules, ...) within {seconds:g} s: a regular expression there "
            "backtracks catastrophically"
        ),
    )


def _apply_adapter(
    peft: Any, adapter: HubFolder, base_folder: HubFolder, model: "nn.Module", config: Any, materialize: bool
) -> "nn.Module":
    if materialize and (adapter.path / ADAPTER_WEIGHTS).is_file():
        try:
            return peft.PeftModel.from_pretrained(
                model, str(adapter.path), config=config, is_trainable=True, use_safetensors=True
            )
        except (Exception, SystemExit) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WeightsError(f"{adapter.label}: cannot load {adapter.path / ADAPTER_WEIGHTS}: {first}") from exc

    import contextlib
    import warnings

    import torch

    try:  # once: get_peft_model changes the base model in place, so it cannot be retried another way
        with warnings.catch_warnings(), contextlib.nullcontext() if materialize else torch.device("meta"):
            warnings.simplefilter("ignore")
            return peft.get_peft_model(model, config)
    except (Exception, SystemExit) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{adapter.label}: peft cannot apply this adapter to {base_folder.label}: {first}") from exc
