"""hf: models: a transformers model built from its config.json, on the meta device unless values
are needed; real weights only from the folder's own safetensors or --weights-file.

The class is `architectures[0]` of the config when transformers has it (else AutoModel), or
`--hf-class`. Code shipped with a model (the config's `auto_map`) runs only under --trust-code.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import FreezekitError, ModelError, UnsafeCodeError
from ..sources.hub_folders import HF_EXTRA, HubFolder

if TYPE_CHECKING:
    from torch import nn


def require_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ModelError(f"hf: models need transformers, which is not installed: {HF_EXTRA}") from exc
    return transformers


def _known_class(transformers: Any, name: str) -> Any:
    cls = getattr(transformers, name, None) if name.isidentifier() else None
    if isinstance(cls, type) and (issubclass(cls, transformers.PreTrainedModel) or name.startswith("AutoModel")):
        return cls
    return None


def remote_code_entry(config: dict[str, Any], transformers: Any, hf_class: str | None) -> str | None:
    """The auto_map entry a build would have to run, or None when transformers has the class itself."""
    auto_map = config.get("auto_map")
    if not isinstance(auto_map, dict) or not auto_map:
        return None
    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    native_type = isinstance(model_type, str) and model_type in transformers.CONFIG_MAPPING
    native_arch = bool(archs) and isinstance(archs[0], str) and _known_class(transformers, archs[0]) is not None
    if native_type and (native_arch or hf_class):
        return None
    models = {k: v for k, v in auto_map.items() if k.startswith("AutoModel")}
    key = hf_class if hf_class in models else next(iter(models or auto_map))
    value = (models or auto_map)[key]
    return f"auto_map.{key} = {value if isinstance(value, str) else json_text(value)}"


def json_text(value: Any) -> str:
    import json

    return json.dumps(value)


def _config(folder: HubFolder, args: dict, trust_code: bool) -> Any:
    transformers = require_transformers()
    try:
        return transformers.AutoConfig.from_pretrained(
            str(folder.path), local_files_only=True, trust_remote_code=trust_code, **args
        )
    except (Exception, SystemExit) as exc:  # an unknown model_type, a bad value: one line naming the folder
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{folder.label}: transformers cannot read {folder.path / 'config.json'}: {first}") from exc


def model_class(folder: HubFolder, hf_class: str | None, trust_code: bool) -> tuple[Any, str]:
    """The class to build and how it was chosen (for errors)."""
    transformers = require_transformers()
    data = folder.config()
    entry = remote_code_entry(data, transformers, hf_class)
    if entry is not None and not trust_code:
        raise UnsafeCodeError(
            f"{folder.label}: building it would run the model's own code ({entry}); pass --trust-code to allow that"
        )
    if hf_class:
        cls = _known_class(transformers, hf_class)
        if cls is None:
            from ..core.suggest import did_you_mean

            names = [
                n
                for n in dir(transformers)
                if n.startswith("AutoModel") or n.endswith(("Model", "LMHeadModel")) or "For" in n
            ]
            raise ModelError(f"--hf-class {hf_class}: not a transformers model class{did_you_mean(hf_class, names)}")
        return cls, f"--hf-class {hf_class}"
    if entry is not None:  # trusted remote code: the auto class named in auto_map
        key = entry.split(" = ")[0].removeprefix("auto_map.")
        auto = getattr(transformers, key, None) if key.startswith("AutoModel") else None
        return auto or transformers.AutoModel, entry
    named = architecture_class(data, transformers)
    if named is not None:
        return named, f"architectures[0] = {named.__name__}"
    return transformers.AutoModel, "AutoModel (the config names no architecture transformers has)"


def architecture_class(data: dict[str, Any], transformers: Any) -> Any:
    """The class `architectures[0]` names when transformers has it, else None (AutoModel is then built)."""
    archs = data.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return _known_class(transformers, archs[0])
    return None


def auto_model_note(folder: HubFolder, built: str) -> str:
    """The warning for a config that names no architecture: AutoModel builds the bare model, without
    the task head (a Llama without lm_head), so the counts may not be the published ones."""
    return (
        f"{folder.label}: config.json names no architecture transformers has; built {built} (AutoModel), "
        "which has no task head such as lm_head or a classifier: pass --hf-class to build another class "
        "(e.g. --hf-class AutoModelForCausalLM)"
    )


def build_hf(
    folder: HubFolder,
    args: dict,
    *,
    hf_class: str | None,
    trust_code: bool,
    materialize: bool,
    weights_file: str | None,
) -> "nn.Module":
    """The model of an hf: folder: meta unless materialize; then real weights from --weights-file, else
    the folder's safetensors (when it has some), else a random init. A config asking for more than
    freezekit's limits (sources/hf_config_size.py, adapter/build_budget.py) is refused."""
    from ..sources.hf_config_size import check_config_size
    from .build_budget import build_budget

    check_config_size({**folder.config(), **args}, folder.label)
    with quiet_transformers(), build_budget(folder.label):
        return _build(folder, args, hf_class, trust_code, materialize, weights_file)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers logs advice while building (unused config keys, token ids), raises deprecation
    warnings and draws progress bars: freezekit's stderr holds one line per warning or error, so all
    three are held while freezekit builds."""
    logging = require_transformers().utils.logging
    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()  # "Loading weights: 100%" is not freezekit's to print
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def _build(
    folder: HubFolder, args: dict, hf_class: str | None, trust_code: bool, materialize: bool, weights_file: str | None
) -> "nn.Module":
    from .build import build_cascade

    cls, how = model_class(folder, hf_class, trust_code)
    config = _config(folder, args, trust_code)
    is_auto = cls.__name__.startswith("AutoModel")
    if materialize and weights_file is None and folder.weight_files():
        return _from_pretrained(folder, cls, args, trust_code)

    def make() -> "nn.Module":
        try:
            if is_auto:
                return cls.from_config(config, trust_remote_code=trust_code)
            return cls._from_config(config)
        except (NotImplementedError, RuntimeError, FreezekitError):
            raise  # may be the meta device: let the cascade retry; or freezekit's own one line
        except (Exception, SystemExit) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(
                f"{folder.label}: {cls.__name__} ({how}) cannot be built from its config: {first}"
            ) from exc

    return build_cascade(make, folder.label, materialize)


def _from_pretrained(folder: HubFolder, cls: Any, args: dict, trust_code: bool) -> "nn.Module":
    """Real weights from the folder's own safetensors (never a pickle), through transformers' loader,
    which knows each architecture's renamed keys and tied weights."""
    from ..errors import WeightsError

    try:
        return cls.from_pretrained(
            str(folder.path), local_files_only=True, use_safetensors=True, trust_remote_code=trust_code, **args
        )
    except FreezekitError:
        raise
    except (Exception, SystemExit) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{folder.label}: cannot load the weights in {folder.path}: {first}") from exc
