"""A model source, parsed once: what MODEL names, as a frozen typed value. No torch, no file reads.

`sources.registry.parse_source` is the one function that turns a MODEL string into a
SourceSpec; everything downstream takes the spec and never looks at the string again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from ..core.records import Inventory
from ..core.report import ModelInfo


class SourceKind(str, Enum):
    """The kinds of model source. The values are recorded in reports and manifests: never rename them."""

    TORCHVISION = "torchvision"  # a torchvision model name
    FACTORY = "factory"  # package.module:callable
    FILE_FACTORY = "file"  # path/to/file.py:callable
    SAFETENSORS = "safetensors"  # a .safetensors file
    SAFETENSORS_INDEX = "safetensors-index"  # a sharded checkpoint's *.safetensors.index.json
    STATE_DICT = "state-dict"  # .pt / .pth / .bin / .ckpt
    TIMM = "timm"  # timm:NAME
    HF = "hf"  # hf:FOLDER or hf:ORG/NAME: a transformers model, a PEFT adapter, or a folder of weights
    PYTHON = "python"  # an nn.Module handed to the Python API: never parsed, never loaded


@dataclass(frozen=True)
class SourceSpec:
    """Where a model comes from and how to load it."""

    kind: SourceKind
    text: str  # the MODEL string as given (a relative path resolved against its config's folder)
    ref: str  # the name, module path or file path
    attr: str = ""  # the callable, for factories
    args: dict[str, Any] = field(default_factory=dict, hash=False)  # passed to the builder
    weights: str | None = None  # torchvision weights enum name
    weights_file: str | None = None  # a state_dict to load into the built model
    trust_pickle: bool = False  # the user allowed unpickling (this runs code from the file)
    hf_class: str | None = None  # hf: the transformers class to build (default: the config's architectures[0])
    revision: str | None = None  # hf:ORG/NAME: the revision in the local Hugging Face cache
    base: str | None = None  # a PEFT adapter's base model (default: its base_model_name_or_path)
    download: bool = False  # timm:/hf: may fetch what the local cache lacks
    trust_code: bool = False  # hf: may run the code a model ships with (auto_map)
    repo_ids_only: bool = False  # hf: read from someone else's file (a manifest): ORG/NAME is never a local folder

    def info(self) -> ModelInfo:
        """How reports and manifests record the source."""
        hub = {k: v for k, v in (("hf_class", self.hf_class), ("revision", self.revision), ("base", self.base)) if v}
        return ModelInfo(self.text, self.kind.value, self.weights, self.weights_file, dict(self.args), hub)


@dataclass(frozen=True)
class SourceOptions:
    """What the caller says about the model beyond its name (command line, config, manifest, API):
    one typed value, taken whole by registry.parse_source. None/False: not said."""

    args: Mapping[str, Any] = field(default_factory=dict)  # --arg values, already parsed
    weights: str | None = None
    weights_file: str | None = None
    trust_pickle: bool = False
    hf_class: str | None = None
    revision: str | None = None
    base: str | None = None
    download: bool = False
    trust_code: bool = False


@dataclass(frozen=True)
class Loaded:
    """What loading a source gave: always an inventory, and the nn.Module when one was built."""

    inventory: Inventory
    model: Any = None
