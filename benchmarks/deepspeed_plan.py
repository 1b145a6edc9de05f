#!/usr/bin/env python
"""The bf16 memory plan against DeepSpeed itself: ZeRO-1 and ZeRO-2 with `"bf16": {"enabled": true}`
and torch's AdamW, 2 CPU ranks under torchrun (gloo; DeepSpeed picks its CPU accelerator), on two
models of tests/distributed/dist_models.py with part of each frozen.

    python benchmarks/deepspeed_plan.py          # prints one line per model and stage; exit 1 if over 1%

Measured per rank: the module's parameters, the gradient partition after backward (before the step
frees it), the fp32 master partition and the optimizer's states after the step. Planned:
`--strategy deepspeed-zero1|2 --precision bf16-mixed`. DeepSpeed is not a dependency of freezekit:
when it is missing or cannot start, the script says so and exits 0 (skipped).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [("MLP blocks, embedding + 2 of 4 blocks frozen", "build_mlp", ("emb", "blocks.0", "blocks.1"), (2, 8)),
         ("transformer, embedding + 2 of 4 blocks frozen", "build_lm", ("embed", "layers.0", "layers.1"), (2, 8))]


def build_mlp():
    """An embedding and four residual MLP blocks (73,354 parameters); floats in, as verify feeds them."""
    from torch import nn

    class Mlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(100, 64)
            self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64))
                                        for _ in range(4))
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            h = self.emb((x.abs() * 1000).long() % 100)
            for block in self.blocks:
                h = h + block(h)
            return self.head(h)

    return Mlp()


def _build(factory: str):
    sys.path.insert(0, str(ROOT))
    from tests.distributed import dist_models

    return build_mlp() if factory == "build_mlp" else getattr(dist_models, factory)()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nbytes(t) -> int:
    return t.numel() * t.element_size()


def rank(stage: int, factory: str, frozen: tuple[str, ...], shape: tuple[int, ...]) -> None:
    """One rank under torchrun: train one step, print the measured bytes (rank 0)."""
    import deepspeed
    import torch

    torch.manual_seed(0)
    model = _build(factory)
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(frozen))
    config = {"train_micro_batch_size_per_gpu": shape[0], "bf16": {"enabled": True},
              "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "torch_adam": True}},
              "zero_optimization": {"stage": stage}}
    engine, *_ = deepspeed.initialize(model=model, config=config,
                                      model_parameters=[p for p in model.parameters() if p.requires_grad])
    engine.backward(engine(torch.randn(*shape, dtype=torch.bfloat16)).float().mean())
    zero = engine.optimizer
    grads = sum(_nbytes(t) for group in zero.averaged_gradients.values() for t in group if t is not None)
    engine.step()
    out = {"params": sum(_nbytes(p) for p in engine.module.parameters()), "grads": grads,
           "optimizer": sum(_nbytes(t) for t in zero.single_partition_of_fp32_groups)
           + sum(_nbytes(v) for s in zero.optimizer.state.values() for v in s.values() if torch.is_tensor(v))}
    if os.environ.get("RANK") == "0":
        print("MEASURED " + json.dumps(out), flush=True)


def planned(stage: int, factory: str, frozen: tuple[str, ...]) -> dict[str, int]:
    sys.path.insert(0, str(ROOT))
    from freezekit.core.plan import Decision
    from freezekit.core.records import ParamRecord
    from freezekit.distributed.memory_plan import memory_plan, plan_options

    model = _build(factory)
    decisions = [Decision(ParamRecord(n, tuple(p.shape), "float32", n.rpartition(".")[0], ""),
                          not n.startswith(frozen), "x") for n, p in model.named_parameters()]
    plan = memory_plan(decisions, plan_options(f"deepspeed-zero{stage}", 2, "adamw", None, "bf16-mixed"))
    return {"params": plan.params.total, "grads": plan.grads.total, "optimizer": plan.optimizer_state.total}


def main() -> int:
    try:
        import deepspeed  # noqa: F401
    except ImportError as exc:
        print(f"skipped: DeepSpeed cannot be imported ({exc})")
        return 0
    worst = 0.0
    for stage in (1, 2):
        for label, factory, frozen, shape in CASES:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
                   __file__, "--rank", str(stage), factory, ",".join(frozen), ",".join(map(str, shape))]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
            lines = [x for x in done.stdout.splitlines() if x.startswith("MEASURED ")]
            if done.returncode or not lines:
                print(f"skipped: DeepSpeed ZeRO-{stage} did not start ({done.stderr.strip().splitlines()[-1:]})")
                return 0
            measured, plan = json.loads(lines[0][9:]), planned(stage, factory, frozen)
            total_m, total_p = sum(measured.values()), sum(plan.values())
            off = abs(total_m - total_p) / total_p
            worst = max(worst, off)
            print(f"ZeRO-{stage} {label}: measured {measured} = {total_m:,} B, "
                  f"planned {plan} = {total_p:,} B, {off:.3%} off")
    return 0 if worst <= 0.01 else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rank":
        rank(int(sys.argv[2]), sys.argv[3], tuple(sys.argv[4].split(",")), tuple(map(int, sys.argv[5].split(","))))
    else:
        sys.exit(main())
