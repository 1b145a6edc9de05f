#!/usr/bin/env python
"""timm: and hf: audits beside the import floors their users pay anyway, in one interleaved run.

    python benchmarks/hub.py --repeat 5 --markdown

Cases (whole-process wall time and peak RSS, medians; measured like benchmarks/run.py: each case
spawned by a fresh launcher, rounds interleaved round-robin so that noise hits all cases alike):
  hf floor    python -c "import torch, transformers; transformers.AutoModelForCausalLM"
  hf class    python -c "import torch, transformers; transformers.LlamaForCausalLM": what building any
              Llama must import on top of that floor (modeling_utils pulls in torch._dynamo,
              torch.distributed.tensor, scipy, accelerate, ...: about 2x the floor on its own)
  hf 70B      freezekit count hf:<folder with Llama-3-70B's config.json alone> --no-cache
              (70,553,706,496 parameters on the meta device; targets: wall <= 1.2x the hf floor,
              peak RSS <= floor + 150 MiB, and the same against the hf class import)
  timm floor  python -c "import torch, timm"
  timm giant  freezekit count timm:vit_giant_patch14_224 --no-cache (1,012,611,432 parameters, 3.8 GiB
              in float32 that never exist; target: wall <= 1.2x the timm floor, RSS flat: <= floor + 150 MiB)
  warm        the same two counts answered from the inventory cache (a temp folder), no torch import
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import FREEZEKIT, PY, Case  # noqa: E402
from measure import Result, log, run_rounds  # noqa: E402
from report import machine  # noqa: E402

LLAMA_70B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
             "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64,
             "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
             "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
             "torch_dtype": "bfloat16"}
HF_FLOOR = "import torch, transformers; transformers.AutoModelForCausalLM"
HF_CLASS = "import torch, transformers; transformers.LlamaForCausalLM"
TIMM_FLOOR = "import torch, timm"
# key -> [(floor key, wall ratio limit, RSS headroom MiB over that floor)]
TARGETS = {"hf_70b": [("hf_floor", 1.2, 150), ("hf_class", 1.2, 150)], "timm_giant": [("timm_floor", 1.2, 150)]}


def cases(folder: Path) -> list[Case]:
    fk = FREEZEKIT
    return [
        Case("hf_floor", f'python -c "{HF_FLOOR}" (the hf floor)', (PY, "-c", HF_FLOOR), role="floor"),
        Case("hf_class", f'python -c "{HF_CLASS}" (importing the class)', (PY, "-c", HF_CLASS), role="floor"),
        Case("hf_70b", "freezekit count hf:llama-3-70b (config.json only) --no-cache",
             (*fk, "count", f"hf:{folder}", "--no-cache"), expect="70,553,706,496"),
        Case("hf_70b_warm", "freezekit count hf:llama-3-70b (warm inventory cache)",
             (*fk, "count", f"hf:{folder}"), expect="70,553,706,496", prime=True),
        Case("timm_floor", f'python -c "{TIMM_FLOOR}" (the timm floor)', (PY, "-c", TIMM_FLOOR), role="floor"),
        Case("timm_giant", "freezekit count timm:vit_giant_patch14_224 --no-cache",
             (*fk, "count", "timm:vit_giant_patch14_224", "--no-cache"), expect="1,012,611,432"),
        Case("timm_giant_warm", "freezekit count timm:vit_giant_patch14_224 (warm inventory cache)",
             (*fk, "count", "timm:vit_giant_patch14_224"), expect="1,012,611,432", prime=True),
    ]


def verdict(key: str, results: dict[str, Result]) -> tuple[str, str]:
    if key not in TARGETS:
        return "-", "ok" if not results[key].error else "FAILED"
    targets, outcomes = [], []
    for floor_key, wall_limit, headroom in TARGETS[key]:
        r, floor = results[key], results[floor_key]
        ok = (not r.error and r.wall <= wall_limit * floor.wall and r.rss is not None and floor.rss is not None
              and r.rss <= floor.rss + headroom)
        targets.append(f"vs {floor_key}: wall <= {wall_limit}x, RSS <= +{headroom} MiB")
        outcomes.append(f"{'PASS' if ok else 'FAIL'} ({r.wall / floor.wall:.2f}x, {r.rss - floor.rss:+.0f} MiB)"
                        if r.rss is not None and floor.rss is not None else "FAIL")
    return "; ".join(targets), "; ".join(outcomes)


def table(results: dict[str, Result], markdown: bool) -> str:
    floors = {"hf": results["hf_floor"], "timm": results["timm_floor"]}
    rows = [("case", "wall s", "peak RSS MiB", "wall x floor", "RSS - floor MiB", "target", "result")]
    for key, r in results.items():
        floor = floors[key.split("_")[0]]
        target, result = verdict(key, results)
        rows.append((r.case.name, f"{r.wall:.3f}", f"{r.rss:.0f}" if r.rss is not None else "-",
                     f"{r.wall / floor.wall:.2f}x", f"{r.rss - floor.rss:+.0f}" if r.rss and floor.rss else "-",
                     target, result if not r.error else f"FAILED: {r.error}"))
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|---|" + "---:|" * 4 + "---|---|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "llama-3-70b"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(LLAMA_70B))
        os.environ["FREEZEKIT_CACHE_DIR"] = str(Path(tmp) / "cache")  # never the user's cache
        os.environ["HF_HUB_OFFLINE"] = "1"
        chosen = cases(folder)
        samples = run_rounds(chosen, args.repeat)
    results = {c.key: Result(c, tuple(samples[c.key])) for c in chosen}
    log(machine())
    print(table(results, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps({k: {"wall_s": r.wall, "rss_mib": r.rss, "error": r.error}
                                               for k, r in results.items()}, indent=2))
    return 0 if all("FAIL" not in verdict(k, results)[1] and not r.error for k, r in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
