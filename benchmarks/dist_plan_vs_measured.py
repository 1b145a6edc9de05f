#!/usr/bin/env python
"""The memory plan against the engine: `freezekit verify --ddp 2` and `--fsdp 2` on three small models,
the plan's bytes per rank beside the bytes each rank measured (local tensors after the last step).

    python benchmarks/dist_plan_vs_measured.py              # 2 ranks, gloo on 127.0.0.1, CPU
    python benchmarks/dist_plan_vs_measured.py --json out.json

Each run goes through the CLI (`python -m freezekit verify ... --format json`), so the figures are
the ones a user sees. The models live in tests/distributed/dist_models.py: a small CNN (first block frozen), a
small transformer (embedding and two of its four blocks frozen), and a model with a trainable
parameter the forward pass never uses (DDP must fail on it with exit 10; its measurement is from
the step before DDP raised). "ratio" is measured / planned; the plan used for the last model is the
one given the parameters found without a gradient (they get no gradient and no optimizer state).
The plans are the engine presets (torch-ddp, torch-fsdp2: docs/memory.md). Measured is the largest
rank (the spread over ranks in brackets when they differ: FSDP2 allocates padded chunks of
ceil(dim0 / W) rows for parameters and gradients on every rank, but optimizer states only for the
rank's own rows, so rank 0 holds the most); the deviation is |largest - plan| / plan, the largest of
the parts. "buffers": DDP's gradient buckets, planned and as DDP's logging data reports them; FSDP2's
unsharded units are transient and not measured. "padding": torch-fsdp2's padding per rank.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = "tests/distributed/dist_models.py"
CASES = [  # label, factory, freeze patterns, input shape
    ("small CNN, first block frozen", "build_cnn", ["block1"], "3,8,8"),
    ("transformer, embedding + 2 of 4 blocks frozen", "build_lm", ["embed", "layers.0", "layers.1"], "8"),
    ("unused trainable parameter", "build_unused", ["stem"], "6"),
]
PARTS = (("params", "params"), ("grads", "grads"), ("optimizer", "optimizer"))


def run(factory: str, patterns: list[str], shape: str, engine: str, ranks: int, optimizer: str) -> tuple[int, dict]:
    cmd = [sys.executable, "-m", "freezekit", "verify", f"{MODELS}:{factory}", "--input-shape", shape,
           f"--{engine}", str(ranks), "--optimizer", optimizer, "--steps", "2", "--format", "json"]
    for p in patterns:
        cmd += ["-p", p]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if not done.stdout.strip():
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.returncode, json.loads(done.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--optimizer", default="adamw")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    rows = []
    print(f"| model | engine ({args.ranks} ranks, {args.optimizer}) | exit | params B/rank: plan / measured | "
          "grads | optimizer state | buffers | padding | largest deviation |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, factory, patterns, shape in CASES:
        for engine in ("ddp", "fsdp"):
            code, doc = run(factory, patterns, shape, engine, args.ranks, args.optimizer)
            plan = doc["memory_expected"]["per_rank"]
            cells, worst = [], 0.0
            for part, key in PARTS:
                got = [m[key]["total"] for m in doc["measured"]]
                largest = max(got)
                worst = max(worst, abs(largest - plan[part]) / plan[part] if plan[part] else float(largest != 0))
                spread = f" ({min(got):,}..{max(got):,})" if min(got) != max(got) else ""
                cells.append(f"{plan[part]:,} / {largest:,}{spread}")
                rows.append({"model": label, "engine": engine, "exit": code, "part": part, "planned": plan[part],
                             "measured": got})
            buckets = [m["buckets"] for m in doc["measured"] if m["buckets"] is not None]
            if buckets:
                worst = max(worst, abs(max(buckets) - plan["buffers"]) / plan["buffers"])
            cells.append(f"{plan['buffers']:,} / {max(buckets):,}" if buckets else f"{plan['buffers']:,} / not measured")
            cells.append(f"{doc['memory_expected'].get('padding', 0) or 0:,}")
            name = "DDP" if engine == "ddp" else "FSDP2"
            print(f"| {label} | {name} | {code} | {' | '.join(cells)} | {worst:.2%} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
