"""Rules + inventory -> a plan: for every parameter, trainable or frozen, and which rule decided.

Rules apply in order and the last rule that selects a parameter decides (like
.gitignore). `default` sets the start: trainable, frozen, or keep (whatever the
model already had).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple

from ..errors import NoMatchError
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


def make_plan(
    inventory: Inventory,
    rules: Iterable[Rule],
    default: Default = DEFAULT_START,
    strict: bool = True,
) -> Plan:
    rules = tuple(rules)
    selector = Selector(inventory)
    params = inventory.params
    if default is Default.KEEP:
        state = [(p.requires_grad, "default: keep") for p in params]
    else:
        state = [(default is Default.TRAINABLE, f"default: {default}")] * len(params)
    warnings: list[str] = []
    counts: list[int] = []
    for rule in rules:
        selected = selector.select(rule)
        counts.append(len(selected))
        if not selected:
            message = f"{rule.describe()} selects no parameter: {selector.no_match_reason(rule)}"
            if strict:
                raise NoMatchError(message + " (use --allow-unmatched to make this a warning)")
            warnings.append(message)
            continue
        value = (rule.action == "unfreeze", rule.label)
        for i in selected:
            state[i] = value
    warnings += selector.notes
    decisions = tuple(Decision(p, trainable, why) for p, (trainable, why) in zip(params, state))
    return Plan(decisions, rules, default, tuple(warnings), tuple(counts))
