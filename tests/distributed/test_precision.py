"""Precision modes and quantized bases in the memory plan, on hand-built records (pure: no torch)."""

from __future__ import annotations

import pytest

from freezekit.core.plan import Decision
from freezekit.core.records import ParamRecord
from freezekit.distributed.memory_plan import Split, plan_options
from freezekit.distributed.plan_of import plan_of
from freezekit.distributed.precision import PRECISIONS, Precision, stored_bytes
from freezekit.errors import UsageError

GIB = 2**30


def llama3_8b(trainable_from: int = 16) -> list[Decision]:
    """Llama-3-8B's 291 tensors; the embedding and decoder layers below `trainable_from` frozen."""
    h, vocab, inter, kv = 4096, 128256, 14336, 1024
    out = [
        Decision(ParamRecord("embed_tokens.weight", (vocab, h), "bfloat16", "embed_tokens", "Embedding"), False, "x")
    ]
    for i in range(32):
        shapes = {
            "q": (h, h),
            "k": (kv, h),
            "v": (kv, h),
            "o": (h, h),
            "gate": (inter, h),
            "up": (inter, h),
            "down": (h, inter),
            "input_norm": (h,),
            "post_norm": (h,),
        }
        out += [
            Decision(
                ParamRecord(f"layers.{i}.{n}.weight", s, "bfloat16", f"layers.{i}.{n}", "Linear"),
                i >= trainable_from,
                "x",
            )
            for n, s in shapes.items()
        ]
    out.append(Decision(ParamRecord("norm.weight", (h,), "bfloat16", "norm", "LlamaRMSNorm"), True, "x"))
    out.append(Decision(ParamRecord("lm_head.weight", (vocab, h), "bfloat16", "lm_head", "Linear"), True, "x"))
    return out


def plan(decisions, strategy, precision=None, param_dtype=None, optimizer="adamw", world=8):
    return plan_of(decisions, plan_options(strategy, world, optimizer, param_dtype, precision))


def test_llama3_8b_half_frozen_bf16_mixed_is_the_issue_s_measured_rule():
    d = llama3_8b()
    n = sum(x.param.numel for x in d)
    p_t = sum(x.param.numel for x in d if x.trainable)
    assert (n, p_t) == (8_030_261_248, 4_015_132_672)
    zero2, zero3 = plan(d, "zero2", "bf16-mixed"), plan(d, "zero3", "bf16-mixed")
    assert zero2.total.total == 2 * n + (2 + 12) * p_t // 8  # 2N + (2 + K) P_t / W
    assert zero3.total.total == (2 * n) // 8 + (2 * p_t) // 8 + (12 * p_t) // 8
    assert round(zero2.total.total / GIB, 2) == 21.50 and round(zero3.total.total / GIB, 2) == 8.41
    # the old reading of --param-dtype bf16 (states in bf16, no master copy): 17.76 GiB, kept as the default
    assert round(plan(d, "zero2", param_dtype="bf16").total.total / GIB, 2) == 17.76


@pytest.mark.parametrize("optimizer, k", [("adamw", 12), ("adam", 12), ("sgd-momentum", 8), ("sgd", 4)])
def test_mixed_k_per_optimizer(optimizer, k):
    d = [
        Decision(ParamRecord("f", (1000,), "float32", "", "Linear"), False, "x"),
        Decision(ParamRecord("t", (600,), "float32", "", "Linear"), True, "x"),
    ]
    p = plan(d, "ddp", "bf16-mixed", optimizer=optimizer, world=1)
    assert (p.params, p.grads, p.optimizer_state) == (Split(2000, 1200), Split(0, 1200), Split(0, k * 600))
    fp32_storage = plan(d, "ddp", "bf16-mixed", param_dtype="fp32", optimizer=optimizer, world=1)  # its own master
    assert (fp32_storage.params, fp32_storage.optimizer_state) == (Split(4000, 2400), Split(0, (k - 4) * 600))


@pytest.mark.parametrize(
    "precision, params, grads, states",
    [
        ("fp32", Split(4000, 2400), Split(0, 2400), Split(0, 4804)),  # 2 states in fp32 + one step counter
        ("bf16", Split(2000, 1200), Split(0, 1200), Split(0, 2404)),
        ("fp16", Split(2000, 1200), Split(0, 1200), Split(0, 2404)),
        ("bf16-mixed", Split(2000, 1200), Split(0, 1200), Split(0, 7200)),
        ("fp16-mixed", Split(2000, 1200), Split(0, 1200), Split(0, 7200)),
    ],
)
def test_every_precision(precision, params, grads, states):
    d = [
        Decision(ParamRecord("f", (1000,), "bfloat16", "", "Linear"), False, "x"),
        Decision(ParamRecord("t", (600,), "bfloat16", "", "Linear"), True, "x"),
    ]
    p = plan(d, "ddp", precision, world=1)
    assert (p.params, p.grads, p.optimizer_state) == (params, grads, states)
    assert p.to_dict()["precision"] == precision


def test_every_precision_has_a_case():
    assert {c[0] for c in test_every_precision.pytestmark[0].args[1]} == set(PRECISIONS)


def test_nf4_base_counts_its_packed_bytes_and_absmax():
    base = ParamRecord("w", (4096, 4096), "nf4", "", "Linear4bit")
    assert stored_bytes(base) == 4096 * 4096 // 2 + 4096 * 4096 // 64 * 4  # 8 MiB packed + 1 MiB absmax
    lora = ParamRecord("lora_A", (16, 4096), "float32", "", "Linear")
    d = [Decision(base, False, "x"), Decision(lora, True, "x")]
    for precision in (None, "bf16-mixed", "fp32"):
        assert plan(d, "ddp", precision, world=1).params.frozen == 9_437_184
    assert plan(d, "zero3", "bf16-mixed", world=8).params.frozen == 9_437_184 // 8


def test_bad_precision_names_the_flag():
    with pytest.raises(UsageError, match="--precision 'tf32' is not one of fp32, bf16, fp16, bf16-mixed"):
        plan_options(precision="tf32")
    assert Precision("bf16-mixed").mixed and not Precision("bf16").mixed
