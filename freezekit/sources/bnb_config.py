"""A bitsandbytes `quantization_config` in an hf: model's config.json (or a PEFT adapter's base's),
applied to the records of the model built from that config on the meta device. Pure: no torch.

transformers' bitsandbytes quantizer replaces every `nn.Linear` by a `Linear4bit` (nf4/fp4, two
values per byte plus an absmax per block) or a `Linear8bitLt` (int8), except the modules it keeps:
`llm_int8_skip_modules`, else the output embedding (`lm_head`). Which weights those are needs no
bitsandbytes: their records take the quant type as dtype, their logical shape kept, exactly as a saved
`Params4bit` is counted from a checkpoint (packed_weights.py), so the memory plan counts their packed
bytes (distributed/precision.stored_bytes). A PEFT adapter's layers (`lora_*`, `modules_to_save`) are
created after the quantization and stay as built. Skip names match as transformers matches them
literally (the module's name, a prefix ending at a module boundary, or a suffix); a regex is not
interpreted. Other methods (GPTQ, AWQ, ...) are not applied: a note says their bytes are the config's dtype.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..core.records import Inventory, ParamRecord

DEFAULT_SKIP = ("lm_head",)  # transformers keeps the output embedding unquantized (get_keys_to_not_convert)
ADAPTER_SEGMENTS = ("lora_", "modules_to_save")


def bnb_dtype(config: dict[str, Any]) -> str | None:
    """nf4, fp4 or int8 when `config` asks bitsandbytes to quantize its weights, else None."""
    quant = config.get("quantization_config")
    if not isinstance(quant, dict) or quant.get("quant_method", "bitsandbytes") != "bitsandbytes":
        return None
    if quant.get("load_in_4bit"):
        kind = str(quant.get("bnb_4bit_quant_type", "fp4"))  # BitsAndBytesConfig's default is fp4
        return kind if kind in ("nf4", "fp4") else None
    return "int8" if quant.get("load_in_8bit") else None


def _skip_names(config: dict[str, Any]) -> tuple[str, ...]:
    skip = config["quantization_config"].get("llm_int8_skip_modules")
    if isinstance(skip, list) and all(isinstance(s, str) for s in skip):
        return tuple(skip)
    return DEFAULT_SKIP


def _kept(module: str, skip: tuple[str, ...]) -> bool:
    if any(part.startswith(ADAPTER_SEGMENTS) for part in module.split(".")):
        return True
    base = module.removesuffix(".base_layer")  # PEFT wraps the quantized layer, named as before
    return any(base == s or base.startswith(s + ".") or base.endswith(s) for s in skip)


def _quantized(p: ParamRecord, dtype: str, skip: tuple[str, ...]) -> ParamRecord:
    if p.module_type != "Linear" or not p.name.endswith(".weight") or _kept(p.module, skip):
        return p
    return replace(p, dtype=dtype)


def quantized_inventory(inventory: Inventory, config: dict[str, Any], label: str) -> Inventory:
    """`inventory` with the weights bitsandbytes would quantize at their packed dtype, and a note."""
    dtype = bnb_dtype(config)
    if dtype is None:
        return inventory
    skip = _skip_names(config)
    params = tuple(_quantized(p, dtype, skip) for p in inventory.params)
    count = sum(1 for new, old in zip(params, inventory.params) if new is not old)
    packed = "two values per byte plus a float32 absmax per 64" if dtype != "int8" else "one byte each"
    note = (
        f"{label}: config.json asks bitsandbytes for {dtype} weights: the {count} nn.Linear weights it would "
        f"quantize (all but {', '.join(skip)}) are counted at their logical size with {dtype} bytes "
        f"({packed}); the others as built"
    )
    return replace(inventory, params=params, notes=(*inventory.notes, note))
