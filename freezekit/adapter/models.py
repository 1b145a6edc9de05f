"""Build the nn.Module a source names: a torchvision model, or the user's own factory."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ModelError, UsageError, WeightsError
from ..sources import FACTORY, FILE_FACTORY, HF, TIMM, TORCHVISION, Source
from . import zoo

if TYPE_CHECKING:
    from torch import nn

    from ..audit import AuditOptions


def build_cascade(make: Callable[[], Any], what: str, materialize: bool) -> Any:
    """Call `make` on the meta device when values are not needed, falling back step by step."""
    import torch

    attempts = [contextlib.nullcontext] if materialize else [
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


def load_factory(source: Source) -> Callable[..., Any]:
    if source.kind == FILE_FACTORY:
        path = Path(source.ref)
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
            module = importlib.import_module(source.ref)
        except (Exception, SystemExit) as exc:
            raise ModelError(f"cannot import module '{source.ref}': {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, source.attr, None)
    if fn is None or not callable(fn):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        from ..suggest import did_you_mean

        raise ModelError(f"'{source.ref}' has no callable '{source.attr}'{did_you_mean(source.attr, public)}")
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


def load_model(source: Source, options: "AuditOptions") -> "nn.Module":
    materialize = options.materialize or options.weights is not None or options.weights_file is not None
    args = dict(options.model.args)
    if options.weights is not None and source.kind not in (TORCHVISION, TIMM):
        raise UsageError("--weights names torchvision or timm weights; for this model use --weights-file")
    if source.kind == TORCHVISION:
        zoo.check_name(source.ref)
        weights = None
        if options.weights is not None:
            from .weights import torchvision_weights

            weights = torchvision_weights(source.ref, options.weights)
        kwargs = zoo.builder_kwargs(source.ref, weights, args)
        from torchvision import models

        def make() -> "nn.Module":
            try:
                return models.get_model(source.ref, **kwargs)
            except TypeError as exc:
                raise ModelError(f"model '{source.ref}' does not accept these arguments: {exc}") from exc
            except (AssertionError, ValueError, KeyError, IndexError) as exc:
                if weights is None:  # the builder refused its arguments (e.g. vit_b_16 image_size=223)
                    raise ModelError(f"model '{source.ref}' could not be built with {args or 'its defaults'}: "
                                     f"{type(exc).__name__}: {exc}") from exc
                from .weights import cache_path

                raise WeightsError(f"{cache_path(weights)}: cannot load weights {weights.name}: {exc}") from exc
            except Exception as exc:
                if weights is None:
                    raise
                from .weights import cache_path

                raise WeightsError(f"{cache_path(weights)}: cannot load weights {weights.name}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

        model = build_cascade(make, f"model '{source.ref}'", materialize)
    elif source.kind == TIMM:
        from .timm_models import build_timm

        model = build_timm(source.ref, args, weights=options.weights, download=options.download,
                           materialize=materialize)
    elif source.kind == HF:
        model = _build_hub(source, options, materialize)
    elif source.kind in (FACTORY, FILE_FACTORY):
        fn = load_factory(source)
        what = f"{source.ref}:{source.attr}"
        model = build_cascade(lambda: _call_factory(fn, args, what), what, materialize)
    else:
        raise ModelError(f"'{source.ref}' is a checkpoint, not a model")
    if options.weights_file is not None:
        from .weights import load_weights_file

        load_weights_file(model, options.weights_file, trust_pickle=options.trust_pickle)
    return model


def _build_hub(source: Source, options: "AuditOptions", materialize: bool) -> "nn.Module":
    """hf:PATH or hf:ORG/NAME: a transformers model, or a PEFT adapter on its base model."""
    from ..hub_folders import ADAPTER, MODEL, resolve

    spec = options.model
    folder = resolve(source.ref, spec.revision, options.download, with_weights=materialize)
    if folder.kind == ADAPTER:
        from .peft_models import build_peft

        return build_peft(folder, dict(spec.args), base=spec.base, hf_class=spec.hf_class,
                          trust_code=options.trust_code, materialize=materialize, download=options.download)
    if folder.kind != MODEL:
        raise ModelError(f"{folder.label}: a folder of weights without config.json is a checkpoint, not a model")
    from .hf_models import build_hf

    return build_hf(folder, dict(spec.args), hf_class=spec.hf_class, trust_code=options.trust_code,
                    materialize=materialize, weights_file=options.weights_file)
