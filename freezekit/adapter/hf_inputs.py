"""A synthetic training batch for a transformers model (or a PEFT model around one), from its config.

The forward pass gets every input it names among the common ones: token ids (text models, the
decoder of an encoder-decoder), pixel values (vision towers), log-mel features (Whisper). The loss
sums the means of every floating tensor it returns, so that every head gets a gradient.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .synthetic_inputs import Batch, total_of

if TYPE_CHECKING:
    from torch import nn

SEQUENCE = 8  # tokens per sample: enough for attention and positions, cheap on a CPU


def _get(config: Any, key: str, *subconfigs: str) -> Any:
    for sub in ("", *subconfigs):
        holder = getattr(config, sub, None) if sub else config
        value = getattr(holder, key, None) if holder is not None else None
        if value is not None:
            return value
    return None


def hf_batch(
    model: "nn.Module",
    name: str,
    batch: int,
    device: str,
    input_shape: tuple[int, ...] | None,
    seq_len: int | None = None,
) -> Batch:
    """`seq_len`: tokens per sample (default SEQUENCE)."""
    import torch

    tokens = seq_len or SEQUENCE

    get_base = getattr(model, "get_base_model", None)  # a PEFT model: its transformers model
    inner = get_base() if callable(get_base) else model
    config = getattr(inner, "config", None)
    if config is None:
        raise UsageError(f"cannot infer an input for '{name}': it has no transformers config")
    accepted = set(inspect.signature(inner.forward).parameters)
    inputs: dict[str, Any] = {}
    vocab = _get(config, "vocab_size", "text_config", "decoder")
    if "input_ids" in accepted and vocab:
        inputs["input_ids"] = torch.randint(0, int(vocab), (batch, tokens), device=device)
    if "pixel_values" in accepted:
        side = _get(config, "image_size", "vision_config")
        channels = _get(config, "num_channels", "vision_config") or 3
        shape = input_shape or (int(channels), int(side or 224), int(side or 224))
        inputs["pixel_values"] = torch.randn(batch, *shape, device=device)
    if "input_features" in accepted:
        mels, frames = _get(config, "num_mel_bins"), _get(config, "max_source_positions")
        shape = input_shape or (int(mels or 80), 2 * int(frames or 1500))
        inputs["input_features"] = torch.randn(batch, *shape, device=device)
    if "decoder_input_ids" in accepted and vocab and "input_ids" not in inputs:
        inputs["decoder_input_ids"] = torch.randint(0, int(vocab), (batch, tokens), device=device)
    if not inputs:
        raise UsageError(
            f"cannot infer an input for '{name}' (its forward takes none of input_ids, pixel_values, "
            "input_features); verify it through your own factory"
        )
    desc = ", ".join(f"{k} {'x'.join(map(str, v.shape))}" for k, v in inputs.items())
    return Batch(lambda m: m(**inputs), total_of, desc)
