"""Rules + inventory -> a plan: for every parameter, trainable or frozen, and which rule decided.

Rules apply in order and the last rule that selects a parameter decides (like
.gitignore). `default` sets the start: trainable, frozen, or keep (whatever the
model already had).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ContextManager, Iterable, NamedTuple

from ..errors import NoMatchError, RuleError
from . import time_budget as budget
from .choice import Choice
from .records import Inventory, ParamRecord
from .rules import Rule, Selector


class Default(Choice):
    """Where every parameter starts before the rules: trainable, frozen, or as the model had it."""

    TRAINABLE = "trainable"
    FROZEN = "frozen"
    KEEP = "keep"


DEFAULT_START = Default.TRAINABLE  # the default's default, decided here only


class Decision(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: plans hold one per parameter, and
    100,000 of them build several times faster this way."""

    param: ParamRecord
    trainable: bool
    rule: str  # the deciding rule's label, or "default: trainable" etc.


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]
    rules: tuple[Rule, ...]
    default: Default
    warnings: tuple[str, ...] = ()
    selected: tuple[int, ...] = ()  # for each rule, how many parameter tensors it selected

    @property
    def frozen_names(self) -> list[str]:
        return [d.param.name for d in self.decisions if not d.trainable]


def _budget(rule: Rule) -> ContextManager[None]:
    """A regex read from a file matches under a time budget; the user's own patterns need none."""
    if not (rule.from_file and rule.kind == "re"):
        return contextlib.nullcontext()
    seconds = budget.REGEX_BUDGET_S
    return budget.time_budget(
        seconds,
        lambda: RuleError(
            f"{rule.describe()}: the regular expression did not finish matching the model's names within "
            f"{seconds:g} s (it backtracks catastrophically); simplify it"
        ),
    )


def make_plan(
    inventory: Inventory,
    rules: Iterable[Rule],
    default: Default = DEFAULT_START,
    strict: bool = True,
    lenient_hint: str = "use --allow-unmatched to make this a warning",
) -> Plan:
    """`lenient_hint` says how the caller turns strictness off (the CLI's flag, the API's argument)."""
    rules = tuple(rules)
    selector = Selector(inventory) if rules else None  # its sorted name index costs time: only when needed
    params = inventory.params
    if default is Default.KEEP:
        state = [(p.requires_grad, "default: keep") for p in params]
    else:
        state = [(default is Default.TRAINABLE, f"default: {default}")] * len(params)
    warnings: list[str] = []
    counts: list[int] = []
    for rule in rules:
        assert selector is not None  # built whenever there are rules
        with _budget(rule):
            selected = selector.select(rule)
            reason = selector.no_match_reason(rule) if not selected else ""
        counts.append(len(selected))
        if not selected:
            message = f"{rule.describe()} selects no parameter: {reason}"
            if strict:
                raise NoMatchError(f"{message} ({lenient_hint})")
            warnings.append(message)
            continue
        value = (rule.action == "unfreeze", rule.label)
        for i in selected:
            state[i] = value
    warnings += selector.notes if selector else []
    decisions = tuple(Decision(p, trainable, why) for p, (trainable, why) in zip(params, state))
    return Plan(decisions, rules, default, tuple(warnings), tuple(counts))
