"""The torch-ddp and torch-fsdp2 presets from hand-built records (pure: no torch), and through `count`.

The FSDP2 figures are those a real run allocates: fully_shard on 3 gloo ranks of the model below
(Linear(5, 7) with a frozen weight, a unit of Linear(7, 9) and Linear(9, 3), then Linear(3, 2)),
MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32), AdamW, one step: each parameter's padded
local storage, each unit's gradient storage, rank 0's optimizer states.
"""

from __future__ import annotations

import json

import pytest

from freezekit.core.plan import Decision
from freezekit.core.records import Inventory, ModuleRecord, ParamRecord
from freezekit.distributed.engine_torch import storage_dtype, torch_fsdp2_plan
from freezekit.distributed.memory_plan import Split, plan_options
from freezekit.distributed.plan_of import plan_of
from freezekit.distributed.render import padding_line
from freezekit.distributed.sections import count_sections, sections_dict
from freezekit.errors import RuleError, UsageError

from .test_process_groups import MODELS

SHAPES = {  # name: shape; 0.weight frozen
    "0.weight": (7, 5),
    "0.bias": (7,),
    "1.0.weight": (9, 7),
    "1.0.bias": (9,),
    "1.1.weight": (3, 9),
    "1.1.bias": (3,),
    "2.weight": (2, 3),
    "2.bias": (2,),
}
UNIT_OF = {name: "1" if name.startswith("1.") else "" for name in SHAPES}


def _decisions(dtype: str = "float32") -> list[Decision]:
    return [
        Decision(ParamRecord(n, shape, dtype, n.rpartition(".")[0], "Linear"), n != "0.weight", "x")
        for n, shape in SHAPES.items()
    ]


def _fsdp2(world_size: int = 3, **kw):
    return plan_of(_decisions(), plan_options("torch-fsdp2", world_size, **kw), unit_of=UNIT_OF)


def test_fsdp2_pads_each_tensor_s_dim_0_as_a_3_rank_run_allocates():
    plan = _fsdp2()
    # ceil(d0 / 3) rows each: 0.weight 3x5; trainable 3 + 3x7 + 3 + 1x9 + 1 + 1x3 + 1 = 41 elements
    assert plan.params == Split(60, 164) and plan.grads == Split(0, 164)
    assert plan.optimizer_state == Split(0, 2 * 164 + 7 * 4)  # exp_avg, exp_avg_sq of rank 0's chunk; 7 step counters
    plain = plan_of(_decisions(), plan_options("fsdp", 3))  # the even split: ceil(bytes / 3)
    assert plain.model_states.total == 47 + 156 + 156 + 340
    assert plan.padding == plan.model_states.total - plain.model_states.total == 45
    assert padding_line(plan) == (
        "FSDP2 pads dim 0 of tensors to a multiple of 3: 45 B per rank (included in params, grads and optimizer)"
    )
    assert plan.to_dict()["padding"] == 45 and "padding" not in plain.to_dict()


def test_fsdp2_transient_is_the_root_and_the_largest_unit_unsharded():
    plan = _fsdp2(precision="bf16-mixed")  # gathered in bfloat16, gradients reduced in float32
    root_frozen = 3 * 3 * 5 * 2  # 0.weight: 3 padded chunks of 3 rows
    root = (9 + 3 * 3 + 3) * (2 + 4)  # 0.bias, 2.weight, 2.bias padded to 9, 3x3 and 3 elements
    unit = (9 * 7 + 9 + 3 * 9 + 3) * (2 + 4)  # layers 1.0 and 1.1, dims already multiples of 3
    assert plan.buffers == Split(root_frozen, root + unit)
    assert plan.params == Split(60, 164)  # a *-mixed precision leaves the storage as it is (float32)
    as_stored = _fsdp2()
    assert as_stored.buffers == Split(2 * root_frozen, root // 6 * 8 + unit // 6 * 8)  # float32 copies
    assert plan.total == plan.model_states + plan.buffers


def test_fsdp2_dims_that_divide_have_no_padding_line():
    plan = _fsdp2(world_size=1)
    assert plan.padding == 0 and padding_line(plan) is None
    assert plan.params == Split(140, 468)  # everything on the one rank


def test_fsdp2_without_gradient_and_without_units():
    plan = torch_fsdp2_plan(_decisions(), plan_options("torch-fsdp2", 3), {}, frozenset({"1.0.weight"}))
    assert plan.grads == Split(0, 164 - 84) and plan.optimizer_state == Split(0, 2 * 80 + 6 * 4)
    assert plan.params == Split(60, 164)  # its shard is still held
    # no units: one root unit holding everything, the model unsharded (without 1.0.weight's gradient)
    assert plan.buffers == Split(3 * 60, 3 * 164 * 2 - 3 * 84)


def test_ddp_buckets_copy_every_trainable_gradient():
    plan = plan_of(_decisions(), plan_options("torch-ddp", 2))
    trainable = 4 * (7 + 63 + 9 + 27 + 3 + 6 + 2)  # 468 B: DDP's bucket_sizes on 2 gloo ranks of this model
    assert plan.params == Split(140, trainable) and plan.grads == Split(0, trainable)
    assert plan.buffers == Split(0, trainable) and plan.padding is None
    unused = plan_of(_decisions(), plan_options("torch-ddp", 2), without_gradient=frozenset({"1.0.weight"}))
    assert unused.buffers == plan.buffers and unused.grads == Split(0, trainable - 252)  # buckets hold it anyway
    view = plan_of(_decisions(), plan_options("torch-ddp", 2, bucket_view=True))
    assert view.buffers == Split(0, 0) and view.model_states == plan.model_states
    assert view.to_dict()["per_rank"]["buffers"] == 0


def test_presets_store_in_the_param_dtype_and_compute_in_the_precision():
    assert storage_dtype(plan_options("torch-ddp", 1, precision="bf16-mixed")) is None  # as stored
    assert storage_dtype(plan_options("torch-ddp", 1, precision="bf16")) == "bfloat16"
    assert storage_dtype(plan_options("torch-ddp", 1, param_dtype="fp16", precision="bf16-mixed")) == "float16"
    mixed = plan_of(_decisions(), plan_options("torch-ddp", 2, precision="bf16-mixed"))
    assert mixed.params == Split(140, 468) and mixed.optimizer_state == Split(0, 2 * 468 + 7 * 4)
    assert mixed.precision.value == "bf16-mixed" and mixed.buffers == Split(0, 468)  # autocast: float32 buckets
    bf16 = plan_of(_decisions(), plan_options("torch-ddp", 2, precision="bf16"))
    assert bf16.params == Split(70, 234) and bf16.buffers == Split(0, 234)


def test_bucket_view_goes_with_torch_ddp():
    with pytest.raises(UsageError, match="--ddp-bucket-view goes with --strategy torch-ddp, not fsdp"):
        plan_options("fsdp", 2, bucket_view=True)


def _inventory(has_modules: bool = True) -> Inventory:
    modules = (ModuleRecord("", "Net", ("Net", "Module")),) if has_modules else ()
    params = tuple(d.param for d in _decisions())
    return Inventory(params, (), modules, has_modules, "net")


def test_count_sections_of_a_checkpoint_refuse_torch_fsdp2():
    from freezekit.core.plan import Default, Plan

    plan = Plan(tuple(_decisions()), (), Default.TRAINABLE)
    with pytest.raises(RuleError, match="--strategy torch-fsdp2 needs the model's modules"):
        count_sections(_inventory(False), plan, None, False, plan_options("torch-fsdp2", 3))
    sections = count_sections(_inventory(), plan, None, False, plan_options("torch-fsdp2", 3))
    assert sections.units is None  # the units are not listed unless asked (--shard-by)
    assert sections_dict(sections)["memory_plan"]["padding"] == 45


def test_cli_json_of_the_presets(cli):
    args = ("count", f"{MODELS}:build_unused", "--trust-code", "-p", "stem", "--memory-plan", "--format", "json")
    code, out, err = cli(*args, "--strategy", "torch-fsdp2", "--world-size", "2")
    assert code == 0, err
    plan = json.loads(out)["memory_plan"]
    # spare (3x12 and 3) is the one odd dim 0: 2 rows each on 2 ranks, 26 B more per part, 104 B in all
    assert (plan["strategy"], plan["padding"]) == ("torch-fsdp2", 104)
    # no repeated blocks: one root unit, all of it unsharded (body, spare padded to 4 rows, head) with its gradients
    buffers = 84 * 4 + 2 * (156 + 52 + 52) * 4
    assert plan["per_rank"] == {
        "params": 688, "grads": 520, "optimizer": 2 * 520 + 6 * 4, "buffers": buffers, "total": 4_688,
    }  # fmt: skip
    code, out, err = cli(*args, "--strategy", "torch-ddp", "--world-size", "2")
    assert code == 0, err
    plan = json.loads(out)["memory_plan"]
    assert plan["per_rank"]["buffers"] == plan["trainable"]["grads"] == 988 and "padding" not in plan
    code, out, _ = cli(*args, "--strategy", "torch-ddp", "--ddp-bucket-view")
    assert code == 0 and json.loads(out)["memory_plan"]["per_rank"]["buffers"] == 0
    code, out, err = cli(*args, "--strategy", "fsdp", "--ddp-bucket-view")
    assert (code, out) == (2, "") and err == (
        "freezekit: error: --ddp-bucket-view goes with --strategy torch-ddp, not fsdp\n"
    )
    code, out, err = cli("count", f"{MODELS}:build_unused", "--trust-code", "--ddp-bucket-view")
    assert code == 2 and "--ddp-bucket-view and --activations go with --memory-plan" in err


def _result(engine: str, plan, buckets: int | None):
    from freezekit.distributed.memory_plan import OptimizerKind
    from freezekit.distributed.results import DistResult, Engine, RankReport

    ranks = tuple(RankReport(r, plan.params, plan.grads, plan.optimizer_state, 1, buckets=buckets) for r in (0, 1))
    return DistResult(
        "m.py:build", Engine(engine), 2, "gloo", "cpu", OptimizerKind.ADAMW, 1, "x", (), plan, plan, ranks
    )


def test_verify_tables_say_the_engine_buffers_and_the_padding():
    from freezekit.distributed.render import buffer_notes, dist_markdown

    ddp = _result("ddp", plan_of(_decisions(), plan_options("torch-ddp", 2)), 468)
    assert buffer_notes(ddp) == ["DDP's gradient buckets: planned 468 B, measured 468 B per rank"]
    assert dist_markdown(ddp).endswith("\n\nDDP's gradient buckets: planned 468 B, measured 468 B per rank\n")
    fsdp = _result("fsdp", plan_of(_decisions(), plan_options("torch-fsdp2", 2), unit_of=UNIT_OF), None)
    assert buffer_notes(fsdp) == [
        f"FSDP2's transient (the root and the largest unit unsharded): planned {fsdp.plan.buffers.total:,} B, "
        "not measured",
        f"FSDP2 pads dim 0 of tensors to a multiple of 2: {fsdp.plan.padding:,} B per rank "
        "(included in params, grads and optimizer)",
    ]
    # half a row of each odd dim 0 (7, 9, 3) per rank: 0.weight 80 B padded against 70; the trainable 272 against
    # 234, in the parameters, the gradients and both Adam states
    assert fsdp.plan.padding == (80 - 70) + (272 - 234) * (1 + 1 + 2) == 162
