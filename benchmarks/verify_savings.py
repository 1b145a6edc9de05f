#!/usr/bin/env python
"""What freezing saves in a training step, measured through `freezekit verify --compare`.

For each case (model, batch, rules) it runs `python -m freezekit verify ... --compare --format json`:
one training step setting (forward + backward + SGD step with momentum, median of --steps after
--warmup) with everything trainable, then with the freeze, and prints the step times, peak
memories and their ratios. These are the cases of the plain-PyTorch baseline in the verify issue
(VGG16 features frozen, ResNet-50 frozen up to layer3, ViT-B/16 encoder frozen).

    python benchmarks/verify_savings.py --device cuda                       # the issue's batches, 15 + 5 steps
    python benchmarks/verify_savings.py --device cuda --baseline local/gpu_freeze_baseline.json
    python benchmarks/verify_savings.py --device cpu                        # small batches, 3 + 1 steps

--baseline reads the JSON the plain-PyTorch reference script writes, run in the same session on
the same card, and prints freezekit's ratios beside it (the target: within 10%).
On CPU, peak memory is the peak resident-set growth during the steps (see freezekit verify).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, from any folder


@dataclass(frozen=True)
class Case:
    arch: str
    label: str  # the baseline's name for the freeze setting
    rules: tuple[str, ...]
    gpu_batch: int
    cpu_batch: int


CASES = (
    Case("vgg16", "features", ("-p", "features.*"), 64, 4),
    Case("resnet50", "up_to_layer3", ("-p", "through:layer3"), 128, 8),
    Case("vit_b_16", "encoder", ("-p", "conv_proj", "-p", "class_token", "-p", "encoder"), 64, 4),
)


def run_case(case: Case, device: str, dtype: str, steps: int, warmup: int, batch: int) -> dict:
    argv = [sys.executable, "-m", "freezekit", "verify", case.arch, *case.rules, "--device", device,
            "--batch-size", str(batch), "--dtype", dtype, "--steps", str(steps), "--warmup", str(warmup),
            "--compare", "--format", "json"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=None)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": f"exit {done.returncode}: {lines[-1] if lines else ''}", "argv": argv[1:]}
    data = json.loads(done.stdout)
    return {"argv": ["freezekit", *argv[3:]], "all_ms": data["all_trainable_step"]["step_ms"],
            "all_mib": data["all_trainable_step"]["peak_mib"], "frozen_ms": data["step"]["step_ms"],
            "frozen_mib": data["step"]["peak_mib"], "speedup": data["speedup"], "memory_ratio": data["memory_ratio"],
            "checks_ok": data["ok"], "memory_measure": data["step"]["memory_measure"]}


def baseline_ratios(path: str) -> dict[tuple[str, str, bool], tuple[float, float]]:
    """(arch, setting, bf16) -> (speedup, memory ratio) from the reference script's JSON."""
    rows = json.loads(Path(path).read_text())["results"]
    base = {(r["arch"], r["amp_bf16"]): r for r in rows if r["frozen"] == "none"}
    out = {}
    for r in rows:
        b = base.get((r["arch"], r["amp_bf16"]))
        if b and r["frozen"] != "none":
            out[(r["arch"], r["frozen"], r["amp_bf16"])] = (b["step_ms"] / r["step_ms"], r["peak_mib"] / b["peak_mib"])
    return out


def machine(device: str) -> str:
    import torch
    from report import cpu_name

    card = (torch.cuda.get_device_name() if device.startswith("cuda")
            else f"{cpu_name()}, {torch.get_num_threads()} threads")
    return f"{card}; Python {platform.python_version()}, torch {torch.__version__}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtypes", default="float32", help="comma list: float32,bfloat16")
    p.add_argument("--steps", type=int, help="timed steps (default 15 on CUDA, 3 on CPU)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 5 on CUDA, 1 on CPU)")
    p.add_argument("--baseline", help="JSON written by the plain-PyTorch reference script")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()
    gpu = args.device.startswith("cuda")
    steps = args.steps or (15 if gpu else 3)
    warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    base = baseline_ratios(args.baseline) if args.baseline else {}
    results = []
    print(f"Machine: {machine(args.device)}; median of {steps} steps after {warmup} warm-ups\n")
    print("| model, batch | dtype | all trainable | frozen | step time | peak memory | checks |"
          + (" baseline speedup / memory |" if base else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if base else ""))
    for dtype in args.dtypes.split(","):
        for case in CASES:
            batch = case.gpu_batch if gpu else case.cpu_batch
            r = run_case(case, args.device, dtype, steps, warmup, batch)
            results.append({"arch": case.arch, "frozen": case.label, "batch": batch, "dtype": dtype, **r})
            if "error" in r:
                print(f"| {case.arch}, {batch} | {dtype} | failed: {r['error']} |")
                continue
            memory = f"({r['memory_ratio']:.2f}x)" if r["memory_ratio"] is not None else "(no growth measured)"
            line = (f"| {case.arch}, {batch} | {dtype} | {r['all_ms']:.1f} ms, {r['all_mib']:,.0f} MiB "
                    f"| {case.label} | {r['frozen_ms']:.1f} ms ({r['speedup']:.2f}x faster) "
                    f"| {r['frozen_mib']:,.0f} MiB {memory} | {'pass' if r['checks_ok'] else 'FAIL'} |")
            ref = base.get((case.arch, case.label, dtype == "bfloat16"))
            if base:
                mem_vs = f"{r['memory_ratio'] / ref[1]:.2f}" if ref and r["memory_ratio"] is not None else "-"
                line += f" {ref[0]:.2f}x / {ref[1]:.2f}x ({r['speedup'] / ref[0]:.2f}, {mem_vs}) |" if ref else " - |"
            print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(args.device), "steps": steps, "warmup": warmup,
                                               "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
