"""When freezekit may import and call code a name points to. Pure: no torch.

A factory (`pkg.mod:callable`, `file.py:callable`) that is really Python's standard library or a
builtin (`os:system`, `subprocess:run`, `builtins:eval`) is not a model builder: refused before
anything is imported or called, wherever the name came from. (The other rule, that a name read
from a manifest runs only with --trust-code, lives with `check`: pipeline/commands.py.)
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

from .errors import ModelError

STDLIB = frozenset(sys.stdlib_module_names) | {"builtins", "__builtin__"}


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def is_stdlib_module(module: str | None) -> bool:
    return module is not None and _top(module) in STDLIB


def refuse_stdlib_module(module: str, attr: str) -> None:
    """Before importing: a `pkg.mod:callable` whose package is the standard library is refused."""
    if is_stdlib_module(module):
        raise ModelError(
            f"factory '{module}:{attr}' is in Python's standard library, not a model "
            "builder; refused without importing or calling it"
        )


def refuse_stdlib_callable(fn: Any, what: str) -> None:
    """After looking it up, before calling: a callable that resolves to a builtin or to the standard
    library (say `build = os.system` in the user's file) is refused."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(target, "__module__", None)
    if not isinstance(module, str):
        module = type(target).__module__ if not inspect.isroutine(target) else None
    if module is None and inspect.isbuiltin(target):
        module = "builtins"
    if is_stdlib_module(module):
        name = getattr(target, "__qualname__", None) or type(target).__name__
        raise ModelError(
            f"factory '{what}' resolves to {module}.{name} from Python's standard library, not a "
            "model builder; refused without calling it"
        )
