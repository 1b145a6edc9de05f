"""Freezing after wrapping does the wrong thing silently: DDP built its gradient buckets, FSDP1 its
FlatParameters and FSDP2 its sharded parameter groups from the requires_grad flags they saw then.
`freezekit.freeze` refuses a wrapped model unless told `after_wrap=True`.

Wrappers are recognised by class name along the MRO, so nothing from torch.distributed is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from torch import nn

WRAPPERS = {  # class name -> how the message calls it
    "DistributedDataParallel": "DistributedDataParallel",
    "FullyShardedDataParallel": "FSDP1 (FullyShardedDataParallel)",
    "FSDPModule": "FSDP2 (fully_shard)",
}
# The child each wrapper holds the wrapped module in: its name is a prefix the wrapper adds to
# parameter names, which audits strip to print the names the user wrote (only where a wrapper put it:
# a model of the user's own may well have a submodule called `module`).
WRAPPER_CHILDREN = {
    "DistributedDataParallel": "module",
    "FullyShardedDataParallel": "_fsdp_wrapped_module",
    "ActivationWrapper": "_checkpoint_wrapped_module",
    "OptimizedModule": "_orig_mod",
}


def wrapper_of(model: "nn.Module") -> tuple[str, str] | None:
    """(where, wrapper) for the first wrapped module, the root first; None when nothing is wrapped."""
    for name, module in model.named_modules():
        for cls in type(module).__mro__:
            if cls.__name__ in WRAPPERS:
                return name or "the model", WRAPPERS[cls.__name__]
    return None


def after_wrap_flag(value: object) -> bool:
    """`after_wrap=True`: the caller knows the model is wrapped. "ok", its former spelling, still
    means True; anything else but None/False is a UsageError."""
    if value is None or value is False:
        return False
    if value is True or value == "ok":
        return True
    raise UsageError(f"after_wrap={value!r}: pass after_wrap=True or leave it out")


def check_not_wrapped(model: "nn.Module", after_wrap: bool | str | None) -> None:
    found = wrapper_of(model)
    if after_wrap_flag(after_wrap) or found is None:
        return
    where, wrapper = found
    unwrap = "model.module" if wrapper == "DistributedDataParallel" else "the model you passed to the wrapper"
    raise UsageError(
        f"freeze: {where} is already wrapped in {wrapper}, which took its gradient buckets or shards from the "
        f"requires_grad flags at wrapping time: changing them now is silently wrong. Freeze {unwrap} before "
        "wrapping (build, freeze, then wrap), or pass after_wrap=True if you know your engine reads the new flags"
    )


def wrapper_children(model: "nn.Module") -> frozenset[str]:
    """Paths of the modules that wrappers inserted between the user's modules (`module`,
    `module.layer._fsdp_wrapped_module`, ...)."""
    out = set()
    for name, module in model.named_modules():
        for cls in type(module).__mro__:
            child = WRAPPER_CHILDREN.get(cls.__name__)
            if child is not None:
                out.add(f"{name}.{child}" if name else child)
                break
    return frozenset(out)


def unwrapped_name(name: str, inserted: frozenset[str]) -> str:
    """`module._fsdp_wrapped_module.layer.weight` -> `layer.weight`, when `inserted` (see
    `wrapper_children`) says that both prefixes are wrappers' children."""
    path: list[str] = []
    kept: list[str] = []
    for part in name.split("."):
        path.append(part)
        if ".".join(path) not in inserted:
            kept.append(part)
    return ".".join(kept)
