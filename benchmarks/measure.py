"""Running a case: a child process timed by a fresh launcher (wall time, its own peak RSS),
or an in-process call; rounds interleave the cases so machine noise hits all alike."""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cases import CHILD_TIMEOUT_S, PY, ROOT, Case


# -- measuring -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    wall_s: float
    rss_mib: Optional[float]  # None for in-process cases
    error: str = ""  # empty when the run succeeded


def child_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}


# Spawns the case and times it, from a fresh `python -S` (about 8 MiB). On Linux a child's
# ru_maxrss starts at the high-water RSS of the process that spawned it (exec records the old
# mm's peak), so spawning from this process would add its own size, the rule engine's 100k
# records included, to every figure.
LAUNCHER = """\
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(result, "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(case: Case) -> Sample:
    with tempfile.TemporaryDirectory() as tmp:
        out, err, result = (Path(tmp) / name for name in ("stdout", "stderr", "result"))
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen((PY, "-S", "-c", LAUNCHER, str(result), *case.argv), cwd=ROOT,
                                    env=child_env(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                    start_new_session=True)
            try:
                proc.wait(timeout=CHILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the case
                proc.wait()
                return Sample(float(CHILD_TIMEOUT_S), None, f"timed out after {CHILD_TIMEOUT_S} s")
        if not result.exists():
            return Sample(float("nan"), None, f"launcher failed: {err.read_text(errors='replace').strip()}")
        wall, maxrss_kib, code = result.read_text().split()
        error = failure(int(code), out.read_text(errors="replace"), err.read_text(errors="replace"), case.expect)
        return Sample(float(wall), int(maxrss_kib) / 1024, error)  # Linux: ru_maxrss is in KiB


def failure(code: int, stdout: str, stderr: str, expect: str) -> str:
    if code != 0:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        return f"exit {code}: {lines[-1] if lines else '(no stderr)'}"
    if expect and expect not in stdout:
        return f"stdout lacks {expect!r}"
    return ""


def run_inproc(case: Case) -> Sample:
    try:
        return Sample(case.call(), None)
    except Exception as exc:  # a broken engine is a failed case, not a crashed benchmark
        return Sample(float("nan"), None, f"{type(exc).__name__}: {exc}")


def measure(case: Case) -> Sample:
    return run_inproc(case) if case.call else run_child(case)


def run_rounds(cases: list[Case], repeat: int) -> dict[str, list[Sample]]:
    warmups = [c for c in cases if c.role == "floor" or c.prime]  # the floor fills the page cache
    for case in warmups:
        log(f"warm-up (untimed): {case.name}")
        measure(case)
    samples: dict[str, list[Sample]] = {c.key: [] for c in cases}
    for r in range(1, repeat + 1):
        for case in cases:
            s = measure(case)
            samples[case.key].append(s)
            rss = f", {s.rss_mib:.0f} MiB" if s.rss_mib is not None else ""
            log(f"round {r}/{repeat}: {case.name}: {s.wall_s:.3f} s{rss}{'  FAILED: ' + s.error if s.error else ''}")
    return samples


@dataclass(frozen=True)
class Result:
    case: Case
    samples: tuple[Sample, ...]

    @property
    def wall(self) -> float:
        return statistics.median(s.wall_s for s in self.samples)

    @property
    def rss(self) -> Optional[float]:
        values = [s.rss_mib for s in self.samples if s.rss_mib is not None]
        return statistics.median(values) if values else None

    @property
    def error(self) -> str:
        return next((s.error for s in self.samples if s.error), "")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
