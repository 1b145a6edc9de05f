"""The commands: parse, call the pipeline, render. Errors become exit codes in error_boundary.py.

No torch import at module level: `freezekit --help` and every error found before
a model is needed must stay fast.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from .. import __version__
from ..core.manifest_values import ValuesChoice
from ..core.report import Command
from ..errors import UsageError
from ..render.terminal import stdout_color, stdout_width
from ..render.view import Format, View
from . import check_command, diff_command
from .distributed import CountDistOptions, VerifyDistOptions
from .error_boundary import FreezekitGroup
from .help_text import FreezekitCommand
from .options import (
    MODEL,
    OUTPUT,
    ModelOptions,
    ModelsSource,
    ReportOptions,
    TrainingOptions,
    VerifyFormat,
    VerifyFormatOpt,
    WarningsFailOpt,
    choices,
    complete_model,
    expectations,
    with_options,
)
from .output import emit, emit_verify, no_cyclic_gc, write_stdout
from .rule_order import OrderedRulesCommand
from .settings_of import settings_of as _settings
from .stages import FreezeStagesOpt, StageOptions, count_stages, require_stages, stages_writer

app = typer.Typer(
    cls=FreezekitGroup,
    help="Freeze parts of PyTorch models by declared rules, and audit what you froze.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"freezekit {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Freeze parts of PyTorch models by declared rules, and audit what you froze."""


def _precheck_export(export: Optional[str], fmt: Format, inputs: tuple[str, ...] = ()) -> None:
    if export:
        if fmt is not Format.TABLE:
            raise UsageError("--export saves the rendered table; it cannot be combined with --format " + fmt.value)
        from ..render.export import check_export_path

        check_export_path(export, inputs)


def _audit(command: Command, m: ModelOptions, r: ReportOptions, stages: bool = False, **outputs: Any) -> None:
    """freeze and count: the same model, rules and report options; they differ in what they print.
    `stages` (freeze --stages): the schedule's rows are printed instead of the report."""
    from ..pipeline.commands import run_audit
    from .progress import status

    settings = _settings(m, expectations(r), needs_values=outputs.get("save") is not None, no_cache=r.no_cache)
    if stages:
        require_stages(settings)
    _precheck_export(r.export, r.fmt, settings.input_files())  # never over a file this run reads
    if command is Command.COUNT and r.only is not None and r.depth is None:
        raise UsageError(
            "--only filters rows: count prints totals, so use it with --depth N "
            "(or use freeze, which prints a row per parameter)"
        )
    view = View(
        r.fmt,
        r.depth,
        r.only,
        parameters=command is Command.FREEZE,
        batchnorm_details=r.batchnorm_details,
        width=stdout_width(),
        color=stdout_color(),
    )
    with no_cyclic_gc():
        done = run_audit(command, settings, progress=status, export=r.export, stages=stages, **outputs)
        body = stages_writer(command.value, settings.source.text, done.stages, r.fmt) if stages else None
        emit(done.report, view, r.export, body=body)


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, ReportOptions)
def freeze(
    m: ModelOptions,
    r: ReportOptions,
    save: Annotated[
        Optional[str],
        typer.Option(
            "--save",
            rich_help_panel=OUTPUT,
            metavar="FILE",
            help="Write the weights to FILE.safetensors or FILE.pt, freeze manifest embedded.",
        ),
    ] = None,
    manifest: Annotated[
        Optional[str],
        typer.Option(
            "--manifest", rich_help_panel=OUTPUT, metavar="FILE", help="Write the freeze manifest (lock file) as JSON."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            rich_help_panel=OUTPUT,
            help="Overwrite existing --save/--manifest files (--export always overwrites, like a shell redirect).",
        ),
    ] = False,
    values: Annotated[
        ValuesChoice,
        typer.Option(
            "--values",
            metavar="auto|none",
            rich_help_panel=OUTPUT,
            show_default=False,
            help="Record a SHA-256 digest of each frozen tensor in the manifest (auto: when the model holds "
            "values; default: auto).",
        ),
    ] = ValuesChoice.AUTO,
    stages: FreezeStagesOpt = False,
) -> None:
    """Apply rules and print, per parameter, what is trainable and which rule decided."""
    _audit(Command.FREEZE, m, r, stages, save=save, manifest=manifest, force=force, values=values)


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, ReportOptions, CountDistOptions, StageOptions)
def count(m: ModelOptions, r: ReportOptions, d: CountDistOptions, t: StageOptions) -> None:
    """Print totals (total, trainable, frozen); fail the pipeline when expectations are not met."""
    if t.stages:
        return count_stages(_settings(m, no_cache=r.no_cache), r.fmt, d.stage_plan_options())
    if not d.requested(r.fmt):
        _audit(Command.COUNT, m, r)
        return
    from .distributed import count_sections

    settings = _settings(m, expectations(r), no_cache=r.no_cache)
    _precheck_export(r.export, r.fmt, settings.input_files())
    view = View(r.fmt, r.depth, r.only, width=stdout_width(), color=stdout_color())
    count_sections(d, settings, view, r.export, emit)


@app.command(cls=FreezekitCommand)
def models(
    name_filter: Annotated[
        Optional[str], typer.Argument(metavar="FILTER", help="Only names containing this text.")
    ] = None,
    weights: Annotated[
        Optional[str],
        typer.Option(
            "--weights",
            metavar="NAME",
            rich_help_panel=MODEL,
            autocompletion=complete_model,
            help="List the pretrained weights of model NAME instead.",
        ),
    ] = None,
    source: Annotated[
        ModelsSource,
        typer.Option(
            "--source",
            rich_help_panel=MODEL,
            metavar=choices(ModelsSource),
            show_default=False,
            help="Whose names: torchvision's, or timm's, used as timm:NAME (default: torchvision).",
        ),
    ] = ModelsSource.TORCHVISION,
) -> None:
    """List the model names freezekit can build (or one model's weights): torchvision's, or timm's."""
    from .model_names import model_name_lines

    lines = model_name_lines(source, name_filter, weights)
    write_stdout(lambda: sys.stdout.write("".join(line + "\n" for line in lines)))


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, VerifyDistOptions, TrainingOptions)
def verify(
    m: ModelOptions,
    d: VerifyDistOptions,
    t: TrainingOptions,
    warnings_fail: WarningsFailOpt = False,
    fmt: VerifyFormatOpt = VerifyFormat.TABLE,
) -> None:
    """Prove the freeze with real training steps: gradients, BatchNorm statistics, time and memory."""
    vopts = t.verify_options()
    if d.requested:
        from .distributed import verify_distributed

        verify_distributed(
            d, vopts, lambda: _settings(m, needs_values=True, no_cache=True), warnings_fail, Format(fmt.value)
        )
        return
    settings = _settings(m, needs_values=True, no_cache=True)
    from ..pipeline.stdout_guard import stdout_to_stderr
    from ..verify.runner import verify as run_verify
    from .progress import status

    with status(f"Verifying {settings.source.text}"), stdout_to_stderr():  # the model's prints stay off stdout
        result = run_verify(settings, vopts)
    emit_verify(result, View(Format(fmt.value), width=stdout_width(), color=stdout_color()), warnings_fail)


app.command("check", cls=FreezekitCommand)(check_command.check)
app.command("diff", cls=OrderedRulesCommand)(diff_command.diff)


cache_app = typer.Typer(
    help="The inventory cache that lets repeated audits skip importing torch.", no_args_is_help=True, cls=FreezekitGroup
)
app.add_typer(cache_app, name="cache")


@cache_app.command("clear", cls=FreezekitCommand)
def cache_clear() -> None:
    """Remove every cached inventory."""
    from ..sources.inventory_cache import cache_dir, clear

    typer.echo(f"removed {clear()} cached inventories from {cache_dir()}")


@cache_app.command("path", cls=FreezekitCommand)
def cache_path() -> None:
    """Print the cache folder ($FREEZEKIT_CACHE_DIR, else $XDG_CACHE_HOME/freezekit, else ~/.cache/freezekit)."""
    from ..sources.inventory_cache import cache_dir

    typer.echo(str(cache_dir()))
