"""A cap on what building a model from a config may create: the backstop of
sources/hf_config_size.py, for a size its estimate does not know (a key it does not read).

While the build runs, torch's global registration hooks count every submodule and parameter
registered; past MAX_REGISTRATIONS the build stops with one line. Registrations, not only modules:
`ModuleList([Linear(...) for _ in range(n)])` registers each Linear's weight as it is created.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..errors import ModelError

MAX_REGISTRATIONS = 250_000  # modules + parameters; Llama-3-8B registers about 800


@contextlib.contextmanager
def build_budget(label: str) -> Iterator[None]:
    from torch.nn.modules import module as torch_module

    count, limit = 0, MAX_REGISTRATIONS

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1
        if count > limit:
            raise ModelError(
                f"{label}: building it registered more than {limit:,} modules and parameters, freezekit's limit "
                "for a model built from a config (docs/security.md); stopped"
            )

    handles = [
        torch_module.register_module_module_registration_hook(counted),
        torch_module.register_module_parameter_registration_hook(counted),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
