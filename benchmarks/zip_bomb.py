"""A zip-bomb checkpoint is refused cheaply: `freezekit count bomb.pt` beside what inflating it costs.

bomb.pt is a real torch.save checkpoint plus one deflated entry declaring 1 GiB of zeros (about
1 MB on disk). freezekit reads the zip's central directory only and refuses it (exit 5) before
torch is imported; the peer case inflates that entry the way a reader that trusts the declared
sizes would. Whole-process wall time and peak RSS, median of --repeat runs interleaved.

    python benchmarks/zip_bomb.py --repeat 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECLARED = 1 << 30  # bytes the bomb's extra entry inflates to
TARGET_RSS_MIB = 1024

LAUNCHER = """\
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
with open(result, "w") as f:
    f.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def make_bomb(path: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(4)}, path)
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(f"{z.namelist()[0].split('/')[0]}/padding", "w", force_zip64=True) as entry:
            for _ in range(DECLARED // len(chunk)):
                entry.write(chunk)


def run(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS MiB and exit code of one run, launched from a small `python -S`."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
        subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(result), *argv], cwd=cwd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=600)
        wall, rss_kib, code = result.read_text().split()
    return float(wall), int(rss_kib) / 1024, int(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        make_bomb(folder / "bomb.pt")
        size = (folder / "bomb.pt").stat().st_size
        print(f"bomb.pt: {size:,} bytes on disk, an entry declaring {DECLARED:,} bytes "
              f"(built in {time.perf_counter() - start:.1f} s)")
        cases = {
            "freezekit count bomb.pt (refused)": [sys.executable, "-m", "freezekit", "count", "bomb.pt", "--no-cache"],
            "peer: inflate the entry (zipfile.read)": [
                sys.executable, "-c", "import zipfile; zipfile.ZipFile('bomb.pt').read('bomb/padding')"],
        }
        samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for _ in range(repeat):
            for name, argv in cases.items():
                samples[name].append(run(argv, folder))
    ours = samples["freezekit count bomb.pt (refused)"]
    peer = samples["peer: inflate the entry (zipfile.read)"]
    print("| case | exit | wall s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name, runs in samples.items():
        print(f"| {name} | {runs[0][2]} | {statistics.median(r[0] for r in runs):.3f} | "
              f"{statistics.median(r[1] for r in runs):.0f} |")
    rss, peer_rss = statistics.median(r[1] for r in ours), statistics.median(r[1] for r in peer)
    ok = all(r[2] == 5 for r in ours) and rss < TARGET_RSS_MIB
    print(f"freezekit's peak RSS is {rss / peer_rss:.3f}x the inflating peer's; target: exit 5 and "
          f"< {TARGET_RSS_MIB} MiB: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
