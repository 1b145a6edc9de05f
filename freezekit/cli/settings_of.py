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
    from ..pipeline.settings import Request, command_line_rules, from_command_line, parse_arg
    from ..sources.spec import SourceOptions

    source = SourceOptions(
        args=dict(parse_arg(a) for a in m.arg or ()),
        weights=m.weights,
        weights_file=m.weights_file,
        trust_pickle=m.trust_pickle,
        hf_class=m.hf_class,
        revision=m.revision,
        base=m.base,
        download=m.download,
        trust_code=m.trust_code,
    )
    request = Request(
        rules=command_line_rules(m.pattern or [], m.unfreeze or [], m.ctx.meta.get("rule_order")),
        default=m.default,
        allow_unmatched=m.allow_unmatched,
        expect=expect,
        batchnorm=m.batchnorm,
        needs_values=needs_values,
        use_cache=not no_cache,
    )
    return from_command_line(config_path=m.config, model=m.model, source=source, request=request)
