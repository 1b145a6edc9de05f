"""`freezekit diff BEFORE AFTER`: parse, run pipeline/diff_run.py, render, exit 11 on a frozen change."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..core.choice import Choice
from ..errors import DriftError
from ..render.terminal import stdout_width
from ..render.view import Format
from .error_boundary import warn
from .options import AllowOpt, ConfigOpt, DefaultOpt, DepthOpt, PatternOpt, TrustOpt, UnfreezeOpt, format_option
from .output import write_stdout


class DiffFormat(Choice):
    """What `diff` prints."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def diff(
    ctx: typer.Context,
    before: Annotated[
        str, typer.Argument(metavar="BEFORE", show_default=False, help="A checkpoint: .safetensors, index, .pt, .bin.")
    ],
    after: Annotated[str, typer.Argument(metavar="AFTER", show_default=False, help="The checkpoint after training.")],
    config: ConfigOpt = None,
    pattern: PatternOpt = None,
    unfreeze: UnfreezeOpt = None,
    default: DefaultOpt = None,
    allow_unmatched: AllowOpt = False,
    manifest: Annotated[
        Optional[str],
        typer.Option(
            "--manifest", metavar="FILE", rich_help_panel="Rules", help="Which tensors are frozen: a manifest's."
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            rich_help_panel="Expectations",
            help="Exit 11 also when a trainable tensor did not change at all (else a warning).",
        ),
    ] = False,
    depth: DepthOpt = None,
    fmt: Annotated[DiffFormat, format_option(DiffFormat)] = DiffFormat.TABLE,
    trust_pickle: TrustOpt = False,
) -> None:
    """Compare two checkpoints tensor by tensor; exit 11 when a frozen tensor changed."""
    from ..pipeline.diff_run import DiffRequest, run_diff
    from ..pipeline.settings import command_line_rules
    from ..render.diff_render import write_diff

    rules = command_line_rules(pattern or [], unfreeze or [], ctx.meta.get("rule_order"))
    request = DiffRequest(before, after, rules, config, default, manifest, not allow_unmatched, trust_pickle, depth)
    result, warnings = run_diff(request)
    for line in warnings:
        warn(line)
    write_stdout(lambda: write_diff(result, Format(fmt.value), sys.stdout, stdout_width()))
    stale = result.trainable_unchanged
    if stale and not strict:
        warn(f"{len(stale)} trainable tensor(s) did not change at all (left out of the optimizer?): {_first(stale)}")
    if result.frozen_changed or (strict and stale):
        problems = [f"{len(result.frozen_changed)} frozen tensor(s) changed: {_first(result.frozen_changed)}"]
        if strict and stale:
            problems.append(f"{len(stale)} trainable tensor(s) did not change: {_first(stale)}")
        raise DriftError("; ".join(p for p in problems if not p.startswith("0 ")))


def _first(names: tuple[str, ...], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")
