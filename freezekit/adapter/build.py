"""Build the nn.Module a source names: a torchvision model, or the user's own factory.

The source modules (sources/torchvision.py, sources/factory.py) call these with plain values;
`materialize` is decided once, in the settings (pipeline/settings.py), and only passed along.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from ..errors import ModelError, WeightsError
from . import zoo

if TYPE_CHECKING:
    from torch import nn


def build_cascade(make: Callable[[], Any], what: str, materialize: bool) -> Any:
    """Call `make` on the meta device when values are not needed, falling back step by step."""
    import torch

    attempts: list[Callable[[], ContextManager[Any]]] = [contextlib.nullcontext] if materialize else [
        lambda: torch.device("meta"), zoo.parameters_on_meta, contextlib.nullcontext]
    last: Exception | None = None
    for attempt in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with attempt():
                    return make()
        except (NotImplementedError, RuntimeError) as exc:  # meta cannot run this builder: try the next way
            last = exc
    raise ModelError(f"{what} could not be built: {last}") from last


def load_factory(ref: str, attr: str, from_file: bool) -> Callable[..., Any]:
    """`attr` of the Python file `ref` (from_file) or of the importable module `ref`."""
    if from_file:
        path = Path(ref)
        if not path.is_file():
            raise ModelError(f"{path}: no such Python file")
        module_name = f"freezekit_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent.resolve()))
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # the user's code failed (or exited): report it, do not crash
            raise ModelError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
        finally:
            sys.path.remove(str(path.parent.resolve()))
    else:
        try:
            module = importlib.import_module(ref)
        except (Exception, SystemExit) as exc:
            raise ModelError(f"cannot import module '{ref}': {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        from ..core.suggest import did_you_mean

        raise ModelError(f"'{ref}' has no callable '{attr}'{did_you_mean(attr, public)}")
    return fn


def _call_factory(fn: Callable[..., Any], args: dict, what: str) -> "nn.Module":
    from torch import nn

    try:
        model = fn(**args)
    except (NotImplementedError, RuntimeError):
        raise  # may be the meta device: let the cascade retry
    except (Exception, SystemExit) as exc:
        raise ModelError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"{what} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def build_torchvision(name: str, args: dict[str, Any], weights_name: str | None, materialize: bool) -> "nn.Module":
    """torchvision's model `name`, with the pretrained `weights_name` (from the local cache) if given."""
    zoo.check_name(name)
    weights = None
    if weights_name is not None:
        from .weights import torchvision_weights

        weights = torchvision_weights(name, weights_name)
    kwargs = zoo.builder_kwargs(name, weights, args)
    from torchvision import models

    def make() -> "nn.Module":
        try:
            return models.get_model(name, **kwargs)
        except TypeError as exc:
            raise ModelError(f"model '{name}' does not accept these arguments: {exc}") from exc
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            if weights is None:  # the builder refused its arguments (e.g. vit_b_16 image_size=223)
                raise ModelError(f"model '{name}' could not be built with {args or 'its defaults'}: "
                                 f"{type(exc).__name__}: {exc}") from exc
            from .weights import cache_path

            raise WeightsError(f"{cache_path(weights)}: cannot load weights {weights.name}: {exc}") from exc
        except Exception as exc:
            if weights is None:
                raise
            from .weights import cache_path

            raise WeightsError(f"{cache_path(weights)}: cannot load weights {weights.name}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    return build_cascade(make, f"model '{name}'", materialize)


def build_factory(ref: str, attr: str, from_file: bool, args: dict[str, Any], materialize: bool) -> "nn.Module":
    fn = load_factory(ref, attr, from_file)
    what = f"{ref}:{attr}"
    return build_cascade(lambda: _call_factory(fn, args, what), what, materialize)
