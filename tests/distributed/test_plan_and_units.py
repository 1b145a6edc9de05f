"""The memory plan's formulas and the FSDP unit pre-flight, on hand-built records (pure: no torch)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from freezekit.core.plan import Decision, Default, make_plan
from freezekit.core.records import Inventory, ModuleRecord, ParamRecord
from freezekit.core.rules import Rule
from freezekit.distributed.memory_plan import (
    OPTIMIZERS,
    STATES_PER_ELEMENT,
    STEP_COUNTER_BYTES,
    STRATEGIES,
    MemoryPlan,
    Split,
    plan_options,
)
from freezekit.distributed.options import parse_types
from freezekit.distributed.plan_of import plan_of
from freezekit.distributed.sections import (
    CountSections,
    count_sections,
    flat_error,
    sections_dict,
)
from freezekit.distributed.units import (
    fsdp_units,
    mixed_units_message,
    repeated_block_types,
    uniform_fix,
)
from freezekit.errors import ExitCode, NoMatchError, RuleError, UsageError


def _decisions() -> list[Decision]:
    """Frozen: 1000 float32 elements in 2 tensors (4000 B). Trainable: 600 float32 elements in 3 tensors (2400 B)."""

    def rec(name, n):
        return ParamRecord(name, (n,), "float32", name.rpartition(".")[0], "Linear")

    return [
        Decision(rec("a.w", 800), False, "x"),
        Decision(rec("a.b", 200), False, "x"),
        Decision(rec("b.w", 500), True, "x"),
        Decision(rec("b.b", 60), True, "x"),
        Decision(rec("c.w", 40), True, "x"),
    ]


def memory_plan(decisions, strategy, world_size, optimizer, param_dtype=None, **kw) -> MemoryPlan:
    return plan_of(decisions, plan_options(strategy, world_size, optimizer, param_dtype), **kw)


def _parts(plan: MemoryPlan) -> tuple[Split, Split, Split]:
    return plan.params, plan.grads, plan.optimizer_state


@pytest.mark.parametrize(
    "strategy, params, grads, states",
    [
        # AdamW over 4 ranks: 2 states x 2400 B + a 4-byte step counter per trainable tensor (3)
        ("ddp", Split(4000, 2400), Split(0, 2400), Split(0, 4812)),
        ("zero1", Split(4000, 2400), Split(0, 2400), Split(0, 1203)),  # ceil((4800 + 12) / 4)
        ("zero2", Split(4000, 2400), Split(0, 600), Split(0, 1203)),
        ("zero3", Split(1000, 600), Split(0, 600), Split(0, 1203)),
        ("fsdp", Split(1000, 600), Split(0, 600), Split(0, 1212)),  # states sharded, counters on every rank
        ("deepspeed-zero1", Split(4000, 2400), Split(0, 600), Split(0, 1203)),  # DeepSpeed keeps the grad partition
        ("deepspeed-zero2", Split(4000, 2400), Split(0, 600), Split(0, 1203)),
        ("torch-ddp", Split(4000, 2400), Split(0, 2400), Split(0, 4812)),  # + 2400 B of buckets (engine_torch tests)
        ("torch-fsdp2", Split(1000, 600), Split(0, 600), Split(0, 1212)),  # dims divide by 4: no padding
        # every tensor under 100,000 elements: partitioned and whole on every rank; one step counter per flat group
        ("deepspeed-zero3", Split(1000 + 4000, 600 + 2400), Split(0, 600), Split(0, 1204)),
    ],
)
def test_adamw_plan_per_strategy(strategy, params, grads, states):  # every strategy: see the next test
    plan = memory_plan(_decisions(), strategy, 4, "adamw")
    assert _parts(plan) == (params, grads, states)
    assert plan.total == params + grads + states + (plan.buffers or Split())


def test_every_strategy_and_optimizer_has_a_case():
    cases = test_adamw_plan_per_strategy.pytestmark[0].args[1]
    assert {c[0] for c in cases} == set(STRATEGIES)
    assert set(STATES_PER_ELEMENT) == set(OPTIMIZERS) == set(STEP_COUNTER_BYTES)


def test_optimizers_and_param_dtype():
    assert memory_plan(_decisions(), "ddp", 4, "sgd").optimizer_state == Split(0, 0)
    assert memory_plan(_decisions(), "ddp", 4, "sgd-momentum").optimizer_state == Split(0, 2400)
    assert memory_plan(_decisions(), "zero2", 4, "sgd-momentum").optimizer_state == Split(0, 600)
    assert memory_plan(_decisions(), "ddp", 4, "adam").optimizer_state == Split(0, 4812)
    bf16 = memory_plan(_decisions(), "ddp", 4, "adamw", "bf16")
    assert _parts(bf16) == (Split(2000, 1200), Split(0, 1200), Split(0, 2412))
    assert bf16.param_dtype.dtype == "bfloat16"


def test_world_size_one_shards_nothing():
    for strategy in STRATEGIES:
        plan = memory_plan(_decisions(), strategy, 1, "adamw")
        counters = 4 if strategy == "deepspeed-zero3" else 12  # DeepSpeed's one flat group, torch's 3 tensors
        assert _parts(plan) == (Split(4000, 2400), Split(0, 2400), Split(0, 4800 + counters)), strategy


def test_ten_percent_trainable_with_adam_takes_1_3x_the_parameters_under_ddp():
    def rec(name, n):
        return ParamRecord(name, (n,), "float32", "", "Linear")

    decisions = [Decision(rec("frozen", 9_000_000), False, "x"), Decision(rec("head", 1_000_000), True, "x")]
    ddp = memory_plan(decisions, "ddp", 8, "adam")
    assert ddp.total.total == 40_000_000 + 4_000_000 + 8_000_000 + 4  # 1.3x the 40 MB of parameters
    fsdp = memory_plan(decisions, "fsdp", 8, "adam")
    assert fsdp.total.total == 5_000_000 + 500_000 + 1_000_000 + 4


def test_without_gradient_drops_grads_and_states_only():
    plan = memory_plan(_decisions(), "ddp", 2, "adamw", without_gradient=frozenset({"c.w"}))
    assert _parts(plan) == (Split(4000, 2400), Split(0, 2240), Split(0, 2 * 2240 + 8))


def test_to_dict_shape():
    d = memory_plan(_decisions(), "fsdp", 4, "adamw").to_dict()
    assert d == {
        "strategy": "fsdp",
        "world_size": 4,
        "optimizer": "adamw",
        "param_dtype": None,
        "precision": None,
        "per_rank": {"params": 1600, "grads": 600, "optimizer": 1212, "total": 3412},
        "frozen": {"params": 1000, "grads": 0, "optimizer": 0, "total": 1000},
        "trainable": {"params": 600, "grads": 600, "optimizer": 1212, "total": 2412},
    }


@pytest.mark.parametrize(
    "args, culprit",
    [
        (("tp", 2, "adamw"), "--strategy 'tp' is not one of ddp, fsdp, zero1"),
        (("ddp", 0, "adamw"), "--world-size 0: must be at least 1"),
        (("ddp", 2, "lion"), "--optimizer 'lion' is not one of adamw, adam, sgd"),
        (("ddp", 2, "adamw", "int8"), "--param-dtype 'int8' is not one of float32, bfloat16, float16"),
    ],
)
def test_bad_plan_options(args, culprit):
    with pytest.raises(UsageError, match=culprit):
        memory_plan(_decisions(), *args)


BLOCK = ("Block", "Module")
LIN = ("Linear", "Module")


def lm_inventory() -> Inventory:
    """embed, layers.{0,1,2} Blocks (each fc1, fc2), head; `layers` a ModuleList."""
    modules = [
        ModuleRecord("", "LM", ("LM", "Module")),
        ModuleRecord("embed", "Embedding", ("Embedding", "Module")),
        ModuleRecord("layers", "ModuleList", ("ModuleList", "Module")),
    ]
    params = [ParamRecord("embed.weight", (10, 4), "float32", "embed", "Embedding")]
    for i in range(3):
        modules.append(ModuleRecord(f"layers.{i}", "Block", BLOCK))
        for fc in ("fc1", "fc2"):
            modules.append(ModuleRecord(f"layers.{i}.{fc}", "Linear", LIN))
            params += [
                ParamRecord(f"layers.{i}.{fc}.weight", (4, 4), "float32", f"layers.{i}.{fc}", "Linear"),
                ParamRecord(f"layers.{i}.{fc}.bias", (4,), "float32", f"layers.{i}.{fc}", "Linear"),
            ]
    modules.append(ModuleRecord("head", "Linear", LIN))
    params += [ParamRecord("head.weight", (10, 4), "float32", "head", "Linear")]
    return Inventory(tuple(params), (), tuple(modules), True, "lm")


def _plan(*frozen: str):
    return make_plan(lm_inventory(), [Rule("freeze", p, "-p") for p in frozen], Default.TRAINABLE)


def test_repeated_blocks_skip_containers_and_leaves():
    assert repeated_block_types(lm_inventory()) == ("Block",)


def test_units_in_wrapping_order_with_counts():
    report = fsdp_units(lm_inventory(), _plan("embed", "layers.0", "layers.1.fc1"), None)
    assert report.how == "repeated blocks" and report.shard_by == ("Block",)
    assert [(u.label, u.frozen_tensors, u.trainable_tensors, u.frozen, u.trainable) for u in report.units] == [
        ("layers.0", 4, 0, 40, 0),
        ("layers.1", 2, 2, 20, 20),
        ("layers.2", 0, 4, 0, 40),
        ("(root)", 1, 1, 40, 40),
    ]
    assert [u.label for u in report.mixed] == ["layers.1", "(root)"]


def test_fixes_make_units_uniform():
    inv, plan = lm_inventory(), _plan("embed", "layers.0", "layers.1.fc1")
    report = fsdp_units(inv, plan, ("Block",))
    layer1, root = report.mixed
    assert uniform_fix(inv, plan, report, layer1) == "--shard-by Block,Linear"  # fc1 and fc2 become uniform units
    assert uniform_fix(inv, plan, report, root) == "--shard-by Block,Linear"  # head leaves the root to embed
    assert fsdp_units(inv, plan, ("Block", "Linear")).mixed == ()
    assert [u.label for u in fsdp_units(inv, plan, ("Block", "Embedding")).mixed] == ["layers.1"]
    message = mixed_units_message(inv, plan, report)
    assert message.startswith("--fsdp-flat: 2 FSDP units mix frozen and trainable parameters")
    assert "layers.1 (Block: 2 frozen, 2 trainable tensors; fix: --shard-by Block,Linear)" in message


def test_a_unit_holding_a_parameter_itself_is_fixed_by_freezing_it_whole():
    inv = lm_inventory()
    params = inv.params + (ParamRecord("layers.2.scale", (4,), "float32", "layers.2", "Block"),)
    inv = Inventory(params, (), inv.modules, True, "lm")
    plan = make_plan(inv, [Rule("freeze", "layers.2.scale", "-p")], Default.TRAINABLE)
    report = fsdp_units(inv, plan, ("Block",))
    (unit,) = [u for u in report.mixed if u.name]
    assert uniform_fix(inv, plan, report, unit) == "-u 'layers.2' (or -p 'layers.2')"


def test_shard_by_errors():
    with pytest.raises(NoMatchError, match="--shard-by Blok: no module of type Blok.*did you mean 'Block'") as e:
        fsdp_units(lm_inventory(), _plan(), ("Blok",))
    assert e.value.exit_code == ExitCode.NO_MATCH
    headers = Inventory(lm_inventory().params, (), (), False, "x.safetensors")
    with pytest.raises(RuleError, match="checkpoint file has none"):
        fsdp_units(headers, make_plan(headers, [], Default.TRAINABLE), ("Block",))
    with pytest.raises(UsageError, match="--shard-by A,,B"):
        parse_types("A,,B")
    assert parse_types("TransformerEncoderLayer, LlamaDecoderLayer") == ("TransformerEncoderLayer", "LlamaDecoderLayer")


def test_count_sections_and_flat_error():
    inv, plan = lm_inventory(), _plan("layers.0")
    sections = count_sections(inv, plan, None, True, None)
    assert flat_error(inv, plan, sections) is None  # layers.0 is all frozen: uniform
    d = sections_dict(sections)
    assert d["unit_types"] == {"types": ["Block"], "how": "repeated blocks"}
    assert [u["name"] for u in d["units"]] == ["layers.0", "layers.1", "layers.2", ""]
    mixed = count_sections(inv, _plan("layers.0.fc1"), None, True, None)
    error = flat_error(inv, _plan("layers.0.fc1"), mixed)
    assert error is not None and error.exit_code == ExitCode.VERIFY and "layers.0 (Block" in str(error)
    assert sections_dict(CountSections()) == {}


def test_memory_disagreements_name_the_part_beyond_one_percent():
    from freezekit.distributed.results import RankReport
    from freezekit.distributed.run import memory_disagreements

    expected = memory_plan(_decisions(), "ddp", 2, "sgd-momentum")  # params 4000/2400, grads 2400, states 2400

    def rank(r: int, states: int) -> RankReport:
        return RankReport(r, Split(4000, 2400), Split(0, 2400), Split(0, states), steps_done=1)

    assert memory_disagreements((rank(0, 2400), rank(1, 2424)), expected) == []  # the largest rank: 1% off
    assert memory_disagreements((rank(0, 2400), rank(1, 2425)), expected) == [
        "optimizer_state trainable: measured 2,425 B, planned 2,400 B"
    ]  # the largest rank 1.04% off (the mean, 0.5%, would hide it)
    buckets = memory_plan(_decisions(), "torch-ddp", 2, "sgd-momentum")  # buckets: 2400 B
    assert memory_disagreements((replace(rank(0, 2400), buckets=2400),), buckets) == []
    assert memory_disagreements((replace(rank(0, 2400), buckets=4800),), buckets) == [
        "DDP gradient buckets: measured 4,800 B, planned 2,400 B"
    ]


def test_a_rank_error_keeps_its_exit_code():
    from freezekit.distributed.run import error_for

    assert type(error_for(2, "x")) is UsageError
    assert type(error_for(8, "x")) is NoMatchError
    assert error_for(10, "rank 1 did not finish").exit_code == ExitCode.VERIFY  # hung, crashed, engine refused
