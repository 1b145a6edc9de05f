"""The command-line options, declared once: freeze, count and verify share the model and rule
options, freeze and count the report options. Each group is a frozen dataclass whose fields carry
their Typer declaration; `with_options` hands each group to a command as one value, while Typer
sees the individual options in the command's signature. The choices are the core's own enums.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from ..core.batchnorm_policy import BatchNormPolicy
from ..core.choice import Choice
from ..core.expectations import Expectations
from ..core.plan import Default
from ..render.view import Format, Only

if TYPE_CHECKING:
    from ..verify.options import VerifyOptions

MODEL = "Model and source"
RULES = "Rules"
OUTPUT = "Output"
EXPECT = "Expectations"
TRUST = "Trust"
DISTRIBUTED = "Distributed"
MEMORY_PLAN = "Memory plan"
ACTIVATIONS = "Activations"
TRAINING = "Training"


def choices(choice: type[Choice]) -> str:
    """The metavar of a choice: its values, as they are typed (table|json|csv)."""
    return "|".join(member.value for member in choice)


def format_option(choice: type[Choice], help: str = "Output format (default: table).") -> Any:
    """The --format/-f option of a command whose formats are `choice`: one declaration for every command."""
    return typer.Option(
        "--format", "-f", rich_help_panel=OUTPUT, metavar=choices(choice), show_default=False, help=help
    )


def between(low: float, high: float | None = None) -> Callable[[Any], Any]:
    """A range check through Typer's public `callback=` (min=/max= print Python's `x>=0` in --help)."""

    def check(value: Any) -> Any:
        if value is not None and (value < low or (high is not None and value > high)):
            raise typer.BadParameter(
                f"{value} is not between {low} and {high}" if high is not None else f"{value} is below {low}"
            )
        return value

    return check


def at_least(low: float) -> Callable[[Any], Any]:
    return between(low)


class CheckFormat(Choice):
    """What `check` prints."""

    TABLE = "table"
    JSON = "json"


class VerifyFormat(Choice):
    """What `verify` prints."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def complete_model(incomplete: str) -> list[str]:
    """Shell completion of MODEL: the names of `freezekit models` (cached: no torchvision import per TAB)."""
    from ..sources.model_name_cache import model_names

    return [name for name in model_names() if name.startswith(incomplete)]


class ModelsSource(Choice):
    """Whose model names `freezekit models` lists."""

    TORCHVISION = "torchvision"
    TIMM = "timm"


ModelArg = Annotated[
    Optional[str],
    typer.Argument(
        help="torchvision model name, timm:NAME, hf:FOLDER or hf:ORG/NAME (a transformers model or a PEFT "
        "adapter), pkg.module:callable, file.py:callable, or a checkpoint file "
        "(.safetensors, model.safetensors.index.json, .pt/.pth). Default: 'model:' of the config.",
        show_default=False,
        metavar="MODEL",
        autocompletion=complete_model,
    ),
]
ConfigOpt = Annotated[
    Optional[str],
    typer.Option(
        "--config",
        "-c",
        rich_help_panel=MODEL,
        metavar="FILE",
        help="YAML config (default: ./freezekit.yaml when MODEL is omitted).",
    ),
]
PatternOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--pattern",
        "-p",
        rich_help_panel=RULES,
        metavar="SELECTOR",
        help="Freeze what SELECTOR selects: a glob, re:, type: or through: (repeatable; after the config's rules). Quote it: 'features.*'.",
    ),
]
UnfreezeOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--unfreeze", "-u", rich_help_panel=RULES, metavar="SELECTOR", help="Unfreeze what this selects (repeatable)."
    ),
]
DefaultOpt = Annotated[
    Optional[Default],
    typer.Option(
        "--default",
        rich_help_panel=RULES,
        metavar=choices(Default),
        help="Starting state before rules (default: trainable).",
    ),
]
AllowOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unmatched", rich_help_panel=RULES, help="A rule that selects nothing is a warning, not an error."
    ),
]
ArgOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--arg",
        rich_help_panel=MODEL,
        metavar="KEY=VALUE",
        help="Passed to the model builder (repeatable; values are YAML scalars).",
    ),
]
WeightsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--weights",
        rich_help_panel=MODEL,
        metavar="NAME",
        help="torchvision weights (DEFAULT or an enum name: IMAGENET1K_V1, ...) or timm weights (DEFAULT or a tag), "
        "from the local cache.",
    ),
]
WeightsFileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--weights-file", rich_help_panel=MODEL, metavar="FILE", help="state_dict to load: .safetensors, .pt or .pth."
    ),
]
TrustOpt = Annotated[
    bool,
    typer.Option(
        "--trust-pickle", rich_help_panel=TRUST, help="Allow loading pickled files. This RUNS CODE FROM THE FILE."
    ),
]
HfClassOpt = Annotated[
    Optional[str],
    typer.Option(
        "--hf-class",
        rich_help_panel=MODEL,
        metavar="CLASS",
        help="hf: the transformers class to build, e.g. AutoModelForSequenceClassification "
        "(default: the config's architectures[0]).",
    ),
]
RevisionOpt = Annotated[
    Optional[str],
    typer.Option(
        "--revision",
        rich_help_panel=MODEL,
        metavar="REF",
        help="hf:ORG/NAME: the revision in the local Hugging Face cache (branch, tag or commit).",
    ),
]
BaseOpt = Annotated[
    Optional[str],
    typer.Option(
        "--base",
        rich_help_panel=MODEL,
        metavar="MODEL",
        help="PEFT adapter: the base model, hf:FOLDER or hf:ORG/NAME "
        "(default: the adapter's base_model_name_or_path, when cached).",
    ),
]
DownloadOpt = Annotated[
    bool,
    typer.Option(
        "--download", rich_help_panel=TRUST, help="timm:/hf: fetch what the local cache lacks (never done otherwise)."
    ),
]
CheckDownloadOpt = Annotated[
    bool,
    typer.Option(
        "--download",
        help="Fetch what the local caches lack: the torchvision weights the manifest names, timm/hf files "
        "(never done otherwise: a manifest is someone else's file).",
        rich_help_panel=TRUST,
    ),
]
TrustCodeOpt = Annotated[
    bool,
    typer.Option(
        "--trust-code",
        rich_help_panel=TRUST,
        help="Allow running code that is not freezekit's: a factory a manifest names, or an hf: model's own code "
        "(its config's auto_map). This RUNS THAT CODE.",
    ),
]
BatchNormOpt = Annotated[
    Optional[BatchNormPolicy],
    typer.Option(
        "--batchnorm",
        rich_help_panel=RULES,
        metavar=choices(BatchNormPolicy),
        help="Frozen BatchNorm layers: train (warn), eval, or frozen (replace).",
    ),
]
DepthOpt = Annotated[
    Optional[int],
    typer.Option(
        "--depth",
        rich_help_panel=OUTPUT,
        callback=at_least(0),
        metavar="N",
        help="One row per module N levels down (0 or more), instead of one per parameter.",
    ),
]
OnlyOpt = Annotated[
    Optional[Only],
    typer.Option(
        "--only",
        rich_help_panel=OUTPUT,
        metavar=choices(Only),
        help="Show only frozen or only trainable rows (freeze, or with --depth).",
    ),
]
FormatOpt = Annotated[Format, format_option(Format, "Output format; line: PEFT's one line (default: table).")]
BatchNormDetailsOpt = Annotated[
    bool,
    typer.Option(
        "--batchnorm-details",
        rich_help_panel=OUTPUT,
        help="List every BatchNorm layer instead of one line per kind (JSON always lists them).",
    ),
]
ExportOpt = Annotated[
    Optional[str],
    typer.Option(
        "--export",
        rich_help_panel=OUTPUT,
        metavar="FILE",
        help="Also save the rendered table as FILE.html or FILE.svg.",
    ),
]
ExpectTrainableOpt = Annotated[
    Optional[int],
    typer.Option(
        "--expect-trainable",
        rich_help_panel=EXPECT,
        callback=at_least(0),
        metavar="N",
        help="Fail (exit 9) unless exactly N parameters are trainable.",
    ),
]
ExpectFrozenOpt = Annotated[
    Optional[int],
    typer.Option(
        "--expect-frozen",
        rich_help_panel=EXPECT,
        callback=at_least(0),
        metavar="N",
        help="Fail (exit 9) unless exactly N parameters are frozen.",
    ),
]
ExpectTotalOpt = Annotated[
    Optional[int],
    typer.Option(
        "--expect-total",
        rich_help_panel=EXPECT,
        callback=at_least(0),
        metavar="N",
        help="Fail (exit 9) unless the model has exactly N parameters.",
    ),
]
MaxPctOpt = Annotated[
    Optional[float],
    typer.Option(
        "--max-trainable-pct",
        rich_help_panel=EXPECT,
        callback=between(0, 100),
        metavar="P",
        help="Fail (exit 9) when more than P% (0 to 100) is trainable.",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", rich_help_panel=MODEL, help="Do not read or write the inventory cache.")
]

DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        rich_help_panel=TRAINING,
        metavar="cpu|cuda|cuda:N",
        show_default=False,
        help="Where the training steps run (default: cpu).",
    ),
]
BatchSizeOpt = Annotated[
    Optional[int],
    typer.Option(
        "--batch-size",
        rich_help_panel=TRAINING,
        callback=at_least(1),
        metavar="N",
        help="Synthetic batch size (default: 2).",
    ),
]
InputShapeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--input-shape",
        rich_help_panel=TRAINING,
        metavar="C,H,W",
        help="One input without the batch dimension, e.g. 3,224,224.",
    ),
]
DtypeOpt = Annotated[
    str,
    typer.Option(
        "--dtype",
        rich_help_panel=TRAINING,
        metavar="float32|bfloat16",  # bf16 works too, as --param-dtype spells it
        show_default=False,
        help="bfloat16: under autocast; with --fsdp N, FSDP2's MixedPrecisionPolicy (default: float32).",
    ),
]
StepsOpt = Annotated[
    int,
    typer.Option(
        "--steps",
        rich_help_panel=TRAINING,
        callback=at_least(1),
        metavar="N",
        show_default=False,
        help="Timed training steps, at least 1 (median reported; default: 3).",
    ),
]
WarmupOpt = Annotated[
    int,
    typer.Option(
        "--warmup",
        rich_help_panel=TRAINING,
        callback=at_least(0),
        metavar="N",
        show_default=False,
        help="Untimed steps first (default: 1).",
    ),
]
CompareOpt = Annotated[
    bool,
    typer.Option(
        "--compare", rich_help_panel=TRAINING, help="Also run with everything trainable and print the ratios."
    ),
]
WarningsFailOpt = Annotated[
    bool,
    typer.Option("--strict", rich_help_panel=EXPECT, help="Fail (exit 10) on trainable-but-unused parameters too."),
]
VerifyFormatOpt = Annotated[VerifyFormat, format_option(VerifyFormat)]


@dataclass(frozen=True)
class ModelOptions:
    """Which model, which rules: freeze, count, verify."""

    ctx: typer.Context
    model: ModelArg = None
    config: ConfigOpt = None
    pattern: PatternOpt = None
    unfreeze: UnfreezeOpt = None
    default: DefaultOpt = None
    allow_unmatched: AllowOpt = False
    arg: ArgOpt = None
    weights: WeightsOpt = None
    weights_file: WeightsFileOpt = None
    trust_pickle: TrustOpt = False
    batchnorm: BatchNormOpt = None
    hf_class: HfClassOpt = None
    revision: RevisionOpt = None
    base: BaseOpt = None
    download: DownloadOpt = False
    trust_code: TrustCodeOpt = False


@dataclass(frozen=True)
class ReportOptions:
    """What to print and what to expect: freeze, count."""

    depth: DepthOpt = None
    only: OnlyOpt = None
    fmt: FormatOpt = Format.TABLE
    batchnorm_details: BatchNormDetailsOpt = False
    export: ExportOpt = None
    expect_trainable: ExpectTrainableOpt = None
    expect_frozen: ExpectFrozenOpt = None
    expect_total: ExpectTotalOpt = None
    max_trainable_pct: MaxPctOpt = None
    no_cache: NoCacheOpt = False


@dataclass(frozen=True)
class TrainingOptions:
    """verify: where and how the training steps run."""

    device: DeviceOpt = "cpu"
    batch_size: BatchSizeOpt = None
    input_shape: InputShapeOpt = None
    dtype: DtypeOpt = "float32"
    steps: StepsOpt = 3
    warmup: WarmupOpt = 1
    compare: CompareOpt = False

    def verify_options(self) -> "VerifyOptions":
        """The options checked (a UsageError naming the flag)."""
        from ..verify.options import verify_options

        return verify_options(
            self.device, self.batch_size, self.input_shape, self.dtype, self.steps, self.warmup, self.compare
        )


def expectations(report: ReportOptions) -> Expectations:
    return Expectations(report.expect_trainable, report.expect_frozen, report.expect_total, report.max_trainable_pct)


def parameters(group: type) -> list[inspect.Parameter]:
    """The group's fields as the parameters Typer reads (name, Annotated declaration, default)."""
    hints = typing.get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(
            f.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=hints[f.name],
            default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(group)
    ]


def with_options(*groups: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command's first parameters receive the groups; Typer sees their options, then the command's own."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())[len(groups) :]
        declared = [parameters(group) for group in groups]
        params = [p for ps in declared for p in ps] + own

        def command(**kwargs: Any) -> Any:
            built = [group(**{p.name: kwargs.pop(p.name) for p in ps}) for group, ps in zip(groups, declared)]
            return fn(*built, **kwargs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__, command.__qualname__, command.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        command.__module__ = fn.__module__
        return command

    return decorate
