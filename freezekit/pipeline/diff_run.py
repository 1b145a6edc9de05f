"""`freezekit diff`: the request as one value, which tensors count as frozen (rules or a manifest),
and the comparison (compare/diff.py). Reads no model: names come from the BEFORE checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from ..compare.diff import DiffResult, Frozen, by_module, diff_files
from ..compare.tensor_files import TensorFile, open_checkpoint
from ..core.config import load_config
from ..core.manifest import load_manifest
from ..core.plan import DEFAULT_START, Default, make_plan
from ..core.rules import Rule
from ..errors import UsageError
from ..sources.checkpoint import inventory_from_tensors


@dataclass(frozen=True)
class DiffRequest:
    before: str
    after: str
    rules: tuple[Rule, ...] = ()  # the command line's -p/-u, in order
    config: str | None = None
    default: Default | None = None
    manifest: str | None = None
    strict_rules: bool = True  # a rule that selects nothing is an error (exit 8)
    trust_pickle: bool = False
    depth: int | None = None

    @property
    def has_rules(self) -> bool:
        return bool(self.rules or self.config or self.default)


def _by_rules(request: DiffRequest, before: TensorFile) -> tuple[Frozen, tuple[str, ...]]:
    config = load_config(request.config) if request.config else None
    rules = (config.rules if config else ()) + request.rules
    default = request.default or (config.default if config else None) or DEFAULT_START
    tensors = [(s.name, s.shape, s.dtype, ()) for s in before.entries.values()]
    inventory = inventory_from_tensors(tensors, before.path)
    plan = make_plan(inventory, rules, default, request.strict_rules, "use --allow-unmatched to make this a warning")
    trainable = {name: d.trainable for d in plan.decisions for name in d.param.names}
    return (lambda name: None if name not in trainable else not trainable[name]), plan.warnings


def _by_manifest(path: str) -> Frozen:
    m = load_manifest(path)
    frozen, parameters = set(m.frozen), m.parameters
    return lambda name: None if name not in parameters else name in frozen


def run_diff(request: DiffRequest) -> tuple[DiffResult, tuple[str, ...]]:
    """The comparison, and warnings (rules that matched nothing, under --allow-unmatched)."""
    if request.manifest and request.has_rules:
        raise UsageError("--manifest says which tensors are frozen: give it or rules (-c/-p/-u/--default), not both")
    before = open_checkpoint(request.before, request.trust_pickle, "BEFORE")
    after = open_checkpoint(request.after, request.trust_pickle, "AFTER")
    try:
        frozen: Frozen | None = None
        warnings: tuple[str, ...] = ()
        if request.manifest:
            frozen = _by_manifest(request.manifest)
        elif request.has_rules:
            frozen, warnings = _by_rules(request, before)
        result = diff_files(before, after, frozen)
    finally:
        before.close()
        after.close()
    return (by_module(result, request.depth) if request.depth is not None else result), warnings
