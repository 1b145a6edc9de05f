"""The model options of a command turned into Settings (the pipeline's one value): used by every
command that loads a model (app.py, training.py, stages.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.expectations import Expectations
from .options import ModelOptions

if TYPE_CHECKING:
    from ..pipeline.settings import Settings


def settings_of(
    m: ModelOptions, expect: Expectations = Expectations(), needs_values: bool = False, no_cache: bool = False
) -> "Settings":
    from ..pipeline.settings import SourceOptions, from_command_line

    source = SourceOptions(
        args=tuple(m.arg or ()),
        weights=m.weights,
        weights_file=m.weights_file,
        trust_pickle=m.trust_pickle,
        hf_class=m.hf_class,
        revision=m.revision,
        base=m.base,
        download=m.download,
        trust_code=m.trust_code,
    )
    return from_command_line(
        config_path=m.config,
        model=m.model,
        source=source,
        patterns=m.pattern or [],
        unfreezes=m.unfreeze or [],
        order=m.ctx.meta.get("rule_order"),
        default=m.default,
        strict=not m.allow_unmatched,
        expect=expect,
        batchnorm=m.batchnorm,
        needs_values=needs_values,
        use_cache=not no_cache,
    )
