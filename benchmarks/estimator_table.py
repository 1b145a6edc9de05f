#!/usr/bin/env python
"""Llama-3-8B on 8 ranks, AdamW, model states per rank: freezekit's plan beside DeepSpeed's and
accelerate's estimators and the ZeRO paper's 16 bytes per parameter (docs/memory.md's table).

    python benchmarks/estimator_table.py            # a Markdown table, GiB, then the inputs each peer was given

Offline: every model is built from configs/ on the meta device.
- freezekit: `count ... --memory-plan --world-size 8 --strategy zero2|zero3 --precision bf16-mixed
  --format json`, `per_rank.total`, for the full model (hf:configs/hf/Meta-Llama-3-8B), half frozen
  (configs/llama-3-8b-freeze-first-half.yaml), LoRA r16 on q_proj and v_proj
  (hf:configs/hf/llama-3-8b-lora-r16 over that config) and QLoRA (configs/llama-3-8b-qlora.yaml: the
  same adapter over the nf4 base).
- DeepSpeed: `estimate_zero2_model_states_mem_needs` / `estimate_zero3_model_states_mem_needs` (the
  functions `estimate_zero2/3_model_states_mem_needs_all_cold` print), no offload, 8 GPUs on one node,
  per GPU; given the parameter count freezekit reports (logical, the adapters included) and the
  largest module's own parameters (its `model_to_params` rule; that function itself keys parameters by
  `data_ptr()`, which is 0 for every meta tensor, so it cannot be given a meta model).
- accelerate: `accelerate estimate-memory`'s own steps (accelerate.commands.estimate): the model
  built as `create_empty_model` builds it (AutoModel, so the bare LlamaModel without lm_head, in
  float32, under init_empty_weights), `calculate_maximum_sizes`, then "Training using Adam" =
  max(estimate_training_usage(size, dtype).values()) for float32 and float16 (mixed precision), on one
  device: it takes no world size, no freeze and no adapter. For int4 it says N/A (no training figure).
- ZeRO paper: 16 B per parameter (fp16 weights and gradients, fp32 master, momentum, variance) over 8 ranks.

DeepSpeed and accelerate are not dependencies of freezekit: a missing one leaves its columns out
(and the LoRA rows need peft, which needs accelerate).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout, installed or not
CONFIGS = ROOT / "configs"
BASE = CONFIGS / "hf" / "Meta-Llama-3-8B"
LORA = ("hf:" + str(CONFIGS / "hf" / "llama-3-8b-lora-r16"), "--base", f"hf:{BASE}")
SETUPS = {
    "full": (f"hf:{BASE}",),
    "half frozen": ("-c", str(CONFIGS / "llama-3-8b-freeze-first-half.yaml")),
    "LoRA r16 (q, v)": LORA,
    "QLoRA r16 (nf4 base)": ("-c", str(CONFIGS / "llama-3-8b-qlora.yaml")),
}
WORLD, GIB = 8, 2**30


def freezekit_plan(source: tuple[str, ...], strategy: str) -> dict:
    from freezekit.cli.app import app

    args = ["count", *source, "--no-cache", "--memory-plan", "--world-size", str(WORLD), "--strategy", strategy,
            "--precision", "bf16-mixed", "--format", "json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            app(args, standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"freezekit {' '.join(args)}: exit {exc.code}") from exc
    return json.loads(out.getvalue())


def largest_layer_params() -> int:
    """The largest module's own parameters (DeepSpeed's model_to_params rule), on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(BASE)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())


def deepspeed_estimators():
    """DeepSpeed's two estimate functions, or None when it is missing or cannot start here."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
            from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs
    except Exception as exc:  # its columns are left out
        print(f"DeepSpeed skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    return estimate_zero2_model_states_mem_needs, estimate_zero3_model_states_mem_needs


def deepspeed_gpu_bytes(estimators, total: int, largest: int) -> tuple[int, int]:
    """Per GPU, no offload, 8 GPUs on one node (the no-offload rows the *_all_cold functions print)."""
    zero2_needs, zero3_needs = estimators
    _, zero2 = zero2_needs(total, WORLD, 1, cpu_offload=False)
    _, zero3, _ = zero3_needs(total, largest, WORLD, 1, cpu_offload=False, cpu_offload_params=False, zero_init=True)
    return zero2, zero3


def accelerate_estimate() -> dict[str, float] | None:
    """accelerate estimate-memory's figures for this config, as its command computes them."""
    try:
        import torch
        from accelerate import init_empty_weights
        from accelerate.commands.estimate import estimate_training_usage
        from accelerate.utils import calculate_maximum_sizes
        from transformers import AutoConfig, AutoModel
    except Exception as exc:
        print(f"accelerate skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    with init_empty_weights():
        model = AutoModel.from_config(AutoConfig.from_pretrained(BASE), dtype=torch.float32)
    total_size, _ = calculate_maximum_sizes(model)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "bytes": total_size,
        "float32": max(estimate_training_usage(total_size, "float32").values()),
        "float16": max(estimate_training_usage(total_size, "float16").values()),
        "int4 load": total_size / 8,
    }


def main() -> int:
    try:
        import transformers  # noqa: F401 - every source here is an hf: config
    except ImportError:
        print("skipped: transformers is not installed (pip install 'freezekit[hf]')")
        return 0
    plans = {}
    for name, source in SETUPS.items():
        try:
            plans[name] = {s: freezekit_plan(source, s) for s in ("zero2", "zero3")}
        except RuntimeError as exc:  # the LoRA rows need peft
            print(f"{name} skipped: {exc}", file=sys.stderr)
    largest = largest_layer_params()
    acc = accelerate_estimate()
    header = ["Setup", "trainable", "freezekit ZeRO-2", "ZeRO-3"]
    ds = deepspeed_estimators()
    ds_rows = {n: deepspeed_gpu_bytes(ds, p["zero2"]["totals"]["total"], largest) for n, p in plans.items()} if ds else {}
    has_ds = ds is not None
    header += ["DeepSpeed ZeRO-2", "ZeRO-3"] if has_ds else []
    header += ["accelerate fp32 / fp16, 1 device"] if acc else []
    header += ["16 B/param / 8"]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for name, plan in plans.items():
        totals = plan["zero2"]["totals"]
        row = [name, f"{totals['trainable']:,}"]
        row += [f"{plan[s]['memory_plan']['per_rank']['total'] / GIB:.2f}" for s in ("zero2", "zero3")]
        if has_ds:
            row += [f"{b / GIB:.2f}" for b in ds_rows[name]]
        if acc:
            row += [f"{acc['float32'] / GIB:.2f} / {acc['float16'] / GIB:.2f}" if "QLoRA" not in name
                    else f"N/A (int4: {acc['int4 load'] / GIB:.2f} to load)"]
        row += [f"{16 * totals['total'] / WORLD / GIB:.2f}"]
        print("| " + " | ".join(row) + " |")
    print("\nparameters (logical, adapters included): "
          + ", ".join(f"{n} {p['zero2']['totals']['total']:,}" for n, p in plans.items())
          + f"; largest module: {largest:,}")
    if acc:
        print(f"accelerate's model: AutoModel (no lm_head), {acc['params']:,} parameters, {acc['bytes']:,} B in float32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
