"""Build the nn.Module a source names: a torchvision model, or the user's own factory.

The source modules (sources/torchvision.py, sources/factory.py) call these with plain values;
`materialize` is decided once, in the settings (pipeline/settings.py), and only passed along.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator

from ..bounded_read import MAX_FACTORY_BYTES, read_regular
from ..code_trust import refuse_stdlib_callable, refuse_stdlib_module
from ..errors import FreezekitError, InterruptedByUser, ModelError, WeightsError
from . import zoo

if TYPE_CHECKING:
    from torch import nn


def build_cascade(make: Callable[[], Any], what: str, materialize: bool) -> Any:
    """Call `make` on the meta device when values are not needed, falling back step by step."""
    import torch

    attempts: list[Callable[[], ContextManager[Any]]] = (
        [contextlib.nullcontext]
        if materialize
        else [lambda: torch.device("meta"), zoo.parameters_on_meta, contextlib.nullcontext]
    )
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


class _ExitCalled(BaseException):
    """Raised in place of os._exit while the user's code runs."""


@contextlib.contextmanager
def user_code(what: str, retry: bool = False) -> Iterator[None]:
    """Run the user's code (importing a factory's module, calling it) so that whatever it raises, or an
    os._exit it calls, becomes one clear error instead of a traceback or a silent exit.

    os._exit (and posix._exit) are swapped for a function that raises while the code runs: a factory
    that calls them fails with exit 4 and a line. This is not a sandbox (code that kills its own
    process by other means still can); it keeps an accidental exit from looking like success.
    `retry`: let RuntimeError and NotImplementedError through, for the meta-device cascade.
    """
    # os._exit is posix._exit: user code may reach it through either module
    saved = [(module, getattr(module, "_exit")) for module in {os, sys.modules.get("posix", os)}]  # noqa: B009

    def refuse_exit(code: int = 0) -> None:
        raise _ExitCalled(code)

    for module, _ in saved:
        setattr(module, "_exit", refuse_exit)  # noqa: B010
    try:
        yield
    except FreezekitError:
        raise
    except (NotImplementedError, RuntimeError) as exc:
        if retry:
            raise  # may be the meta device: the cascade retries
        raise ModelError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    except _ExitCalled as exc:
        raise ModelError(
            f"{what} called os._exit({exc.args[0] if exc.args else 0}); refused, nothing was written"
        ) from exc
    except KeyboardInterrupt as exc:
        raise InterruptedByUser(f"interrupted while running {what}") from exc
    except BaseException as exc:  # Exception, SystemExit, and BaseException subclasses of the user's own
        raise ModelError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for module, original in saved:
            setattr(module, "_exit", original)  # noqa: B010


def load_factory(ref: str, attr: str, from_file: bool) -> Callable[..., Any]:
    """`attr` of the Python file `ref` (from_file) or of the importable module `ref`.

    The standard library is refused before anything is imported, and a callable that resolves to
    it (a file re-exporting os.system) before it is called (code_trust.py)."""
    if from_file:
        path = Path(ref)
        code = read_regular(path, MAX_FACTORY_BYTES, "Python file", ModelError)  # regular, capped: read once
        module_name = f"freezekit_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        folder = str(path.parent.resolve())
        sys.path.insert(0, folder)
        try:
            with user_code(f"{path}: importing it"):
                exec(compile(code, str(path), "exec"), module.__dict__)
        finally:
            sys.path.remove(folder)
    else:
        refuse_stdlib_module(ref, attr)
        with user_code(f"importing module '{ref}'"):
            module = importlib.import_module(ref)
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        from ..core.suggest import did_you_mean

        raise ModelError(f"'{ref}' has no callable '{attr}'{did_you_mean(attr, public)}")
    refuse_stdlib_callable(fn, f"{ref}:{attr}")
    return fn


def _call_factory(fn: Callable[..., Any], args: dict, what: str) -> "nn.Module":
    from torch import nn

    with user_code(what, retry=True):
        model = fn(**args)
    if not isinstance(model, nn.Module):
        raise ModelError(f"{what} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def build_torchvision(
    name: str, args: dict[str, Any], weights_name: str | None, materialize: bool, trust_pickle: bool = False
) -> "nn.Module":
    """torchvision's model `name`, with the pretrained `weights_name` (from the local cache) if given,
    loaded without unpickling code unless `trust_pickle` (weights.safe_hub_loading)."""
    zoo.check_name(name)
    weights = None
    if weights_name is not None:
        from .weights import torchvision_weights

        weights = torchvision_weights(name, weights_name)
    kwargs = zoo.builder_kwargs(name, weights, args)
    from torchvision import models

    from .weights import safe_hub_loading

    def make() -> "nn.Module":
        try:
            with safe_hub_loading(trust_pickle):
                return models.get_model(name, **kwargs)
        except FreezekitError:
            raise
        except TypeError as exc:
            raise ModelError(f"model '{name}' does not accept these arguments: {exc}") from exc
        except (AssertionError, ValueError, KeyError, IndexError, ArithmeticError) as exc:
            if weights is None:  # the builder refused its arguments (vit_b_16 image_size=223, width_mult=1e308)
                raise ModelError(
                    f"model '{name}' could not be built with {args or 'its defaults'}: {type(exc).__name__}: {exc}"
                ) from exc
            from .weights import cache_path

            raise WeightsError(f"{cache_path(weights)}: cannot load weights {weights.name}: {exc}") from exc
        except Exception as exc:
            if weights is None:
                raise
            from .weights import cache_path

            raise WeightsError(
                f"{cache_path(weights)}: cannot load weights {weights.name}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc

    return build_cascade(make, f"model '{name}'", materialize)


def build_factory(ref: str, attr: str, from_file: bool, args: dict[str, Any], materialize: bool) -> "nn.Module":
    fn = load_factory(ref, attr, from_file)
    what = f"{ref}:{attr}"
    return build_cascade(lambda: _call_factory(fn, args, what), what, materialize)
