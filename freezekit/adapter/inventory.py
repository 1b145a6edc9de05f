"""nn.Module <-> plain records: take an inventory, apply a plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.name_lists import first_names
from ..core.plan import Plan
from ..core.records import BufferRecord, Inventory, ModuleRecord, ParamRecord
from ..errors import ModelError, RuleError

if TYPE_CHECKING:
    from torch import nn


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _bases(cls: type) -> tuple[str, ...]:
    return tuple(c.__name__ for c in cls.__mro__ if c is not object)


def logical_shape(p) -> tuple[tuple[int, ...], str]:  # noqa: ANN001 - a torch Parameter
    """The shape and dtype a parameter stands for. A bitsandbytes `Params4bit` stores two 4-bit values
    per uint8 element: its logical shape is its quant_state's (the layer's weight shape), else twice
    its stored elements (what PEFT counts), and its dtype the quant type (nf4/fp4), whose bytes are
    the packed storage (records.PACKED_BITS). bitsandbytes is not a dependency: this is read by name."""
    if type(p).__name__ == "Params4bit":
        state = getattr(p, "quant_state", None)
        logical = tuple(getattr(state, "shape", ()) or ()) or (2 * p.numel(),)
        return tuple(int(d) for d in logical), str(getattr(p, "quant_type", "nf4"))
    return tuple(p.shape), dtype_name(p.dtype)


def _refuse_uninitialized(model: "nn.Module", source: str) -> None:
    """Lazy modules (LazyLinear, LazyConv2d...) have no shape until their first forward pass: there is
    nothing to count or freeze yet, so say which parameters and how to get shapes."""
    from torch.nn.parameter import is_lazy

    lazy = [name for name, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers()] if is_lazy(t)]
    if lazy:
        raise ModelError(
            f"{source or type(model).__name__}: {len(lazy)} parameters or buffers are not initialized "
            f"yet (lazy modules): {first_names(lazy)}; run one forward pass before freezing, or build the model "
            "with sizes (nn.Linear instead of nn.LazyLinear)"
        )


def inventory_of(model: "nn.Module", source: str = "") -> Inventory:
    """Records for every module, distinct parameter and buffer of `model`, in registration order.

    A tensor registered under several names (tied weights, shared modules) becomes one
    record under its first name, the others kept as aliases: `model.parameters()`
    counts it once too.
    """
    _refuse_uninitialized(model, source)
    modules = tuple(
        ModuleRecord(name, type(m).__name__, _bases(type(m))) for name, m in model.named_modules(remove_duplicate=False)
    )
    types = {m.name: m.type for m in modules}
    first: dict[int, str] = {}
    aliases: dict[int, list[str]] = {}
    tensors = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        key = id(p)
        if key in first:
            aliases[key].append(name)
        else:
            first[key], aliases[key], tensors[key] = name, [], p
    params = []
    for key, name in first.items():
        p = tensors[key]
        owner = name.rpartition(".")[0]
        params.append(
            ParamRecord(
                name,
                *logical_shape(p),
                owner,
                types.get(owner, ""),
                bool(p.requires_grad),
                tuple(aliases[key]),
            )
        )
    buffers = tuple(
        BufferRecord(name, tuple(b.shape), dtype_name(b.dtype), name.rpartition(".")[0])
        for name, b in model.named_buffers()
    )
    return Inventory(tuple(params), buffers, modules, True, source, no_split=_no_split_modules(model))


def _no_split_modules(model: "nn.Module") -> tuple[str, ...]:
    """The class names a transformers model says must not be split (its decoder layers), read
    through a PEFT wrapper as PEFT's fsdp_auto_wrap_policy reads them; () for other models."""
    get_base = getattr(model, "get_base_model", None)
    inner = get_base() if callable(get_base) else model
    names = getattr(inner, "_no_split_modules", None)
    if not isinstance(names, (list, tuple, set)):
        return ()
    return tuple(sorted(str(n) for n in names))


def apply_plan(model: "nn.Module", plan: Plan) -> None:
    """Set requires_grad on every parameter the plan names; refuse a plan made for another model."""
    by_name = dict(model.named_parameters(remove_duplicate=False))
    missing = [n for d in plan.decisions for n in d.param.names if n not in by_name]
    if missing:
        raise RuleError(f"the plan names parameters this model lacks: {first_names(missing)}")
    for d in plan.decisions:
        for name in d.param.names:
            by_name[name].requires_grad_(d.trainable)
