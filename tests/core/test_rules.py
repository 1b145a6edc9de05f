import pytest

from freezekit.core.plan import Default, make_plan
from freezekit.core.records import Inventory, ModuleRecord, ParamRecord
from freezekit.core.rules import Rule, Selector
from freezekit.errors import NoMatchError, RuleError

from ..records_for_tests import mini_vgg


def frozen(plan):
    return [d.param.name for d in plan.decisions if not d.trainable]


def names(inv, pattern):
    sel = Selector(inv)
    return sorted(inv.params[i].name for i in sel.select(Rule("freeze", pattern)))


def test_glob_star_crosses_dots():
    assert names(mini_vgg(), "features.*") == sorted(
        f"features.{i}.{w}" for i in (0, 2, 3, 10) for w in ("weight", "bias")
    )


def test_module_name_selects_its_parameters_but_not_a_longer_prefix():
    assert names(mini_vgg(), "features.1") == []  # a ReLU: no parameters, and never features.10
    assert names(mini_vgg(), "features.0") == ["features.0.bias", "features.0.weight"]


def test_exact_parameter_name():
    assert names(mini_vgg(), "features.10.bias") == ["features.10.bias"]


def test_regex_is_fullmatch_over_names_and_modules():
    assert names(mini_vgg(), r"re:features\.(0|2)") == sorted(
        ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]
    )
    assert names(mini_vgg(), r"re:.*\.bias") == sorted(
        [f"features.{i}.bias" for i in (0, 2, 3, 10)] + ["classifier.0.bias"]
    )
    assert names(mini_vgg(), "re:featur") == []  # not a search: must match a whole name


def test_type_matches_class_and_base_names():
    assert names(mini_vgg(), "type:_BatchNorm") == ["features.3.bias", "features.3.weight"]
    assert names(mini_vgg(), "type:Linear") == ["classifier.0.bias", "classifier.0.weight"]
    assert len(names(mini_vgg(), "type:Sequential")) == 10  # containers select everything inside


def test_through_selects_everything_registered_up_to_the_module():
    assert names(mini_vgg(), "through:features.2") == sorted(
        ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]
    )
    assert names(mini_vgg(), "through:features.1") == ["features.0.bias", "features.0.weight"]
    assert len(names(mini_vgg(), "through:features")) == 8


@pytest.mark.parametrize(
    "pattern,fragment",
    [
        ("through:features.99", "no module named 'features.99'"),
        ("re:(", "invalid regular expression"),
        ("", "the pattern is empty"),
        ("re:", "the pattern is empty"),
    ],
)
def test_malformed_rules(pattern, fragment):
    with pytest.raises(RuleError, match=fragment.replace("(", r"\(")):
        Selector(mini_vgg()).select(Rule("freeze", pattern))


def test_type_without_such_modules_is_a_no_match_suggesting_types():
    assert names(mini_vgg(), "type:Conv3d") == [] and names(mini_vgg(), "type:ReLU") == []
    with pytest.raises(NoMatchError, match="selects no parameter: no name matches; nearest names: Conv2d"):
        make_plan(mini_vgg(), [Rule("freeze", "type:Conv2")])
    with pytest.raises(NoMatchError, match="selects no parameter: modules of type ReLU hold no parameters"):
        make_plan(mini_vgg(), [Rule("freeze", "type:ReLU")])


def test_through_leaves_out_parameters_held_by_containing_modules():
    """CLIP-like: visual, then text, then logit_scale on the root; through:visual must not take logit_scale."""
    inv = Inventory(
        (
            ParamRecord("visual.w", (2,), "float32", "visual", "Linear"),
            ParamRecord("text.w", (2,), "float32", "text", "Linear"),
            ParamRecord("logit_scale", (), "float32", "", "CLIP"),
        ),
        modules=(ModuleRecord("", "CLIP"), ModuleRecord("visual", "Linear"), ModuleRecord("text", "Linear")),
    )
    plan = make_plan(inv, [Rule("freeze", "through:visual")])
    assert frozen(plan) == ["visual.w"]
    assert plan.warnings == (
        "rule 'freeze through:visual' leaves out 1 parameter(s) held directly by modules "
        "that contain 'visual' (logit_scale): their position is unknown; add a rule for them",
    )


def test_last_rule_wins_and_records_the_deciding_rule():
    plan = make_plan(
        mini_vgg(), [Rule("freeze", "features.*"), Rule("unfreeze", "features.10"), Rule("freeze", "features.10.bias")]
    )
    by_name = {d.param.name: d for d in plan.decisions}
    assert by_name["features.10.weight"].trainable and by_name["features.10.weight"].rule == "unfreeze features.10"
    assert not by_name["features.10.bias"].trainable and by_name["features.10.bias"].rule == "freeze features.10.bias"
    assert by_name["classifier.0.weight"].rule == "default: trainable"
    assert plan.selected == (8, 2, 1)


def test_default_frozen_and_keep():
    plan = make_plan(mini_vgg(), [Rule("unfreeze", "classifier")], default=Default.FROZEN)
    assert [d.param.name for d in plan.decisions if d.trainable] == ["classifier.0.weight", "classifier.0.bias"]
    inv = Inventory(
        (
            ParamRecord("a.w", (2,), "float32", "a", "L", requires_grad=False),
            ParamRecord("b.w", (2,), "float32", "b", "L"),
        ),
        has_modules=False,
    )
    assert [d.trainable for d in make_plan(inv, [], default=Default.KEEP).decisions] == [False, True]


def test_strict_no_match_names_rule_and_nearest():
    with pytest.raises(NoMatchError) as err:
        make_plan(mini_vgg(), [Rule("freeze", "features.1", "--pattern")])
    assert "rule 'freeze features.1' (--pattern) selects no parameter" in str(err.value)
    assert "features.10" in str(err.value)


def test_allow_unmatched_turns_it_into_a_warning():
    plan = make_plan(mini_vgg(), [Rule("freeze", "nothing.here")], strict=False)
    assert plan.selected == (0,)
    assert plan.warnings and "selects no parameter" in plan.warnings[0]
    assert frozen(plan) == []


def test_tied_parameter_selected_through_any_name():
    inv = Inventory(
        (
            ParamRecord("embed.weight", (8, 4), "float32", "embed", "Embedding", aliases=("head.weight",)),
            ParamRecord("body.weight", (4, 4), "float32", "body", "Linear"),
        ),
        has_modules=False,
    )
    assert frozen(make_plan(inv, [Rule("freeze", "head")])) == ["embed.weight"]


def test_checkpoint_inventory_refuses_module_rules():
    inv = Inventory((ParamRecord("a.weight", (2,), "float32", "a", ""),), has_modules=False)
    with pytest.raises(RuleError, match="need module information"):
        make_plan(inv, [Rule("freeze", "type:Linear")])
    assert frozen(make_plan(inv, [Rule("freeze", "a")])) == ["a.weight"]
