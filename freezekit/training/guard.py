"""`freezekit.guard`: check, while training, that the frozen part stayed frozen.

    with freezekit.guard(model, check_every=100) as g:
        for batch in loader:
            ...
            g.step()

The guard snapshots a digest (blake2b of the bytes) of every frozen parameter; a check fails when
one moved, became trainable (requires_grad flipped) or carries a gradient. It raises
VerifyError (exit 10, as a failed verify) naming them, at exit and every `check_every`
calls of `step()`; `on_violation="warn"` warns instead. After a schedule unfreezes or freezes
parameters, `rebase()` takes the new frozen set as the reference.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable

from ..core.name_lists import first_names
from ..errors import UsageError, VerifyError

if TYPE_CHECKING:
    import torch
    from torch import nn

ON_VIOLATION = ("raise", "warn")


def digest(t: "torch.Tensor") -> str:
    from ..adapter.value_digests import tensor_bytes

    return hashlib.blake2b(tensor_bytes(t), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Violations:
    moved: tuple[str, ...] = ()
    made_trainable: tuple[str, ...] = ()
    with_grad: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.moved or self.made_trainable or self.with_grad)

    def message(self) -> str:
        parts = []
        for label, names in (
            ("moved", self.moved),
            ("set trainable", self.made_trainable),
            ("got a gradient", self.with_grad),
        ):
            if names:
                parts.append(f"{len(names)} {label} ({first_names(names)})")
        return "frozen parameters changed during training: " + "; ".join(parts)


class Guard:
    def __init__(self, model: "nn.Module", check_every: int | None = None, on_violation: str = "raise"):
        if check_every is not None and (
            isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1
        ):
            raise UsageError(
                f"check_every={check_every!r}: give a whole number, 1 or more, or None to check at exit only"
            )
        if on_violation not in ON_VIOLATION:
            raise UsageError(f"on_violation={on_violation!r}: choose 'raise' or 'warn'")
        self.model, self.check_every, self.on_violation = model, check_every, on_violation
        self.calls = 0
        self.rebase()

    def rebase(self) -> None:
        """Take the frozen parameters as they are now as the reference (after a schedule's stage)."""
        self.frozen = {name: (p, digest(p)) for name, p in self.model.named_parameters() if not p.requires_grad}

    @property
    def frozen_names(self) -> list[str]:
        return list(self.frozen)

    def violations(self) -> Violations:
        moved, trainable, with_grad = [], [], []
        for name, (p, before) in self.frozen.items():
            if p.requires_grad:
                trainable.append(name)
            if p.grad is not None:
                with_grad.append(name)
            if digest(p) != before:
                moved.append(name)
        return Violations(tuple(moved), tuple(trainable), tuple(with_grad))

    def check(self, had_grad: Iterable[str] = ()) -> Violations:
        """Raise (or warn) when a frozen parameter changed; the violations found otherwise (empty).
        `had_grad`: frozen parameters seen with a gradient earlier (the callbacks look after each backward)."""
        found = self.violations()
        earlier = set(had_grad) - set(found.with_grad)
        if earlier:
            found = replace(found, with_grad=tuple(n for n in self.frozen if n in earlier or n in found.with_grad))
        if found and self.on_violation == "raise":
            raise VerifyError(found.message())
        if found:
            warnings.warn(found.message(), RuntimeWarning, stacklevel=2)
        return found

    def step(self) -> None:
        self.calls += 1
        if self.check_every and self.calls % self.check_every == 0:
            self.check()

    def __enter__(self) -> "Guard":
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:  # an exception already on its way out is not hidden by ours
            self.check()


def guard(model: "nn.Module", check_every: int | None = None, on_violation: str = "raise") -> Guard:
    """A Guard over the parameters of `model` frozen now (see the module docstring)."""
    return Guard(model, check_every, on_violation)
