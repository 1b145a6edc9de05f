"""The Python API, for the training script that owns the model.

import freezekit
report = freezekit.freeze(model, "configs/vgg16-features.yaml")   # or rules=["features.*"]
optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.01)
report.print()
freezekit.count(model)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Sequence, TextIO

from .core.batchnorm_policy import BatchNormPolicy
from .core.config import config_of
from .core.expectations import Expectations, expectation_error
from .core.manifest import Drift, compare, load_manifest, manifest_json
from .core.manifest_values import ValuesChoice
from .core.name_lists import first_names
from .core.plan import Default, make_plan
from .core.records import Inventory
from .core.report import Command, Report
from .core.rules import Action, Rule, validate_rule
from .core.totals import Totals, compute_totals
from .errors import DriftError, RuleError, UsageError
from .pipeline.audit import apply_to_model, build_report, plan_for
from .pipeline.settings import Request, build_settings
from .render.view import Format, Only, View
from .sources.registry import parse_source
from .sources.spec import Loaded, SourceKind, SourceSpec

if TYPE_CHECKING:
    import os

    import torch
    from torch import nn


@dataclass(frozen=True)
class FreezeReport:
    """What `freeze` did: the same report the CLI renders."""

    report: Report
    inventory: Inventory = field(repr=False, compare=False)
    model: "nn.Module | None" = field(default=None, repr=False, compare=False)  # the values of manifest()

    @property
    def totals(self) -> Totals:
        return self.report.totals

    @property
    def frozen(self) -> list[str]:
        return self.report.plan.frozen_names

    def __repr__(self) -> str:
        from .render.safe_text import plain

        t, source = self.report.totals, plain(self.report.model.source)  # a name from a file: no ESC, no bidi
        return (
            f"<FreezeReport {source}: {t.trainable:,} of {t.total:,} parameters trainable "
            f"({t.trainable_pct:.2f}%), {t.frozen_tensors:,} of {t.tensors:,} tensors frozen>"
        )

    def view(self, only: str | None = None, depth: int | None = None) -> View:
        """How `freeze --only ONLY --depth DEPTH` shows this report (a table on stdout)."""
        from .render.terminal import stdout_color, stdout_width

        if only is not None and only not in Only.values():
            raise UsageError(
                f"only={only!r}: choose one of {', '.join(map(repr, Only.values()))}, or None for every row"
            )
        chosen = Only(only) if only is not None else None
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
            raise UsageError(f"depth={depth!r}: give a whole number, 0 or more, or None for one row per parameter")
        return View(Format.TABLE, depth, chosen, parameters=True, width=stdout_width(), color=stdout_color())

    def print(self, only: str | None = None, depth: int | None = None, file: TextIO | None = None) -> None:
        """Print the CLI's table (like `freeze --only ONLY --depth DEPTH`); names are never cut."""
        from .render import write

        view = self.view(only, depth)
        if file is not None:  # not the terminal: as wide as the content, no colour
            view = replace(view, width=None, color=False)
        write(self.report, view, file if file is not None else sys.stdout)

    def _repr_html_(self) -> str:
        """Jupyter shows the report as its table."""
        from .render.html_render import render_html

        return render_html(self.report, View(Format.TABLE, parameters=True))

    def to_dict(self) -> dict:
        from .render.json_render import report_dict

        return report_dict(self.report, View(Format.JSON, parameters=True))

    def manifest(self, values: str = "auto") -> dict:
        """The freeze manifest (lock file) of this freeze, as written by `freeze --manifest`: the
        frozen values' digests are taken now (values="none" skips them)."""
        from .pipeline.manifest_output import manifest_document

        choice = ValuesChoice.parse(values, UsageError, "values")
        r = self.report
        return manifest_document(r.model, r.plan, self.inventory, r.batchnorm, self.model, choice)


def _as_rules(rules: Iterable[str | Rule | dict] | None, action: Action) -> tuple[Rule, ...]:
    out = []
    for i, item in enumerate(rules or ()):
        if isinstance(item, Rule):
            rule = item
        elif isinstance(item, dict) and len(item) == 1:
            ((act, pattern),) = item.items()
            rule = Rule(act, pattern, f"rules[{i}]")  # validate_rule below checks the action
        elif isinstance(item, str):
            rule = Rule(action, item, f"{action} rules[{i}]")
        else:
            raise UsageError(f"rule {item!r}: give a pattern string, a Rule, or {{'freeze': pattern}}")
        validate_rule(rule)
        out.append(rule)
    return tuple(out)


def freeze(
    model: "nn.Module",
    config: "str | os.PathLike | dict | None" = None,
    *,
    rules: Sequence[str | Rule | dict] | None = None,
    unfreeze: Sequence[str] | None = None,
    default: str | None = None,
    strict: bool = True,
    batchnorm: str | None = None,
    expect: Expectations | dict | None = None,
    source: str | None = None,
    after_wrap: bool | str | None = False,
) -> FreezeReport:
    """Apply rules to `model` in place (requires_grad, BatchNorm policy) and return the report.

    `config` is a YAML file like the CLI's, or the same content as a mapping (its `model:` key is
    ignored: you pass the model; its `optimizer:` and `stages:` are for param_groups and Schedule).
    `rules` are freeze patterns (or {'freeze'|'unfreeze': pattern} items), applied after the
    config's; `unfreeze` patterns come last. `source` names how the model is built (a torchvision
    name, "file.py:build", ...) so that a manifest of this freeze can be checked with
    `freezekit check`; without it the manifest records the class name and `check` needs MODEL.
    Raises the CLI's errors (NoMatchError, ExpectationError, UsageError, ...) and then changes
    nothing. The report describes the parameters as the rules decided them: under
    batchnorm="frozen" the replaced layers' weight and bias become buffers afterwards.
    A model already wrapped in DDP, FSDP1 or FSDP2 is refused (UsageError: freeze before wrapping)
    unless `after_wrap=True` ("ok", the former spelling, still works).
    """
    from .adapter.inventory import inventory_of
    from .distributed.wrap_guard import check_not_wrapped

    check_not_wrapped(model, after_wrap)

    cfg = config_of(config) if config else None
    try:
        exp = Expectations(**expect) if isinstance(expect, dict) else (expect or Expectations())
    except TypeError as exc:
        raise UsageError(f"expect: {exc}; the keys are trainable, frozen, total, max_trainable_pct") from exc
    policy = None if batchnorm is None else BatchNormPolicy.parse(batchnorm, UsageError, "BatchNorm policy")
    start = Default.parse(default, RuleError, "default") if default else None
    name = type(model).__name__
    spec = parse_source(source) if source else SourceSpec(SourceKind.PYTHON, name, name)
    request = Request(
        rules=_as_rules(rules, "freeze") + _as_rules(unfreeze, "unfreeze"),
        default=start,
        allow_unmatched=not strict,
        expect=exp,
        batchnorm=policy,
    )
    settings = build_settings(cfg, spec, request)
    inventory = inventory_of(model, spec.text)
    plan = plan_for(inventory, settings, lenient_hint="pass strict=False to make this a warning")
    report = build_report(Command.FREEZE, Loaded(inventory, model), plan, settings)
    if report.failed_expectations:
        raise expectation_error(report.failed_expectations)
    apply_to_model(model, plan, settings.batchnorm)
    return FreezeReport(report, inventory, model)


def trainable_parameters(model: "nn.Module") -> list["torch.nn.Parameter"]:
    """The parameters to give the optimizer: those with requires_grad, each tied tensor once."""
    return [p for p in model.parameters() if p.requires_grad]


def count(model: "nn.Module") -> Totals:
    """Totals of the model as it is now (tied tensors once, buffers apart)."""
    from .adapter.inventory import inventory_of

    inventory = inventory_of(model)
    return compute_totals(make_plan(inventory, (), Default.KEEP), inventory)


@dataclass(frozen=True)
class OptimizerAudit:
    frozen_in_optimizer: tuple[str, ...]  # frozen parameters still held by a param group
    will_move: tuple[str, ...]  # of those, the ones carrying a gradient: the next step() moves them
    decayed_frozen: tuple[str, ...]  # frozen parameters in groups with weight_decay > 0
    trainable_missing: tuple[str, ...]  # trainable parameters in no group: they will never train

    @property
    def ok(self) -> bool:
        return not (self.frozen_in_optimizer or self.trainable_missing)

    def lines(self) -> list[str]:
        out = []
        for label, names in (
            ("frozen parameters held by the optimizer", self.frozen_in_optimizer),
            ("frozen parameters with a gradient: step() will move them", self.will_move),
            ("frozen parameters under weight decay: moved whenever they carry a gradient", self.decayed_frozen),
            ("trainable parameters in no param group: they will never train", self.trainable_missing),
        ):
            if names:
                out.append(f"{label} ({len(names)}): {first_names(names)}")
        return out


def audit_optimizer(model: "nn.Module", optimizer: "torch.optim.Optimizer") -> OptimizerAudit:
    """Flag frozen parameters still in param groups (and those weight decay or a stale gradient would move),
    and trainable parameters the optimizer does not hold. Works on wrapped models and sharding optimizers
    (DDP, FSDP1/FSDP2 parameters, ZeroRedundancyOptimizer, whose param_groups hold every rank's parameters);
    names are given without the wrappers' prefixes."""
    from .distributed.wrap_guard import unwrapped_name, wrapper_children

    inserted = wrapper_children(model)
    names: dict[int, str] = {}
    for name, p in model.named_parameters():
        names.setdefault(id(p), unwrapped_name(name, inserted))
    held: dict[int, float] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            held[id(p)] = max(held.get(id(p), 0.0), float(group.get("weight_decay", 0.0) or 0.0))
    frozen_in, will_move, decayed, missing = [], [], [], []
    for p in model.parameters():
        name = names[id(p)]
        if not p.requires_grad and id(p) in held:
            frozen_in.append(name)
            if p.grad is not None:
                will_move.append(name)
            if held[id(p)] > 0:
                decayed.append(name)
        if p.requires_grad and id(p) not in held:
            missing.append(name)
    return OptimizerAudit(tuple(frozen_in), tuple(will_move), tuple(decayed), tuple(missing))


def apply_manifest(model: "nn.Module", path: str, *, after_wrap: bool | str | None = False) -> Totals:
    """Re-apply a manifest's frozen set exactly, and its BatchNorm policy (version 2). Fails (DriftError) when the model's parameters
    differ from the manifest's (names the model lacks, new names, other shapes). Reads the manifest
    as data only: the model is yours, so nothing the manifest names is imported or called. A wrapped
    model is refused as in `freeze` unless `after_wrap=True`."""
    from .adapter.inventory import inventory_of
    from .distributed.wrap_guard import check_not_wrapped

    check_not_wrapped(model, after_wrap)
    manifest = load_manifest(path)
    inventory = inventory_of(model)
    frozen = set(manifest.frozen)
    plan = make_plan(inventory, (), Default.TRAINABLE)
    plan = replace(
        plan, decisions=tuple(d._replace(trainable=d.param.name not in frozen, rule="manifest") for d in plan.decisions)
    )
    drift = compare(manifest, plan, inventory)
    if drift.drifted:
        raise DriftError(f"{path}: the model does not match the manifest: " + "; ".join(drift.lines()))
    apply_to_model(model, plan, manifest.batchnorm)
    return compute_totals(plan, inventory)


def check_manifest(
    path: str, model: str | None = None, *, trust_code: bool = False, trust_pickle: bool = False
) -> Drift:
    """What `freezekit check` does: rebuild the manifest's model (or `model`, a MODEL string) and
    compare. A factory the manifest names is imported and called only with `trust_code=True` (or
    when you pass it as `model`); otherwise UnsafeCodeError. `trust_pickle` as --trust-pickle."""
    from .pipeline.commands import run_check

    drift, _ = run_check(path, model, trust_pickle, trust_code=trust_code)
    return drift


def save_manifest(report: FreezeReport, path: str, force: bool = False) -> None:
    """Write the manifest of a freeze made through the API, atomically."""
    from .atomic_write import write_text

    write_text(path, manifest_json(report.manifest()), force)
