"""When freezekit may import and call code a name points to. Pure: no torch.

Two rules, in the spirit of safetensors (data never runs code) and git's safe.directory
(someone else's file needs your consent):
  * a factory (`pkg.mod:callable`, `file.py:callable`) that is really Python's standard library
    or a builtin (`os:system`, `subprocess:run`, `builtins:eval`) is not a model builder: refused
    before anything is imported or called, wherever the name came from;
  * a name read from a manifest (a lock file that travels between people and CI) is imported only
    with the user's consent: --trust-code, or the same factory named as MODEL on the command line.
"""
from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

from .errors import ModelError, UnsafeCodeError
from .sources import FACTORY, FILE_FACTORY, Source, parse_source

STDLIB = frozenset(sys.stdlib_module_names) | {"builtins", "__builtin__"}


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def is_stdlib_module(module: str | None) -> bool:
    return module is not None and _top(module) in STDLIB


def refuse_stdlib_module(source: Source) -> None:
    """Before importing: a `pkg.mod:callable` whose package is the standard library is refused."""
    if source.kind == FACTORY and is_stdlib_module(source.ref):
        raise ModelError(f"factory '{source.ref}:{source.attr}' is in Python's standard library, not a model "
                         "builder; refused without importing or calling it")


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
        raise ModelError(f"factory '{what}' resolves to {module}.{name} from Python's standard library, not a "
                         "model builder; refused without calling it")


def names_code(source_text: str) -> bool:
    """Whether building this source imports and calls code (a factory), rather than reading data."""
    return parse_source(source_text).kind in (FACTORY, FILE_FACTORY)


def check_manifest_consent(manifest_path: str, source_text: str, model_arg: str | None, trust_code: bool) -> None:
    """A manifest may name a torchvision model or a checkpoint freely; code only with consent."""
    if trust_code or model_arg is not None or not names_code(source_text):
        return
    raise UnsafeCodeError(
        f"{manifest_path}: the manifest names code to import and run ('{source_text}'), which was not run; "
        f"if you trust the manifest pass --trust-code, or name the model yourself: "
        f"freezekit check {manifest_path} '{source_text}'")
