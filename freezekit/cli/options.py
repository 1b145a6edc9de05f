"""The command-line options, declared once: freeze, count and verify share the model and rule
options, freeze and count the report options. `with_options` hands each group to a command as one
frozen dataclass, while Typer sees the individual options in the command's signature.
"""
from __future__ import annotations

import dataclasses
import inspect
from enum import Enum
from typing import Annotated, Any, Callable, Optional

import typer

from ..core.batchnorm_policy import POLICIES
from ..core.expectations import Expectations
from ..core.plan import DEFAULTS
from ..render import FORMATS
from ..core.report import ONLY


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A Typer choice type made from the core's own tuple of allowed values (one source of truth)."""
    return Enum(name, {v: v for v in values}, type=str)


Format = _choices("Format", FORMATS)
Only = _choices("Only", ONLY)
Default = _choices("Default", DEFAULTS)
BatchNormPolicy = _choices("BatchNormPolicy", POLICIES)


ModelArg = Annotated[Optional[str], typer.Argument(
    help="torchvision model name, pkg.module:callable, file.py:callable, or a checkpoint file "
         "(.safetensors, model.safetensors.index.json, .pt/.pth). Default: 'model:' of the config.",
    show_default=False)]
ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="YAML config (default: ./freezekit.yaml when MODEL is omitted).")]
PatternOpt = Annotated[Optional[list[str]], typer.Option("--pattern", "-p", help="Freeze what this selects (repeatable; after the config's rules).")]
UnfreezeOpt = Annotated[Optional[list[str]], typer.Option("--unfreeze", "-u", help="Unfreeze what this selects (repeatable).")]
DefaultOpt = Annotated[Optional[Default], typer.Option("--default", help="Starting state before rules (default: trainable).")]
AllowOpt = Annotated[bool, typer.Option("--allow-unmatched", help="A rule that selects nothing is a warning, not an error.")]
ArgOpt = Annotated[Optional[list[str]], typer.Option("--arg", help="key=value passed to the model builder (repeatable; YAML scalars).")]
WeightsOpt = Annotated[Optional[str], typer.Option("--weights", help="torchvision weights: DEFAULT or an enum name (IMAGENET1K_V1, ...).")]
WeightsFileOpt = Annotated[Optional[str], typer.Option("--weights-file", help="state_dict to load: .safetensors, .pt or .pth.")]
TrustOpt = Annotated[bool, typer.Option("--trust-pickle", help="Allow loading pickled files. This RUNS CODE FROM THE FILE.")]
BatchNormOpt = Annotated[Optional[BatchNormPolicy], typer.Option("--batchnorm", help="Frozen BatchNorm layers: train (warn), eval, or frozen (replace).")]
DepthOpt = Annotated[Optional[int], typer.Option("--depth", min=0, help="Aggregate by module at this depth.")]
OnlyOpt = Annotated[Optional[Only], typer.Option("--only", help="Show only frozen or only trainable rows.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ExportOpt = Annotated[Optional[str], typer.Option("--export", help="Also save the rendered table as FILE.html or FILE.svg.")]
ExpectTrainableOpt = Annotated[Optional[int], typer.Option("--expect-trainable", min=0, help="Fail (exit 9) unless exactly N parameters are trainable.")]
ExpectFrozenOpt = Annotated[Optional[int], typer.Option("--expect-frozen", min=0, help="Fail (exit 9) unless exactly N parameters are frozen.")]
ExpectTotalOpt = Annotated[Optional[int], typer.Option("--expect-total", min=0, help="Fail (exit 9) unless the model has exactly N parameters.")]
MaxPctOpt = Annotated[Optional[float], typer.Option("--max-trainable-pct", min=0, max=100, help="Fail (exit 9) when more than P% is trainable.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the inventory cache.")]


def _model_options(
    ctx: typer.Context,
    model: ModelArg = None,
    config: ConfigOpt = None,
    pattern: PatternOpt = None,
    unfreeze: UnfreezeOpt = None,
    default: DefaultOpt = None,
    allow_unmatched: AllowOpt = False,
    arg: ArgOpt = None,
    weights: WeightsOpt = None,
    weights_file: WeightsFileOpt = None,
    trust_pickle: TrustOpt = False,
    batchnorm: BatchNormOpt = None,
) -> None:
    """Which model, which rules: freeze, count, verify."""


def _report_options(
    depth: DepthOpt = None,
    only: OnlyOpt = None,
    fmt: FormatOpt = Format.table,
    export: ExportOpt = None,
    expect_trainable: ExpectTrainableOpt = None,
    expect_frozen: ExpectFrozenOpt = None,
    expect_total: ExpectTotalOpt = None,
    max_trainable_pct: MaxPctOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """What to print and what to expect: freeze, count."""


def _group(name: str, template: Callable[..., None]) -> type:
    """A frozen dataclass whose fields are the template's parameters (one place declares them)."""
    params = tuple(inspect.signature(template, eval_str=True).parameters.values())
    cls = dataclasses.make_dataclass(name, [(p.name, Any) for p in params], frozen=True)
    cls.__doc__ = template.__doc__
    cls.parameters = params
    return cls


ModelOptions = _group("ModelOptions", _model_options)
ReportOptions = _group("ReportOptions", _report_options)


def expectations(report: Any) -> Expectations:
    return Expectations(report.expect_trainable, report.expect_frozen, report.expect_total, report.max_trainable_pct)


def with_options(*groups: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command's first parameters receive the groups; Typer sees their options, then the command's own."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())[len(groups):]
        params = [p for group in groups for p in group.parameters] + own

        def command(**kwargs: Any) -> Any:
            built = [group(**{p.name: kwargs.pop(p.name) for p in group.parameters}) for group in groups]
            return fn(*built, **kwargs)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__, command.__qualname__, command.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        command.__module__ = fn.__module__
        return command

    return decorate
