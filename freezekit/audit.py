"""The road from options to a report: source -> inventory -> plan -> totals -> report.

This module decides nothing about presentation and imports no torch itself:
module-based sources go through the adapter, checkpoint files through the
header readers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .batchnorm_policy import norm_rows
from .config import ModelSpec
from .errors import UsageError
from .expectations import Expectations, check
from .plan import Plan, make_plan
from .records import Inventory
from .report import ModelInfo, Report
from .rules import Rule
from .sources import TORCHVISION, parse_source
from .totals import by_depth, compute_totals

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class AuditOptions:
    """Everything a command needs to know, merged from the config and the command line."""

    model: ModelSpec
    rules: tuple[Rule, ...] = ()
    default: str = "trainable"
    strict: bool = True
    expect: Expectations = Expectations()
    weights: str | None = None
    weights_file: str | None = None
    trust_pickle: bool = False
    batchnorm: str | None = None
    materialize: bool = False  # real tensors needed (--save, verify, weights)
    use_cache: bool = True
    config_path: str | None = None  # the config the options came from, if any
    source_kind: str | None = None  # overrides what the model name says (the Python API: "python")

    def input_files(self) -> tuple[str, ...]:
        """Files this run reads: an output must never overwrite one of them."""
        source = parse_source(self.model.name)
        files = (self.weights_file, self.config_path, source.ref if source.kind != TORCHVISION else None)
        return tuple(f for f in files if f)

    def model_info(self) -> ModelInfo:
        return ModelInfo(self.model.name, self.source_kind or parse_source(self.model.name).kind, self.weights,
                         self.weights_file, dict(self.model.args))


@dataclass(frozen=True)
class Loaded:
    inventory: Inventory
    model: Any = None  # the nn.Module, when one was built


def load(options: AuditOptions) -> Loaded:
    """Build or read the model named by the options and take its inventory."""
    source = parse_source(options.model.name)
    if source.is_checkpoint:
        from .checkpoints import read_checkpoint_inventory

        if options.weights is not None or options.weights_file is not None:
            raise UsageError("--weights and --weights-file apply to a model, not to a checkpoint given as MODEL")
        return Loaded(read_checkpoint_inventory(source, trust_pickle=options.trust_pickle))
    key = None
    if options.use_cache and not options.materialize and options.weights is None and options.weights_file is None:
        from . import inventory_cache

        key = inventory_cache.cache_key(options.model)
        cached = inventory_cache.get(key) if key else None
        if cached is not None:
            return Loaded(cached)  # the warm path: torch is never imported
    from .adapter.inventory import inventory_of
    from .adapter.models import load_model
    from .stdio import stdout_to_stderr

    with stdout_to_stderr():  # a factory that prints must not corrupt the report on stdout
        model = load_model(source, options)
    inventory = inventory_of(model, options.model.name)
    if key:
        inventory_cache.put(key, inventory)
    return Loaded(inventory, model)


def plan_for(inventory: Inventory, options: AuditOptions) -> Plan:
    return make_plan(inventory, options.rules, options.default, options.strict)


def build_report(command: str, view: str, loaded: Loaded, plan: Plan, options: AuditOptions,
                 depth: int | None = None, only: str | None = None) -> Report:
    inventory = loaded.inventory
    totals = compute_totals(plan, inventory)
    norms, norm_warnings = norm_rows(inventory, plan, options.batchnorm)
    return Report(
        command=command,
        view=view,
        model=options.model_info(),
        plan=plan,
        totals=totals,
        buffers=inventory.buffers,
        modules=by_depth(plan, depth) if depth is not None else None,
        depth=depth,
        only=only,
        expectations=check(options.expect, totals),
        norms=norms,
        batchnorm=options.batchnorm,
        warnings=plan.warnings + norm_warnings,
    )


def apply_to_model(model: "nn.Module", plan: Plan) -> None:
    from .adapter.inventory import apply_plan

    apply_plan(model, plan)
