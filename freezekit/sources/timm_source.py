"""Source kind: `timm:NAME`, any model of timm.list_models() (pretrained tags too: `timm:NAME.TAG`).

Built by adapter/timm_models.py with `timm.create_model(NAME, pretrained=False, **args)` on the meta
device; `--weights DEFAULT|TAG` loads pretrained weights from the local cache only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.installed import versions
from ..errors import UsageError
from .spec import Loaded, SourceKind, SourceSpec

PREFIX = "timm:"


def parse(text: str, base: Path | None) -> SourceSpec | None:
    return SourceSpec(SourceKind.TIMM, text, text[len(PREFIX) :]) if text.startswith(PREFIX) else None


def load(spec: SourceSpec, materialize: bool) -> Loaded:
    if spec.hf_class or spec.revision or spec.base or spec.trust_code:
        raise UsageError("--hf-class, --revision, --base and --trust-code apply to hf: models, not to timm:")
    from ..adapter.timm_models import build_timm
    from .built import loaded_model

    model = build_timm(spec.ref, dict(spec.args), weights=spec.weights, download=spec.download, materialize=materialize)
    return loaded_model(model, spec)


def builds_model(spec: SourceSpec) -> bool:
    return True


def input_files(spec: SourceSpec) -> tuple[str, ...]:
    return ()


def runs_code(spec: SourceSpec) -> bool:
    return False  # a name among timm's own models: nothing the spec names is imported


def cache_identity(spec: SourceSpec) -> dict[str, Any] | None:
    """The name, and timm's version: another timm may build another model under the same name."""
    library = versions(("timm",))
    if library["timm"] is None:
        return None  # the build says how to install it
    return {"name": spec.ref, "timm": library["timm"]}
