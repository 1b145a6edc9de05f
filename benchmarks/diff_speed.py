#!/usr/bin/env python
"""`freezekit diff` on two multi-GB safetensors files, beside the I/O floor and the script a user writes.

Writes two safetensors files of --size-gb each (float32 tensors of 64 MiB; every second tensor of
AFTER differs in every value, the others are byte-identical), then times whole processes,
interleaved round-robin, median of --repeat, with each process's peak RSS (os.wait4):

    cat BEFORE AFTER > /dev/null        the I/O floor (cmp stops at the first differing byte)
    freezekit diff BEFORE AFTER -f json
    plain script                        safetensors.torch.load_file twice, torch.equal per tensor

Targets (issue 16): diff wall <= 1.5x the floor and <= 0.5x the plain script, peak RSS <= 300 MiB.
Also prints the SHA-256 rate of the manifest digests (hashlib, one core) and of freezekit's
digest over a whole file (compare/check_values.digest_in, reading included). Run from anywhere:

    python benchmarks/diff_speed.py --size-gb 2 --repeat 5
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TENSOR_BYTES = 64 << 20
LAUNCHER = """\
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
cpu = usage.ru_utime + usage.ru_stime
open(sys.argv[1], "w").write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}")
"""
PLAIN = """\
import sys, torch
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
print(sum(not torch.equal(a[k], b[k]) for k in a), "changed")
"""


def write_pair(folder: Path, size_gb: float) -> tuple[Path, Path]:
    """Two files written tensor by tensor (never a whole model in memory)."""
    import numpy as np

    n = max(2, round(size_gb * (1 << 30) / TENSOR_BYTES))
    count = TENSOR_BYTES // 4
    header = {}
    for i in range(n):
        span = [i * TENSOR_BYTES, (i + 1) * TENSOR_BYTES]
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [count], "data_offsets": span}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    paths = folder / "before.safetensors", folder / "after.safetensors"
    rng = np.random.default_rng(0)
    with open(paths[0], "wb") as before, open(paths[1], "wb") as after:
        for f in (before, after):
            f.write(len(raw).to_bytes(8, "little") + raw)
        for i in range(n):
            values = rng.standard_normal(count, dtype=np.float32)
            before.write(values.tobytes())
            after.write((values + np.float32(1e-3)).tobytes() if i % 2 else values.tobytes())
    return paths


def run(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall s, peak RSS MiB, CPU s: user + system) of one whole process."""
    with tempfile.NamedTemporaryFile("r") as result:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's freezekit
        subprocess.run([sys.executable, "-S", "-c", LAUNCHER, result.name, *argv], cwd=cwd, check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, rss_kib, code, cpu = result.read().split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(argv)} exited {code}")
    return float(wall), int(rss_kib) / 1024, float(cpu)


def sha256_rates(before: Path) -> tuple[float, float]:
    """GB/s of hashlib.sha256 over 1 GiB in memory, and of freezekit's digests over the whole file."""
    sys.path.insert(0, str(ROOT))
    from freezekit.compare.check_values import digest_in
    from freezekit.compare.tensor_files import open_checkpoint

    data = os.urandom(1 << 26) * 16
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    memory = len(data) / (time.perf_counter() - start) / 1e9
    checkpoint = open_checkpoint(str(before))
    start = time.perf_counter()
    for name in checkpoint.entries:
        digest_in(checkpoint, name)
    size = sum(s.nbytes for s in checkpoint.entries.values())
    return memory, size / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    freezekit = [sys.executable, "-c", "import sys; from freezekit.cli.console import main; sys.exit(main())"]
    with tempfile.TemporaryDirectory() as tmp:
        before, after = write_pair(Path(tmp), args.size_gb)
        (Path(tmp) / "plain.py").write_text(PLAIN)
        cases = {
            "cat BEFORE AFTER > /dev/null (I/O floor)": ["/bin/sh", "-c", f"cat {before} {after} > /dev/null"],
            "freezekit diff BEFORE AFTER -f json": [*freezekit, "diff", str(before), str(after), "-f", "json"],
            "plain script: load_file x2, torch.equal": [sys.executable, str(Path(tmp) / "plain.py"), str(before),
                                                         str(after)],
        }
        samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
        for _ in range(args.repeat):
            for name, argv in cases.items():
                samples[name].append(run(argv, Path(tmp)))
        memory_rate, file_rate = sha256_rates(before)
    floor = statistics.median(s[0] for s in samples["cat BEFORE AFTER > /dev/null (I/O floor)"])
    plain = statistics.median(s[0] for s in samples["plain script: load_file x2, torch.equal"])
    print(f"{args.size_gb:g} GB per file, median of {args.repeat}, interleaved\n")
    print("| case | wall s | CPU s | peak RSS MiB | wall x floor | wall x plain script |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in samples.items():
        wall, cpu = statistics.median(s[0] for s in runs), statistics.median(s[2] for s in runs)
        rss = statistics.median(s[1] for s in runs)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {wall / floor:.2f}x | {wall / plain:.2f}x |")
    print(f"\nSHA-256 (hashlib, one core): {memory_rate:.2f} GB/s in memory; "
          f"freezekit digests over the file: {file_rate:.2f} GB/s")


if __name__ == "__main__":
    main()
