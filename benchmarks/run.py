#!/usr/bin/env python
"""Whole-process wall time and peak RSS of freezekit, next to the import floor and its peers.

Every case runs --repeat times (default 5), interleaved round-robin so that machine noise
hits all cases alike; the table shows medians. Run it from anywhere:

    python benchmarks/run.py                                        # plain-text table
    python benchmarks/run.py --repeat 5 --markdown --json /tmp/bench.json
    python benchmarks/run.py --quick                                # smoke run: every case once
    python benchmarks/run.py --no-peers                             # without torchinfo/fvcore/classic
    python benchmarks/run.py -k help -k 70B                         # only matching cases (+ the floor)

Cases
  floor         python -c "import torch, torchvision": what every torch tool pays first
  freezekit     [sys.executable, "-m", "freezekit", ...] (not the console script, so every case
                uses this interpreter), with --no-cache for the cold figures; one warm-cache figure
                (primed once, untimed; the cache is a temp folder, never the user's)
  peers         counting VGG16's parameters: the classic numel() loop, torchinfo.summary with no
                input (no forward pass), fvcore.nn.parameter_count_table
  header audit  `freezekit count` of a sparse safetensors file, made in a temp dir, whose header
                declares a Llama-3-70B (70,553,706,496 bf16 parameters; no disk used)
  rule engine   freezekit.core.plan.make_plan in this process: 100,000 names x 50 rules, no torch

Peers are not project dependencies. Install them into the interpreter that runs this script
(a venv with --system-site-packages is best): `pip install -r benchmarks/requirements.txt`,
or pass --install-peers, which runs exactly that with this interpreter's pip. A peer that is
not importable is skipped with a note.

Peak RSS is the case's own ru_maxrss, read with os.wait4 on that one child (RUSAGE_CHILDREN
is the maximum over every child waited so far, so it cannot be diffed). Each case is spawned
by a fresh `python -S` launcher, not by this process: on Linux a child's ru_maxrss starts at
the peak RSS of whoever spawned it, so figures under the launcher's ~8 MiB mean nothing.
Wall time is time.perf_counter in the launcher around spawn + wait. Children run with
NO_COLOR=1, stdout to a file that is checked for the expected output. Linux only
(/proc/cpuinfo, ru_maxrss in KiB).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
from importlib import util
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, from any folder

from cases import HERE, PY, Case, child_cases, rule_engine_case, write_sparse_safetensors  # noqa: E402
from measure import Result, log, run_rounds  # noqa: E402
from report import report, to_json, verdicts, machine  # noqa: E402


# -- main ------------------------------------------------------------------------------------
def select(cases: list[Case], args: argparse.Namespace) -> tuple[list[Case], dict[str, str]]:
    chosen, skipped = [], {}
    for case in cases:
        wanted = case.role == "floor" or not args.k or any(k.lower() in (case.key + case.name).lower() for k in args.k)
        if not wanted:
            continue
        if case.role == "peer" and args.no_peers:
            skipped[case.name] = "--no-peers"
        elif case.needs and util.find_spec(case.needs) is None:
            skipped[case.name] = f"'{case.needs}' is not importable; pip install -r {HERE.name}/requirements.txt"
        else:
            chosen.append(case)
    return chosen, skipped


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5, help="runs per case; the median is reported (default 5)")
    p.add_argument("--quick", action="store_true", help="smoke run: --repeat 1")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH")
    p.add_argument("--no-peers", action="store_true", help="skip the peers (classic loop, torchinfo, fvcore)")
    p.add_argument("--install-peers", action="store_true",
                   help="first `pip install -r benchmarks/requirements.txt` INTO THIS INTERPRETER (use a venv)")
    p.add_argument("-k", action="append", metavar="TEXT", help="only cases whose key or name contains TEXT "
                   "(repeatable; the floor always runs)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeat = 1
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.install_peers:
        subprocess.run([PY, "-m", "pip", "install", "-r", str(HERE / "requirements.txt")], check=True)
        importlib.invalidate_caches()  # so that find_spec sees what pip just installed
    with tempfile.TemporaryDirectory(prefix="freezekit-bench-") as tmp:
        os.environ["FREEZEKIT_CACHE_DIR"] = str(Path(tmp) / "cache")  # children inherit it: never the user's cache
        checkpoint = Path(tmp) / "llama-70b.safetensors"
        total = write_sparse_safetensors(checkpoint)
        cases, skipped = select([*child_cases(checkpoint, total), rule_engine_case()], args)
        samples = run_rounds(cases, args.repeat)
    results = {c.key: Result(c, tuple(samples[c.key])) for c in cases}
    checks, m = verdicts(results), machine()
    print(report(results, checks, skipped, m, args.repeat, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(results, checks, skipped, m, args.repeat), indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
