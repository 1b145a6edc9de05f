"""Rules + inventory -> plan, on hand-built records (no torch)."""

import pytest

from freezekit.core.plan import DEFAULT_START, Default, make_plan
from freezekit.core.records import Inventory, ParamRecord
from freezekit.core.rules import Rule
from freezekit.errors import NoMatchError

from ..records_for_tests import mini_vgg


def _state(plan):
    return {d.param.name: (d.trainable, d.rule) for d in plan.decisions}


def test_the_last_rule_that_selects_a_parameter_decides():
    plan = make_plan(mini_vgg(), [Rule("freeze", "features.*"), Rule("unfreeze", "features.10")])
    state = _state(plan)
    assert state["features.0.weight"] == (False, "freeze features.*")
    assert state["features.10.weight"] == (True, "unfreeze features.10")
    assert state["classifier.0.bias"] == (True, "default: trainable")
    assert plan.selected == (8, 2)
    assert plan.frozen_names == [
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "features.3.weight",
        "features.3.bias",
    ]


def test_the_default_sets_the_start():
    assert DEFAULT_START is Default.TRAINABLE
    frozen = make_plan(mini_vgg(), [Rule("unfreeze", "classifier")], Default.FROZEN)
    assert [d.param.name for d in frozen.decisions if d.trainable] == ["classifier.0.weight", "classifier.0.bias"]
    assert _state(frozen)["features.0.bias"] == (False, "default: frozen")
    inv = Inventory(
        (
            ParamRecord("a", (2,), "float32", "", "Net", requires_grad=False),
            ParamRecord("b", (3,), "float32", "", "Net", requires_grad=True),
        )
    )
    assert _state(make_plan(inv, [], Default.KEEP)) == {"a": (False, "default: keep"), "b": (True, "default: keep")}


def test_a_rule_selecting_nothing_fails_unless_not_strict():
    rules = [Rule("freeze", "decoder.*", "--pattern")]
    with pytest.raises(NoMatchError, match=r"rule 'freeze decoder\.\*' \(--pattern\) selects no parameter"):
        make_plan(mini_vgg(), rules)
    plan = make_plan(mini_vgg(), rules, strict=False)
    assert plan.selected == (0,)
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith("rule 'freeze decoder.*' (--pattern) selects no")
    assert not plan.frozen_names
