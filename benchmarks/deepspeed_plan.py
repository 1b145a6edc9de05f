#!/usr/bin/env python
"""The bf16 memory plan against DeepSpeed itself: ZeRO-1, ZeRO-2 and ZeRO-3 with
`"bf16": {"enabled": true}` and torch's AdamW, at DeepSpeed's defaults otherwise, 2 CPU ranks under
torchrun (gloo; DeepSpeed picks its CPU accelerator), on the issue's three models with part of each
frozen: a small CNN (first block frozen), a transformer (embedding and 2 of 4 blocks frozen) and a
LoRA model (peft's LoRA r8 on q_proj/v_proj of a tiny Llama: the whole base frozen); and 24 linear
layers (4 frozen) with ZeRO-3's stage3_* thresholds at 1/50 of their defaults, where the prefetch
and the reuse distance decide what stays gathered (at the defaults they only do on models of
hundreds of millions of parameters).

    python benchmarks/deepspeed_plan.py          # one line per stage and model; exit 1 if over 1%
    python benchmarks/deepspeed_plan.py 3        # ZeRO-3 only
    python benchmarks/deepspeed_plan.py 3 --ranks 1   # one rank: nothing gathered, no copy kept whole

Measured per rank after two steps: the module's bf16 parameters (under ZeRO-3: every parameter's
partition plus the small ones DeepSpeed keeps whole on every rank), the gradient partition, the fp32
master partition and the optimizer's states; under ZeRO-3 also the engine's buffers: its reduce
bucket and the most parameter bytes gathered at once during forward and backward (a hook on its
fetch; gathers still in flight counted by their buffer), frozen ones apart. Under ZeRO-1/2 the engine's
buffers phase by phase, the most over the ranks: the reduce bucket (its ipg buffers when a bucket is
reduced), the overhang (the storage behind the gradient partition less the partition: whole gradients
of parameters across its edges), ZeRO-1's gradients still whole when it reduces them after backward,
and the float32 gradient partition the optimizer steps on; and the flat group's padding (not planned).
Only the model states decide the exit code; the engine buffers' % off is printed (each ZeRO-1/2 part
as = or !=). Planned: `--strategy deepspeed-zero1|2|3 --precision bf16-mixed`. DeepSpeed is not a
dependency of freezekit: when it is missing or cannot start, the script says so and exits 0 (skipped).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "cnn": "small CNN, first block frozen",
    "transformer": "transformer, embedding + 2 of 4 blocks frozen",
    "lora": "LoRA r8 (q, v) on a tiny Llama, base frozen",
    "deep": "24 Linear(1024) layers, 4 frozen",
}
FROZEN = {"cnn": ("block1.",), "transformer": ("embed.", "layers.0.", "layers.1."), "deep": tuple(f"{i}." for i in range(4))}
# stage3_param_persistence_threshold, _prefetch_bucket_size, _max_live_parameters, _max_reuse_distance: the
# defaults (1e5, 5e7, 1e9, 1e9) only bite on models too big for this machine, so "deep" checks the replay of
# DeepSpeed's gathers (freezekit/distributed/zero3_gather.py) at 1/50 of them
SCALED = (2_000, 1_000_000, 20_000_000, 20_000_000)
VOCAB = 1001
TIMEOUT_S = 300  # a rank that hangs (a collective one rank never joins) fails the case, not the run


def build_cnn():
    """Three conv blocks and a head (187,236 parameters; conv3's 147,447 weights, odd, are padded)."""
    from torch import nn

    class Cnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block1 = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
            self.block2 = nn.Sequential(nn.Conv2d(32, 127, 3, padding=1), nn.BatchNorm2d(127), nn.ReLU())
            self.block3 = nn.Sequential(nn.Conv2d(127, 129, 3, padding=1), nn.ReLU())
            self.head = nn.Linear(129, 10)

        def forward(self, x):
            return self.head(self.block3(self.block2(self.block1(x))).mean(dim=(2, 3)))

    return Cnn()


def build_transformer():
    """An embedding, four encoder layers (feed-forward 1024 wide) and a head, token ids in."""
    from torch import nn

    class Lm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 128)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(128, 4, 1024, dropout=0.0, batch_first=True) for _ in range(4))
            self.head = nn.Linear(128, VOCAB)

        def forward(self, x):
            h = self.embed(x)
            for layer in self.layers:
                h = layer(h)
            return self.head(h)

    return Lm()


def build_lora():
    """peft's LoRA r8 on q_proj and v_proj of a two-layer Llama (hidden 128, MLP 800), built offline."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=VOCAB, hidden_size=128, intermediate_size=800, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    torch.manual_seed(0)
    base = LlamaForCausalLM(config)
    return get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))


def build_deep():
    """24 Linear(1024, 1024) layers (25.2M parameters): the prefetch and the reuse distance at work."""
    from torch import nn

    return nn.Sequential(*(nn.Linear(1024, 1024) for _ in range(24)))


def build(case: str):
    model = {"cnn": build_cnn, "transformer": build_transformer, "lora": build_lora, "deep": build_deep}[case]()
    if case in FROZEN:
        for name, p in model.named_parameters():
            p.requires_grad_(not name.startswith(FROZEN[case]))
    return model


def batch(case: str):
    import torch

    if case == "cnn":
        return torch.randn(2, 3, 8, 8, dtype=torch.bfloat16)
    if case == "deep":
        return torch.randn(2, 1024, dtype=torch.bfloat16)
    return torch.randint(0, VOCAB, (2, 8))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nbytes(t) -> int:
    return t.numel() * t.element_size()


def _storages(tensors, besides=frozenset()) -> int:
    """Bytes of the distinct storages behind these tensors (gathers share one flat buffer), but for
    those in `besides` (on one rank a gathered parameter is a view of its partition)."""
    seen = {}
    for t in tensors:
        if t.numel() and t.untyped_storage().data_ptr() not in besides:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def _partition_storages(params) -> frozenset:
    return frozenset(p.ds_tensor.untyped_storage().data_ptr() for p in params)


def _in_flight(registry) -> list:
    """(buffer, parameters) of the gathers still in flight: a coalesced gather sets its parameters'
    data (a copy) only on wait, but its flat buffer is there from the start. Once waited, the buffer
    lingers until the last of its parameters is fetched: not counted (not a parameter any more)."""
    out = []
    for handle in {id(h): h for h in registry.values()}.values():
        for one in getattr(handle, "handles", [handle]):  # MultipleAllGatherHandles
            if not getattr(one, "complete", True):  # AllGatherCoalescedHandle
                out += [(t, one.params) for t in one.partitions]
    return out


def _watch_gathers(engine, peak: dict) -> None:
    """Record the most bytes of non-persistent parameters gathered at once, after each fetch (the
    current module's parameters and the prefetched ones, in flight or not), frozen and trainable apart."""
    from torch.distributed import get_world_size as dist_world

    coordinator = engine.optimizer.parameter_offload.get_param_coordinator()
    fetch, registry = coordinator.fetch_sub_module, engine.module.ds_inflight_param_registry
    params = [p for p in engine.module.parameters() if not p.ds_persist]
    partitions = _partition_storages(engine.module.parameters())

    def watched(module, forward):
        fetch(module, forward)
        held = {}  # storage -> (bytes, frozen bytes)
        for p in params:
            if p.data.numel() and p.data.untyped_storage().data_ptr() not in partitions:
                storage = p.data.untyped_storage()
                held[storage.data_ptr()] = (storage.nbytes(), 0 if p.requires_grad else storage.nbytes())
        for t, owners in _in_flight(registry):  # one flat buffer for several parameters: split by theirs
            sizes = [q.ds_tensor.ds_numel * dist_world() * t.element_size() for q in owners]
            frozen = sum(n for n, q in zip(sizes, owners) if not q.requires_grad)
            held[t.untyped_storage().data_ptr()] = (t.untyped_storage().nbytes(), frozen)
        total = sum(n for n, _ in held.values())
        if total > peak.get("gathered", 0):
            peak.update(gathered=total, frozen=sum(f for _, f in held.values()))

    coordinator.fetch_sub_module = watched


def _watch_zero12(zero, seen: dict) -> None:
    """Record DeepSpeed ZeRO-1/2's own buffers as the measured step allocates them: the reduce bucket
    (its ipg buffers, when a bucket is reduced), the gradients still whole when ZeRO-1 reduces them
    after backward, and the fp32 gradient partition the optimizer step is given."""
    reduce_ipg, step_group, reduce_after = zero.reduce_ipg_grads, zero._optimizer_step, zero.reduce_gradients

    def most(key: str, n: int) -> None:
        seen[key] = max(seen.get(key, 0), n)

    def reduce_bucket(*args, **kwargs):
        most("bucket", _storages(t for b in zero.ipg_buckets.values() for t in b.buffer))
        return reduce_ipg(*args, **kwargs)

    def reduce_gradients(*args, **kwargs):  # ZeRO-1 only: after backward, every gradient still whole
        buckets = frozenset(t.untyped_storage().data_ptr() for b in zero.ipg_buckets.values() for t in b.buffer)
        most("unreduced", _storages((p.grad for g in zero.bit16_groups for p in g if p.grad is not None), buckets))
        return reduce_after(*args, **kwargs)

    def optimizer_step(i):
        most("fp32_grad", _nbytes(zero.single_partition_of_fp32_groups[i].grad))
        return step_group(i)

    zero.reduce_ipg_grads, zero._optimizer_step, zero.reduce_gradients = reduce_bucket, optimizer_step, reduce_gradients


def _measure_zero12(engine, step) -> dict[str, int]:
    zero, seen = engine.optimizer, {}
    _watch_zero12(zero, seen)
    step(backward_only=True)
    groups = [t for group in zero.averaged_gradients.values() for t in group if t is not None]
    grads = sum(_nbytes(t) for t in groups)
    engine.step()
    master = sum(_nbytes(t) for t in zero.single_partition_of_fp32_groups)
    module = sum(_nbytes(p) for p in engine.module.parameters())
    flat = sum(_nbytes(t) for t in zero.bit16_groups_flat)
    trainable = sum(_nbytes(p) for g in zero.bit16_groups for p in g)
    overhang = _storages(groups) - grads  # whole gradients of the parameters across the partition's edges
    backward = seen.get("bucket", 0) + seen.get("unreduced", 0) + overhang
    assert _storages(p for g in zero.bit16_groups for p in g) == flat, "module parameters are not views of the flat group"
    return {"params": module, "grads": grads, "optimizer": master + _state_bytes(zero.optimizer),
            "buffers": max(backward, seen.get("fp32_grad", 0)), "buffers_frozen": 0,
            "overhang": overhang, "flat_padding": flat - trainable, **seen}


def _state_bytes(optimizer) -> int:
    import torch

    return sum(_nbytes(v) for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v))


def _measure_zero3(engine, step, peak) -> dict[str, int]:
    zero = engine.optimizer
    step(backward_only=False)
    module_params = list(engine.module.parameters())
    return {"params": sum(_nbytes(p.ds_tensor) for p in module_params)
            + _storages((p.data for p in module_params if p.ds_persist), _partition_storages(module_params)),
            "grads": _nbytes(zero.grad_partitions_flat_buffer),
            "optimizer": sum(_nbytes(t) for t in zero.fp32_partitioned_groups_flat) + _state_bytes(zero.optimizer),
            "buffers": sum(_nbytes(b.buffer) for b in zero.ipg_buckets.values() if b.buffer is not None)
            + peak.get("gathered", 0), "buffers_frozen": peak.get("frozen", 0)}


def rank(stage: int, case: str) -> None:
    """One rank under torchrun: two steps, print the measured bytes (rank 0)."""
    import deepspeed
    import torch

    torch.manual_seed(0)
    model = build(case).bfloat16()  # as the engine casts it; ZeRO-3 leaves BatchNorm's buffers in float32
    config = {"train_micro_batch_size_per_gpu": 2, "bf16": {"enabled": True},
              "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "torch_adam": True}},
              "zero_optimization": {"stage": stage}}
    if case == "deep":
        names = ("param_persistence_threshold", "prefetch_bucket_size", "max_live_parameters", "max_reuse_distance")
        config["zero_optimization"].update({f"stage3_{k}": v for k, v in zip(names, SCALED)})
    engine, *_ = deepspeed.initialize(model=model, config=config,
                                      model_parameters=[p for p in model.parameters() if p.requires_grad])
    peak: dict = {}
    if stage == 3:
        _watch_gathers(engine, peak)

    def step(backward_only: bool) -> None:
        out = engine(batch(case))
        engine.backward(getattr(out, "logits", out).float().mean())
        if not backward_only:
            engine.step()

    step(backward_only=False)  # the first step records ZeRO-3's trace; the second prefetches by it
    out = _measure_zero3(engine, step, peak) if stage == 3 else _measure_zero12(engine, step)
    if stage < 3:  # ZeRO-1/2: the most of each over the ranks (their overhangs differ)
        every = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(every, out)
        out = {k: max(r[k] for r in every) for k in out}
    if os.environ.get("RANK") == "0":
        print("MEASURED " + json.dumps(out), flush=True)


def planned(stage: int, case: str, ranks: int = 2) -> dict[str, int]:
    sys.path.insert(0, str(ROOT))
    from freezekit.core.plan import Decision
    from freezekit.core.records import ParamRecord
    from freezekit.distributed.deepspeed_plan import zero3_plan, zero12_phases
    from freezekit.distributed.memory_plan import plan_options
    from freezekit.distributed.plan_of import plan_of
    from freezekit.distributed.zero3_gather import Limits

    decisions = [Decision(ParamRecord(n, tuple(p.shape), "float32", n.rpartition(".")[0], ""), p.requires_grad, "x")
                 for n, p in build(case).named_parameters()]
    options = plan_options(f"deepspeed-zero{stage}", ranks, "adamw", None, "bf16-mixed")
    deep = case == "deep" and stage == 3
    plan = zero3_plan(decisions, options, None, Limits(*SCALED)) if deep else plan_of(decisions, options)
    out = {"params": plan.params.total, "grads": plan.grads.total, "optimizer": plan.optimizer_state.total}
    if plan.buffers is not None:
        out.update(buffers=plan.buffers.total, buffers_frozen=plan.buffers.frozen)
    if stage < 3:  # the buffers phase by phase, as measured
        phases = zero12_phases(decisions, options)
        out.update(bucket=phases.bucket, overhang=phases.overhang, fp32_grad=phases.step)
        out.update({"unreduced": phases.whole_grads} if stage == 1 else {})
    return out


def _run(stage: int, case: str, ranks: int) -> dict[str, int] | str:
    """The measured bytes of rank 0, or why there are none."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--master-port", str(_free_port()),
           __file__, "--rank", str(stage), case]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return f"no answer in {TIMEOUT_S} s"
    lines = [x for x in done.stdout.splitlines() if x.startswith("MEASURED ")]
    if done.returncode or not lines:
        return f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    return json.loads(lines[0][9:])


def main(stages: tuple[int, ...], ranks: int = 2) -> int:
    try:
        import deepspeed  # noqa: F401
    except ImportError as exc:
        print(f"skipped: DeepSpeed cannot be imported ({exc})")
        return 0
    worst = 0.0
    for stage in stages:
        for case, label in CASES.items():
            measured = _run(stage, case, ranks)
            if isinstance(measured, str):
                print(f"skipped: DeepSpeed ZeRO-{stage} did not run on {label} ({measured})")
                return 0
            plan = planned(stage, case, ranks)
            states_m, states_p = (sum(d[k] for k in ("params", "grads", "optimizer")) for d in (measured, plan))
            off = abs(states_m - states_p) / states_p
            worst = max(worst, off)
            line = (f"ZeRO-{stage} {label}: measured {measured}, planned {plan}; model states {states_m:,} B "
                    f"measured, {states_p:,} B planned, {off:.3%} off")
            if "buffers" in plan:
                line += f"; engine buffers {abs(measured['buffers'] - plan['buffers']) / plan['buffers']:.3%} off"
            parts = [k for k in ("bucket", "overhang", "unreduced", "fp32_grad") if k in plan]
            if parts:  # ZeRO-1/2: the bucket outweighs the rest, so each part is compared too
                line += "; " + ", ".join(f"{k} {'=' if plan[k] == measured.get(k) else '!='}" for k in parts)
            print(line)
    return 0 if worst <= 0.01 else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rank":
        rank(int(sys.argv[2]), sys.argv[3])
    else:
        args = sys.argv[1:]
        ranks = int(args.pop(args.index("--ranks") + 1)) if "--ranks" in args else 2
        sys.exit(main(tuple(int(s) for s in args if s != "--ranks") or (1, 2, 3), ranks))
