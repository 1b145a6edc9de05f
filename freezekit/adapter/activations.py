"""The bytes autograd saves for backward during one forward: the activation term of the memory plan.

Saved-tensor hooks see every tensor an op keeps for its backward. Each storage is counted once
(views of one tensor share it), parameters and buffers are left out (the plan counts them as
model states), and only what autograd records is seen: a frozen prefix whose inputs need no
gradient saves nothing. On the meta device the same ops save the same shapes without allocating,
so a 70B forward costs seconds; with real tensors the same hooks measure what a real step keeps.

On the meta device `scaled_dot_product_attention` would take its math path (which saves the whole
attention matrix); a real CPU or GPU takes a flash or memory-efficient kernel, which saves the
output and a logsumexp. The forecast routes it to the flash kernel's meta function, so meta and
real runs save the same tensors.

Activation checkpointing of some unit types keeps only each unit's inputs; during backward one
unit at a time is recomputed, so the forecast adds the largest unit's own saved bytes once.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    import torch
    from torch import nn


def _storage_key(t: "torch.Tensor") -> tuple[int, int]:
    s = t.untyped_storage()
    return s._cdata, s.nbytes()


class _Saved:
    """Storages saved for backward: outside checkpointed units, and per checkpointed unit."""

    def __init__(self, model: "nn.Module") -> None:
        state = [*model.parameters(), *model.buffers()]
        self.skip = {_storage_key(t)[0] for t in state}
        self.outside: dict[int, int] = {}
        self.inside: list[dict[int, int]] = []  # one per checkpointed unit call, in call order
        self.depth = 0
        self.keep: list[Any] = []  # storages stay alive while counted, so no key is reused

    def add(self, t: "torch.Tensor", into: dict[int, int]) -> None:
        key, nbytes = _storage_key(t)
        if key not in self.skip and key not in self.outside:
            into[key] = nbytes
            self.keep.append(t.untyped_storage())

    def pack(self, t: Any) -> Any:
        self.add(t, self.inside[-1] if self.depth else self.outside)
        return t


def _unit_hooks(model: "nn.Module", types: tuple[str, ...], saved: _Saved, stack: ExitStack) -> None:
    import torch

    def pre(module: "nn.Module", args: tuple) -> None:
        saved.depth += 1
        if saved.depth == 1:
            saved.inside.append({})
            module._freezekit_inputs = [a for a in args if isinstance(a, torch.Tensor)]  # type: ignore[assignment]

    def post(module: "nn.Module", args: tuple, out: Any) -> None:
        saved.depth -= 1
        if saved.depth == 0:
            inputs = module.__dict__.pop("_freezekit_inputs", [])
            if saved.inside[-1]:  # the unit is part of the graph: checkpointing keeps its inputs
                for a in inputs:
                    saved.add(a, saved.outside)

    for m in model.modules():
        if any(c.__name__ in types for c in type(m).__mro__):
            stack.callback(m.register_forward_pre_hook(pre).remove)
            stack.callback(m.register_forward_hook(post).remove)


@contextmanager
def _flash_on_meta() -> Iterator[None]:
    """`F.scaled_dot_product_attention` routed to the flash kernel's meta function for meta inputs
    while the forecast runs (callers such as nn.MultiheadAttention and transformers look it up on
    torch.nn.functional at call time); restored afterwards."""
    import torch
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu

    def routed(q: "torch.Tensor", *args: Any, **kwargs: Any) -> "torch.Tensor":
        if q.device.type != "meta":
            return original(q, *args, **kwargs)
        return _flash(flash, q, *args, **kwargs)

    F.scaled_dot_product_attention = routed  # type: ignore[assignment]
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _flash(
    flash: Any,
    q: "torch.Tensor",
    k: "torch.Tensor",
    v: "torch.Tensor",
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> "torch.Tensor":
    """The flash kernel takes grouped key/value heads as they are (enable_gqa), as on a real CPU."""
    return flash(q, k, v, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]


def saved_bytes(model: "nn.Module", forward: Callable[["nn.Module"], Any], checkpointing: tuple[str, ...] = ()) -> int:
    """Bytes saved for backward by `forward(model)` (model in train() mode), with `checkpointing`
    unit types keeping only their inputs plus one unit's recomputation."""
    import torch

    saved = _Saved(model)
    with ExitStack() as stack:
        if checkpointing:
            _unit_hooks(model, checkpointing, saved, stack)
        stack.enter_context(_flash_on_meta())
        stack.enter_context(torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t))
        forward(model)
    largest_unit = max((sum(u.values()) for u in saved.inside), default=0)
    return sum(saved.outside.values()) + largest_unit


def unit_types_present(model: "nn.Module", types: tuple[str, ...]) -> set[str]:
    """The names in `types` some module of `model` is an instance of."""
    return {c.__name__ for m in model.modules() for c in type(m).__mro__} & set(types)
