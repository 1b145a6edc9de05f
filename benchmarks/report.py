"""Targets, ratios, the table (plain or Markdown), the machine, and the JSON of a benchmark run."""
from __future__ import annotations

import math
import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional

from cases import PY
from measure import Result


@dataclass(frozen=True)
class Verdict:
    target: str
    ok: bool
    detail: str


def best_peer(results: dict[str, Result]) -> Optional[Result]:
    peers = [r for r in results.values() if r.case.role == "peer" and not r.error]
    return min(peers, key=lambda r: r.wall, default=None)


def verdicts(results: dict[str, Result]) -> dict[str, Verdict]:
    floor, peer = results["floor"], best_peer(results)
    peers = [r for r in results.values() if r.case.role == "peer" and not r.error]
    checks = {
        "count_vgg16": ("wall <= 1.10x floor, < every peer", lambda r: (
            r.wall <= 1.10 * floor.wall and all(r.wall < p.wall for p in peers),
            f"{r.wall / floor.wall:.2f}x floor" + (f", {r.wall / peer.wall:.2f}x best peer" if peer
                                                   else "; no peer measured"))),
        "count_vgg16_warm": ("wall < 0.4 s, <= 0.1x best peer", lambda r: (
            r.wall < 0.4 and (peer is None or r.wall <= 0.1 * peer.wall),
            f"{r.wall:.3f} s" + (f", {r.wall / peer.wall:.2f}x best peer" if peer else "; no peer measured"))),
        "count_vit_h_14": ("RSS <= floor + 100 MiB", lambda r: (
            r.rss <= floor.rss + 100, f"floor {r.rss - floor.rss:+.0f} MiB")),
        "help": ("wall < 0.3 s", lambda r: (r.wall < 0.3, f"{r.wall:.3f} s")),
        "header_70b": ("wall < 0.5 s, RSS < 100 MiB", lambda r: (
            r.wall < 0.5 and r.rss < 100, f"{r.wall:.3f} s, {r.rss:.0f} MiB")),
        "rules": ("wall < 1 s", lambda r: (r.wall < 1.0, f"{r.wall:.3f} s")),
    }
    out = {}
    for key, (target, check) in checks.items():
        if key not in results:
            continue
        r = results[key]
        if r.error or floor.error:
            ok, detail = False, r.error or f"the floor failed: {floor.error}"
        else:
            ok, detail = check(r)
        out[key] = Verdict(target, ok, detail)
    return out


# -- output ----------------------------------------------------------------------------------
COLUMNS = ("case", "wall s", "peak RSS MiB", "wall x floor", "RSS x floor", "wall x best peer", "target", "result")


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b and not math.isnan(a) and not math.isnan(b) else None


def ratios(r: Result, floor: Result, peer: Optional[Result]) -> dict[str, Optional[float]]:
    """Against the floor (child processes only) and against the best peer (VGG16 cases only)."""
    return {"wall_x_floor": ratio(r.wall, floor.wall) if r.case.role != "inproc" else None,
            "rss_x_floor": ratio(r.rss, floor.rss),
            "wall_x_best_peer": ratio(r.wall, peer.wall) if peer and r.case.vgg16 else None}


def times(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}x"


def row(r: Result, floor: Result, peer: Optional[Result], verdict: Optional[Verdict]) -> list[str]:
    rss = "-" if r.rss is None else f"{r.rss:.0f}"
    target = verdict.target if verdict else "-"
    result = ("PASS" if verdict.ok else "FAIL") if verdict else ("FAIL" if r.error else "ok")
    return [r.case.name, f"{r.wall:.3f}", rss, *map(times, ratios(r, floor, peer).values()), target, result]


def render_table(rows: list[list[str]], markdown: bool) -> str:
    right = {1, 2, 3, 4, 5}
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join("---:" if i in right else "---" for i in range(len(COLUMNS))) + "|"]
        return "\n".join(lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows])
    widths = [max(len(x) for x in col) for col in zip(COLUMNS, *rows)]

    def fmt(cells) -> str:
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    return "\n".join([fmt(COLUMNS), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "unknown CPU")
    except OSError:
        return "unknown CPU"


def machine() -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "platform": platform.platform(),
            **{dist: version(dist) for dist in ("torch", "torchvision", "freezekit", "torchinfo", "fvcore")}}


def machine_line(m: dict) -> str:
    peers = ", ".join(f"{d} {m[d]}" for d in ("torchinfo", "fvcore") if m[d])
    return (f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores usable, Python {m['python']}, "
            f"torch {m['torch']}, torchvision {m['torchvision']}" + (f", {peers}" if peers else "")
            + f" ({m['platform']})")


def report(results: dict[str, Result], checks: dict[str, Verdict], skipped: dict[str, str],
           m: dict, repeat: int, markdown: bool) -> str:
    floor, peer = results["floor"], best_peer(results)
    rows = [row(r, floor, peer, checks.get(k)) for k, r in results.items()]
    notes = [f"Machine: {machine_line(m)}",
             f"Median of {repeat} interleaved run(s); freezekit runs as `{Path(PY).name} -m freezekit`.", ""]
    notes.append(render_table(rows, markdown))
    bullet = "- " if markdown else ""
    notes += [""] + [f"{bullet}skipped: {name}: {why}" for name, why in skipped.items()]
    notes += [f"{bullet}failed: {r.case.name}: {r.error}" for r in results.values() if r.error]
    notes += [f"{bullet}target {'PASS' if v.ok else 'FAIL'}: {results[k].case.name}: {v.target} ({v.detail})"
              for k, v in checks.items()]
    return "\n".join(notes)


def to_json(results: dict[str, Result], checks: dict[str, Verdict], skipped: dict[str, str],
            m: dict, repeat: int) -> dict:
    floor, peer = results["floor"], best_peer(results)
    cases = []
    for key, r in results.items():
        cases.append({
            "key": key, "name": r.case.name, "role": r.case.role,
            "argv": list(r.case.argv) or None, "repeat": len(r.samples),
            "wall_s": [s.wall_s for s in r.samples], "rss_mib": [s.rss_mib for s in r.samples],
            "median_wall_s": r.wall, "median_rss_mib": r.rss, **ratios(r, floor, peer),
            "error": r.error or None,
            "target": vars(checks[key]) if key in checks else None,
        })
    return {"schema": "freezekit.benchmark", "schema_version": 1, "machine": m, "repeat": repeat,
            "argv": sys.argv, "freezekit_invocation": [Path(PY).name, "-m", "freezekit"],
            "skipped": skipped, "cases": cases}
