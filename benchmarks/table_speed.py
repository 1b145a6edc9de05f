#!/usr/bin/env python
"""The table renderer at scale: `freeze` on a 100,000-tensor checkpoint header, as a table vs JSON.

Writes a sparse safetensors file (a header naming 100,000 bf16 tensors, DeepSeek-V3-class MoE
scale: 61 layers x 256 experts x 3 projections + attention and norms; the data is a hole) in a temp
folder, then times whole processes, interleaved round-robin (median of --repeat):

    freeze FILE                         as a table (stdout a file, COLUMNS unset: the CI-log case)
    freeze FILE --format json
    freeze FILE -p 're:...' --format json   one re: rule
    count 70B-header                    the existing Llama-3-70B header case (~700 tensors)

Targets (issue 10): table within 3x of JSON and under 5 s; JSON with one re: rule under 2 s;
the 70B case unchanged. The verdicts use CPU time (user + system) of each process: on a shared,
overloaded machine wall time mostly measures the neighbours. Run from anywhere:

    python benchmarks/table_speed.py --repeat 5
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from cases import write_sparse_safetensors  # noqa: E402

N_TENSORS = 100_000
RE_RULE = r"re:model\.layers\.([0-9]|[1-5][0-9])\.mlp\.experts\..*"


def moe_shapes(n: int = N_TENSORS):
    """(name, shape) for n tensors shaped like a small MoE: per layer attention, norms, and experts."""
    hidden, inter = 64, 32
    out, layer = [("model.embed_tokens.weight", (1000, hidden))], 0
    while len(out) < n - 2:
        p = f"model.layers.{layer}"
        out += [(f"{p}.input_layernorm.weight", (hidden,)), (f"{p}.self_attn.q_proj.weight", (hidden, hidden)),
                (f"{p}.self_attn.o_proj.weight", (hidden, hidden)), (f"{p}.mlp.gate.weight", (256, hidden))]
        for e in range(256):
            out += [(f"{p}.mlp.experts.{e}.{w}.weight", (inter, hidden) if w != "down_proj" else (hidden, inter))
                    for w in ("gate_proj", "up_proj", "down_proj")]
        layer += 1
    out = out[: n - 2] + [("model.norm.weight", (hidden,)), ("lm_head.weight", (1000, hidden))]
    return out


def write_header(path: Path) -> int:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in moe_shapes():
        nbytes = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        f.truncate(8 + len(blob) + offset)  # sparse
    return len(header) - 1


def run(args: list[str], out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one whole `python -m freezekit ...` process. CPU time (user + system, from
    os.wait4 on that child) is what a shared, overloaded machine distorts least."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(NO_COLOR="1", PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    with open(out, "w") as f:
        child = subprocess.Popen([sys.executable, "-m", "freezekit", *args], stdout=f, stderr=subprocess.DEVNULL,
                                 env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)}: exit {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        moe, llama = Path(tmp) / "moe.safetensors", Path(tmp) / "llama-70b.safetensors"
        n = write_header(moe)
        write_sparse_safetensors(llama)
        out = Path(tmp) / "out.txt"
        cases = {
            f"freeze {n:,}-tensor header, table": ["freeze", str(moe)],
            f"freeze {n:,}-tensor header, --format json": ["freeze", str(moe), "-f", "json"],
            f"freeze {n:,}-tensor header, one re: rule, --format json": ["freeze", str(moe), "-p", RE_RULE, "-f", "json"],
            "count llama-70b header (~700 tensors)": ["count", str(llama)],
        }
        walls: dict[str, list[float]] = {k: [] for k in cases}
        cpus: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(opts.repeat):
            for name, args in cases.items():
                wall, cpu = run(args, out)
                walls[name].append(wall)
                cpus[name].append(cpu)
    names = list(cases)
    wall = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    table, js, rx, llama_s = (cpu[k] for k in names)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"median of {opts.repeat}, whole processes, interleaved")
    print("| case | CPU s | wall s | CPU x JSON | target | result |\n|---|---:|---:|---:|---|---|")
    rows = [(names[0], table / js, "<= 3x JSON and < 5 s", table <= 3 * js and table < 5),
            (names[1], 1.0, "-", None), (names[2], rx / js, "< 2 s", rx < 2),
            (names[3], llama_s / js, "< 0.5 s (unchanged)", llama_s < 0.5)]
    for name, ratio, target, ok in rows:
        verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
        print(f"| {name} | {cpu[name]:.3f} | {wall[name]:.3f} | {ratio:.2f}x | {target} | {verdict} |")


if __name__ == "__main__":
    main()
