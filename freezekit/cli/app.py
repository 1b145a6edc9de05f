"""The commands: parse, call the pipeline, render. Errors become exit codes in error_boundary.py.

No torch import at module level: `freezekit --help` and every error found before
a model is needed must stay fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .. import __version__
from ..core.expectations import Expectations
from ..errors import DriftError, UsageError
from ..render.terminal import stdout_color, stdout_width
from ..render.view import Format, View
from .distributed import CountDistOptions, VerifyDistOptions
from .error_boundary import FreezekitGroup, warn
from .help_text import FreezekitCommand
from .options import (
    CheckDownloadOpt,
    CheckFormat,
    ModelOptions,
    ModelsSource,
    ReportOptions,
    TrustCodeOpt,
    TrustOpt,
    VerifyFormat,
    complete_model,
    expectations,
    with_options,
)
from .output import emit, emit_verify, no_cyclic_gc, write_stdout
from .rule_order import OrderedRulesCommand

if TYPE_CHECKING:
    from ..pipeline.settings import Settings


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


def _options(
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


def _precheck_export(export: Optional[str], fmt: Format, inputs: tuple[str, ...] = ()) -> None:
    if export:
        if fmt is not Format.TABLE:
            raise UsageError("--export saves the rendered table; it cannot be combined with --format " + fmt.value)
        from ..render.export import check_export_path

        check_export_path(export, inputs)


def _audit(command: str, m: ModelOptions, r: ReportOptions, **outputs: Any) -> None:
    """freeze and count: the same model, rules and report options; they differ in what they print."""
    from ..atomic_write import check_distinct
    from ..pipeline.commands import run_audit
    from .progress import status

    check_distinct({"--save": outputs.get("save"), "--manifest": outputs.get("manifest"), "--export": r.export})
    options = _options(m, expectations(r), needs_values=outputs.get("save") is not None, no_cache=r.no_cache)
    _precheck_export(r.export, r.fmt, options.input_files())  # never over a file this run reads
    if command == "count" and r.only is not None and r.depth is None:
        raise UsageError(
            "--only filters rows: count prints totals, so use it with --depth N "
            "(or use freeze, which prints a row per parameter)"
        )
    view = View(
        r.fmt,
        r.depth,
        r.only,
        parameters=command == "freeze",
        batchnorm_details=r.batchnorm_details,
        width=stdout_width(),
        color=stdout_color(),
    )
    with no_cyclic_gc():
        report = run_audit(command, options, progress=status, **outputs)
        emit(report, view, r.export)


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, ReportOptions)
def freeze(
    m: ModelOptions,
    r: ReportOptions,
    save: Annotated[
        Optional[str],
        typer.Option("--save", help="Write the weights to FILE.safetensors or FILE.pt, freeze manifest embedded."),
    ] = None,
    manifest: Annotated[
        Optional[str], typer.Option("--manifest", help="Write the freeze manifest (lock file) as JSON.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Overwrite existing --save/--manifest files (--export always overwrites, like a shell redirect).",
        ),
    ] = False,
) -> None:
    """Apply rules and print, per parameter, what is trainable and which rule decided."""
    _audit("freeze", m, r, save=save, manifest=manifest, force=force)


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, ReportOptions, CountDistOptions)
def count(m: ModelOptions, r: ReportOptions, d: CountDistOptions) -> None:
    """Print totals (total, trainable, frozen); fail the pipeline when expectations are not met."""
    if not d.requested(r.fmt):
        _audit("count", m, r)
        return
    from .distributed import count_sections

    options = _options(m, expectations(r), no_cache=r.no_cache)
    _precheck_export(r.export, r.fmt, options.input_files())
    view = View(r.fmt, r.depth, r.only, width=stdout_width(), color=stdout_color())
    count_sections(d, options, view, r.export, emit)


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
            autocompletion=complete_model,
            help="List the pretrained weights of model NAME instead.",
        ),
    ] = None,
    source: Annotated[
        ModelsSource,
        typer.Option("--source", help="Whose names: torchvision's, or timm's (use them as timm:NAME)."),
    ] = ModelsSource.TORCHVISION,
) -> None:
    """List the model names freezekit can build (or one model's weights): torchvision's, or timm's."""
    from .model_names import model_name_lines

    lines = model_name_lines(source, name_filter, weights)
    write_stdout(lambda: sys.stdout.write("".join(line + "\n" for line in lines)))


@app.command(cls=OrderedRulesCommand)
@with_options(ModelOptions, VerifyDistOptions)
def verify(
    m: ModelOptions,
    d: VerifyDistOptions,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="cpu, cuda or cuda:N.")] = "cpu",
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", min=1, metavar="N", help="Synthetic batch size (default: 2).")
    ] = None,
    input_shape: Annotated[
        Optional[str],
        typer.Option("--input-shape", metavar="C,H,W", help="One input without the batch dimension, e.g. 3,224,224."),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", metavar="DTYPE", help="float32, or bfloat16 (autocast).")
    ] = "float32",
    steps: Annotated[
        int, typer.Option("--steps", min=1, metavar="N", help="Timed training steps, at least 1 (median reported).")
    ] = 3,
    warmup: Annotated[int, typer.Option("--warmup", min=0, metavar="N", help="Untimed steps first.")] = 1,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also run with everything trainable and print the ratios.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 10) on trainable-but-unused parameters too.")
    ] = False,
    fmt: Annotated[VerifyFormat, typer.Option("--format", "-f", help="Output format.")] = VerifyFormat.TABLE,
) -> None:
    """Prove the freeze with real training steps: gradients, BatchNorm statistics, time and memory."""
    from ..verify.options import verify_options

    vopts = verify_options(device, batch_size, input_shape, dtype, steps, warmup, compare)
    if d.requested:
        from .distributed import verify_distributed

        verify_distributed(d, vopts, lambda: _options(m, needs_values=True, no_cache=True), strict, Format(fmt.value))
        return
    options = _options(m, needs_values=True, no_cache=True)
    from ..pipeline.stdout_guard import stdout_to_stderr
    from ..verify.runner import verify as run_verify
    from .progress import status

    with status(f"Verifying {options.source.text}"), stdout_to_stderr():  # the model's prints stay off stdout
        result = run_verify(options, vopts)
    emit_verify(result, View(Format(fmt.value), width=stdout_width(), color=stdout_color()), strict)


@app.command(cls=FreezekitCommand)
def check(
    manifest: Annotated[
        str, typer.Argument(metavar="MANIFEST", help="A manifest written by 'freeze --manifest'.", show_default=False)
    ],
    model: Annotated[
        Optional[str],
        typer.Argument(
            metavar="MODEL",
            help="The model to check (default: the manifest's model).",
            show_default=False,
            autocompletion=complete_model,
        ),
    ] = None,
    trust_pickle: TrustOpt = False,
    trust_code: TrustCodeOpt = False,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.TABLE,
    download: CheckDownloadOpt = False,
) -> None:
    """Re-resolve a manifest's rules against the model; exit 11 listing the differences on drift."""
    from ..pipeline.commands import run_check
    from ..render.check_render import write_check
    from .progress import status

    drift, report = run_check(manifest, model, trust_pickle, progress=status, trust_code=trust_code, download=download)
    for warning in report.plan.warnings:  # e.g. a rule that no longer matches (the drift says what changed)
        warn(warning)
    write_stdout(lambda: write_check(manifest, drift, report, View(Format(fmt.value)), sys.stdout))
    if drift.drifted:  # the differences are on stdout already: the error line only says so
        raise DriftError(
            f"{report.model.source} no longer matches {manifest}: {len(drift.lines())} difference(s), listed on stdout"
        )


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
