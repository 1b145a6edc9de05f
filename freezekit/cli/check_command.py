"""`freezekit check`: a manifest against a model (rules re-resolved, pipeline/commands.run_check) or
against a checkpoint (names and values, pipeline/checkpoint_check.py). Parsing and exit codes only."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError
from ..render.view import Format, View
from .error_boundary import warn
from .options import MODEL, CheckDownloadOpt, CheckFormat, TrustCodeOpt, TrustOpt, complete_model, format_option
from .output import write_stdout


def check(
    manifest: Annotated[
        str,
        typer.Argument(
            metavar="MANIFEST",
            help="A manifest written by 'freeze --manifest' (or a checkpoint written by 'freeze --save': its own).",
            show_default=False,
        ),
    ],
    model: Annotated[
        Optional[str],
        typer.Argument(
            metavar="MODEL|CHECKPOINT",
            help="The model to check (default: the manifest's model), or a checkpoint to check by names and values.",
            show_default=False,
            autocompletion=complete_model,
        ),
    ] = None,
    against: Annotated[
        Optional[str],
        typer.Option(
            "--against",
            metavar="FILE",
            rich_help_panel=MODEL,
            help="Reference weights for a checkpoint check: changed frozen tensors get their largest difference.",
        ),
    ] = None,
    trust_pickle: TrustOpt = False,
    trust_code: TrustCodeOpt = False,
    fmt: Annotated[CheckFormat, format_option(CheckFormat)] = CheckFormat.TABLE,
    download: CheckDownloadOpt = False,
) -> None:
    """Check a model or a checkpoint against a manifest: names, flags, values; exit 11 listing the differences."""
    from ..pipeline.checkpoint_check import is_checkpoint

    if model is None and is_checkpoint(manifest, json_too=False):
        _check_checkpoint(None, manifest, against, trust_pickle, fmt)
    elif model is not None and is_checkpoint(model):
        _check_checkpoint(manifest, model, against, trust_pickle, fmt)
    elif against is not None:
        raise UsageError("--against gives reference values for a checkpoint: freezekit check MANIFEST CHECKPOINT")
    else:
        _check_model(manifest, model, trust_pickle, trust_code, fmt, download)


def _check_model(
    manifest: str, model: Optional[str], trust_pickle: bool, trust_code: bool, fmt: CheckFormat, download: bool
) -> None:
    from ..pipeline.commands import run_check
    from ..render.check_render import write_check
    from .progress import status

    drift, report = run_check(manifest, model, trust_pickle, progress=status, trust_code=trust_code, download=download)
    for warning in report.plan.warnings:  # e.g. a rule that no longer matches (the drift says what changed)
        warn(warning)
    t = report.totals
    matches = f"manifest matches: {t.frozen:,} of {t.total:,} parameters frozen, inventory {drift.fingerprint_now}"
    view = View(Format(fmt.value))
    write_stdout(lambda: write_check(manifest, drift, report.model.source, matches, view, sys.stdout))
    _drift_exit(drift, report.model.source, manifest)


def _check_checkpoint(
    manifest: Optional[str], checkpoint: str, against: Optional[str], trust_pickle: bool, fmt: CheckFormat
) -> None:
    from ..pipeline.checkpoint_check import run_checkpoint_check
    from ..render.check_render import write_check

    result = run_checkpoint_check(manifest, checkpoint, against, trust_pickle)
    drift = result.drift
    matches = f"manifest matches: {result.frozen:,} frozen tensor(s) by name, inventory {drift.fingerprint_now}"
    view = View(Format(fmt.value))
    write_stdout(lambda: write_check(result.manifest, drift, checkpoint, matches, view, sys.stdout))
    _drift_exit(drift, checkpoint, result.manifest)


def _drift_exit(drift: Any, model: str, manifest: str) -> None:
    from ..errors import DriftError

    if drift.drifted:  # the differences are on stdout already: the error line only says so
        raise DriftError(f"{model} no longer matches {manifest}: {len(drift.lines())} difference(s), listed on stdout")
