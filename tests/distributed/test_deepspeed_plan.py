"""The deepspeed-zero3 preset (DeepSpeed ZeRO-3 as it allocates) and deepspeed-zero1/2's engine buffers, on
hand-built records (pure: no torch), and through `count --memory-plan`. benchmarks/deepspeed_plan.py checks the same figures on real DeepSpeed."""

from __future__ import annotations

import json

import pytest

from freezekit.core.plan import Decision
from freezekit.core.records import ParamRecord
from freezekit.distributed import deepspeed_plan as ds
from freezekit.distributed import memory_plan as mp
from freezekit.distributed.memory_plan import Split, plan_options
from freezekit.distributed.plan_of import plan_of
from freezekit.distributed.zero3_gather import Held, Limits, peak_gathered, trace
from tests.distributed.test_precision import llama3_8b


def _rec(name: str, shape: tuple[int, ...]) -> ParamRecord:
    return ParamRecord(name, shape, "float32", name.rpartition(".")[0], "Linear")


def _zero3(decisions, world=2, precision="bf16-mixed", optimizer="adamw"):
    return plan_of(decisions, plan_options("deepspeed-zero3", world, optimizer, None, precision))


def _small() -> list[Decision]:
    """A frozen embedding over the persistence threshold, a trainable layer whose odd weight DeepSpeed pads."""
    return [
        Decision(_rec("embed.weight", (1001, 128)), False, "x"),  # 128,128 elements: partitioned
        Decision(_rec("fc.weight", (301, 333)), True, "x"),  # 100,233: padded to 100,234, partitioned
        Decision(_rec("fc.bias", (301,)), True, "x"),  # persistent: whole on every rank, and partitioned
        Decision(_rec("norm.weight", (7,)), False, "x"),  # persistent, padded to 8
    ]


def test_zero3_partitions_padding_persistence_and_buffers():
    plan = _zero3(_small())
    # 2 B per element: each partition (ceil(n / 2)); the persistent ones also whole (padded) on every rank
    assert plan.params == Split(2 * 64_064 + (2 * 4 + 2 * 8), 2 * 50_117 + (2 * 151 + 2 * 302))
    assert plan.grads == Split(0, 2 * (50_117 + 151))  # bf16 gradient partitions
    assert plan.optimizer_state == Split(0, 12 * (50_117 + 151) + 4)  # fp32 master + 2 states, one step counter
    # gathered: the largest module (embed) padded, then the prefetch (fc.weight); the 5e8-element bf16 bucket
    assert plan.buffers == Split(2 * 128_128, 2 * 100_234 + 1_000_000_000)
    assert plan.total == plan.params + plan.grads + plan.optimizer_state + plan.buffers


def test_zero3_llama3_8b_half_frozen_on_8_ranks():
    plan = _zero3(llama3_8b(), world=8)
    frozen_n, trainable_n = 4_015_128_576, 4_015_132_672
    frozen_norms, trainable_norms = 32 * 4096, 33 * 4096  # under 100,000 elements: whole on every rank
    assert plan.params == Split(2 * frozen_n // 8 + 2 * frozen_norms, 2 * trainable_n // 8 + 2 * trainable_norms)
    assert plan.grads == Split(0, 2 * trainable_n // 8)
    assert plan.optimizer_state == Split(0, 12 * trainable_n // 8 + 4)  # 501,891,584 partition elements: one group
    # at the turn to backward: lm_head, layers 28-31 (the prefetcher skipped over their backward use, which
    # keeps them) and layer 27's up and down prefetched for backward; the frozen half was released in forward
    layer = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14_336 * 4096
    gathered = 128_256 * 4096 + 4 * layer + 2 * 14_336 * 4096
    assert plan.buffers == Split(0, 2 * gathered + 1_000_000_000)
    assert round(plan.model_states.total / 2**30, 2) == 8.41 and round(plan.total.total / 2**30, 2) == 12.17


def test_zero3_sub_groups_close_at_sub_group_size():
    assert ds._sub_groups([]) == 0
    assert ds._sub_groups([600_000_000, 600_000_000, 600_000_000]) == 2
    assert ds._sub_groups([1_000_000_000, 1]) == 2


def test_zero3_as_stored_and_nothing_trainable():
    stored = _zero3(_small(), precision=None, optimizer="sgd")  # fp32 everywhere, no states, no counters
    assert stored.grads == Split(0, 4 * (50_117 + 151)) and stored.optimizer_state == Split()
    assert stored.buffers == Split(4 * 128_128, 4 * 100_234 + 2_000_000_000)  # the bucket in fp32 gradients
    frozen = [Decision(d.param, False, "x") for d in _small()]
    assert _zero3(frozen).buffers == Split(2 * 128_128 + 2 * 100_234, 0)  # no bucket when nothing trains


def test_plain_zero3_formula_is_unchanged():  # (2 B x N) / W, no padding, nothing kept whole, no buffers
    zero3 = plan_of(_small(), plan_options("zero3", 2, "adamw", None, "bf16-mixed"))
    assert zero3.params == Split(2 * 128_135 // 2, 2 * 100_534 // 2) and zero3.buffers is None
    assert zero3.optimizer_state == Split(0, 12 * 100_534 // 2)
    assert zero3 == mp.memory_plan(_small(), plan_options("zero3", 2, "adamw", None, "bf16-mixed"))
    with pytest.raises(ValueError, match="plan_of"):  # the formulas never answer for the engine
        mp.memory_plan(_small(), plan_options("deepspeed-zero3", 2))


def test_count_deepspeed_zero3_json(cli):
    code, out, err = cli(
        "count", "resnet18", "--default", "frozen", "-u", "layer4", "-u", "fc", "--memory-plan", "--world-size", "8",
        "--strategy", "deepspeed-zero3", "--precision", "bf16-mixed", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)["memory_plan"]
    assert plan["per_rank"] == {
        "params": 3_486_682,  # 2 x 11,689,512 / 8, plus 552,064 + 1,343,540 B of small tensors kept whole
        "grads": 2_226_682,  # 2 x 8,906,728 / 8
        "optimizer": 13_360_096,  # 12 x 8,906,728 / 8 + one step counter
        "buffers": 1_022_814_720,  # the 1e9 B bucket + every tensor over 100,000 elements gathered (2 B each)
        "total": 1_041_888_180,
    }
    assert plan["frozen"]["buffers"] == 2 * 2_506_752 and plan["trainable"]["buffers"] == 10**9 + 2 * 8_900_608


@pytest.mark.parametrize("stage, whole", [(2, 0), (1, 2 * 8_906_728)])  # ZeRO-1: every gradient whole as well
def test_count_deepspeed_zero12_json(cli, stage, whole):
    code, out, err = cli(
        "count", "resnet18", "--default", "frozen", "-u", "layer4", "-u", "fc", "--memory-plan", "--world-size", "8",
        "--strategy", f"deepspeed-zero{stage}", "--precision", "bf16-mixed", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)["memory_plan"]
    # q = 1,113,342: rank 3 [3,340,026, 4,453,368) holds layer4.0.conv2 (2,159,354 elements before it) and
    # layer4.1.conv1 (1,579,016 after it) whole; the 1e9 B bucket over the step's 4q = 4,453,368 B
    buffers = 10**9 + 2 * (2_159_354 + 1_579_016) + whole
    states = {"params": 23_379_024, "grads": 2_226_682, "optimizer": 13_360_092}  # the formula's, unchanged
    assert plan["per_rank"] == {**states, "buffers": buffers, "total": sum(states.values()) + buffers}
    assert plan["frozen"]["buffers"] == 0
    assert (
        "every trainable gradient whole"
        in cli("count", "resnet18", "--memory-plan", "--strategy", "deepspeed-zero1")[1]
    )


def _linears(depth: int, frozen: int, n: int) -> list[Held]:
    """nn.Sequential of `depth` Linear(n, n), the first `frozen` frozen, 2 ranks, bf16: weight and bias."""
    return [
        h
        for i in range(depth)
        for h in (Held(str(i), n * n, 2 * n * n, i >= frozen, False), Held(str(i), n, 2 * n, i >= frozen, True))
    ]


def test_replayed_gathers_equal_deepspeed_measured():  # benchmarks/deepspeed_plan.py and its "deep" case
    weight = 2 * 4096 * 4096
    assert peak_gathered(_linears(8, 2, 4096)) == Split(weight, 6 * weight)  # measured 234,881,024 B, 1 frozen
    assert peak_gathered(_linears(16, 2, 4096)) == Split(0, 14 * weight)  # measured 469,762,048 B
    scaled = Limits(2_000, 1_000_000, 20_000_000, 20_000_000)  # the "deep" case: 13 of 24 layers gathered
    assert peak_gathered(_linears(24, 4, 1024), scaled) == Split(0, 13 * 2 * 1024 * 1024)


def test_trace_calls_containers_not_lists_and_skips_the_frozen_prefix():
    held = [
        Held("embed", 10, 20, False, True),
        Held("layers.0.attn", 10, 20, False, True),
        Held("layers.1.attn", 10, 20, True, True),
        Held("layers.1.mlp", 10, 20, True, True),
        Held("head", 10, 20, True, True),
    ]
    # root, embed, layers.0 (layers is a list: never called), its attn, layers.1, attn, mlp, head; then
    # backward: root, head, layers.1, mlp, attn (the frozen embed and layers.0 get no gradient)
    assert trace(held) == [[], [0], [], [1], [], [2], [3], [4], [], [4], [], [3], [2]]


def _zero12(decisions, stage, world=2, precision="bf16-mixed"):
    return plan_of(decisions, plan_options(f"deepspeed-zero{stage}", world, "adamw", None, precision))


def test_zero12_buffers_bucket_overhang_and_zero1s_whole_gradients():
    # 100,534 trainable elements flattened, padded to a multiple of 2W = 4: q = 50,268 per rank. fc.weight
    # [0, 100,233) crosses the edge: rank 1 holds its 50,268 elements before its partition whole (bf16)
    zero2 = _zero12(_small(), 2)
    assert zero2.buffers == Split(0, 1_000_000_000 + 2 * 50_268)  # over the step's fp32 partition, 4 x 50,268
    zero1 = _zero12(_small(), 1)  # and every trainable gradient whole until ZeRO-1 reduces after backward
    assert zero1.buffers == Split(0, 1_000_000_000 + 2 * 50_268 + 2 * 100_534)
    options = plan_options("deepspeed-zero1", 2, "adamw", None, "bf16-mixed")
    assert ds.zero12_phases(_small(), options) == ds.Zero12Phases(10**9, 2 * 50_268, 2 * 100_534, 4 * 50_268)
    # model states are the formula's, unchanged
    plain = mp.memory_plan(_small(), plan_options("deepspeed-zero2", 2, "adamw", None, "bf16-mixed"))
    assert zero2.model_states == plain.model_states and plain.buffers is None
    assert zero2.total == zero2.model_states + zero2.buffers


def test_zero12_step_partition_when_it_outgrows_the_backward():
    big = [Decision(_rec("w", (40_000, 25_000)), True, "x"), Decision(_rec("f", (10,)), False, "x")]
    # one rank: no edge, q = 1e9 + 0 padding; the fp32 gradient partition (4e9 B) over the 1e9 B bucket
    assert _zero12(big, 2, world=1).buffers == Split(0, 4_000_000_000)
    # as stored (fp32): the bucket of 5e8 fp32 elements (2e9 B) plus ZeRO-1's whole gradients (4e9 B)
    assert _zero12(big, 1, world=1, precision=None).buffers == Split(0, 6_000_000_000)


def test_zero12_nothing_trainable_no_buffers():
    frozen = [Decision(d.param, False, "x") for d in _small()]
    assert _zero12(frozen, 2).buffers == Split() and _zero12(frozen, 1).buffers == Split()


def test_zero12_llama3_8b_half_frozen_on_8_ranks():
    plan = _zero12(llama3_8b(), 2, world=8)  # q = 4,015,132,672 / 8 = 501,891,584 partition elements
    # rank 6 [3,011,349,504, 3,513,241,088) holds whole layers.29.down (16,509,952 elements before it) and
    # lm_head (501,891,584 after it): 1,036,803,072 B of bf16 gradients outside its partition
    overhang = 2 * (16_509_952 + 501_891_584)
    assert plan.buffers == Split(0, 1_000_000_000 + overhang)  # over the step's fp32 partition, 4q = 2,007,566,336
    assert (
        plan.model_states
        == mp.memory_plan(llama3_8b(), plan_options("zero2", 8, "adamw", None, "bf16-mixed")).model_states
    )  # the plain zero2 formula's figures


def test_zero12_overhang_at_a_world_size_past_the_elements_takes_no_time():
    """W = 10**12 over two tensors: the flat group is padded to 2W, so q = 2 elements per rank; the
    each tensor spans 5 ranks, and each of those holds all of it but its own 2 elements."""
    decisions = [Decision(_rec("a.weight", (10,)), True, None), Decision(_rec("b.weight", (10, 1)), True, None)]
    options = plan_options("deepspeed-zero2", 10**12, "adamw", None, None)
    assert ds.zero12_phases(decisions, options).overhang == (10 - 2) * 4
