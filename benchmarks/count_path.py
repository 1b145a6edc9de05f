#!/usr/bin/env python
"""The road one `count` call takes through freezekit's own code: files visited, calls that go back.

    python benchmarks/count_path.py                      # the freezekit on sys.path
    PYTHONPATH=/path/to/other/checkout python benchmarks/count_path.py

Runs `count vgg16 -p features.* --no-cache` in this process under sys.setprofile and records
every call from one freezekit function into another (the CLI's own parsing, Typer and torch
are not counted). It prints:
  files        distinct freezekit files entered
  functions    distinct freezekit functions called
  calls        calls that cross from one file into another
  revisits     of those, calls into a file the road had already entered and left
  climbs       of those, calls back to an earlier stage of the road (stages below; utilities,
               records and errors have no stage and never count)
Stages: 0 cli, 1 settings/config, 2 pipeline, 3 sources, 4 adapter, 5 rules/plan,
6 totals/expectations/report/BatchNorm rows, 7 render.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

STAGES = [  # (stage, paths under freezekit/ in the flat and the sub-package layouts; "x/": a folder)
    (0, ("cli.py", "cli_options.py", "progress.py", "cli/")),
    (1, ("options.py", "config.py", "core/config.py", "pipeline/settings.py")),
    (2, ("audit.py", "commands.py", "pipeline/")),
    (3, ("sources.py", "checkpoints.py", "inventory_cache.py", "safetensors_header.py", "sources/")),
    (4, ("adapter/",)),
    (5, ("rules.py", "plan.py", "core/rules.py", "core/plan.py")),
    (6, ("totals.py", "expectations.py", "report.py", "batchnorm_policy.py", "manifest.py", "core/totals.py",
         "core/expectations.py", "core/report.py", "core/batchnorm_policy.py", "core/manifest.py")),
    (7, ("render/", "export.py")),
]


def stage(rel: str) -> int | None:
    """A file's stage: an exact path first (`options.py` of the flat layout), then a folder (`cli/`)."""
    exact = {f: n for n, fragments in STAGES for f in fragments if not f.endswith("/")}
    if rel in exact:
        return exact[rel]
    return next((n for n, fragments in STAGES for f in fragments if f.endswith("/") and rel.startswith(f)), None)


def main() -> None:
    import freezekit

    root = Path(freezekit.__file__).resolve().parent
    try:
        from freezekit.cli.app import app  # the sub-package layout
    except ImportError:
        from freezekit.cli import app  # type: ignore[attr-defined, no-redef]  # the flat layout
    from typer.testing import CliRunner

    calls: list[tuple[str, str, str]] = []  # (caller file, callee file, callee function)

    def profile(frame, event, arg):  # noqa: ANN001
        if event != "call":
            return
        callee = frame.f_code.co_filename
        caller = frame.f_back.f_code.co_filename if frame.f_back else ""
        if callee.startswith(str(root)) and caller.startswith(str(root)):
            rel = os.path.relpath(callee, root)
            calls.append((os.path.relpath(caller, root), rel, f"{rel}:{frame.f_code.co_name}"))

    os.environ["FREEZEKIT_CACHE_DIR"] = tempfile.mkdtemp()
    os.environ.setdefault("COLUMNS", "120")
    sys.setprofile(profile)
    result = CliRunner().invoke(app, ["count", "vgg16", "-p", "features.*", "--no-cache"])
    sys.setprofile(None)
    assert result.exit_code == 0, result.output
    files = {callee for _, callee, _ in calls}
    crossing = [(a, b) for a, b, _ in calls if a != b]
    entered: list[str] = []
    revisits = climbs = 0
    for caller, callee in crossing:
        if callee in entered and entered[-1] != callee:
            revisits += 1
        entered.append(callee)
        s_from, s_to = stage(caller), stage(callee)
        if s_from is not None and s_to is not None and s_to < s_from:
            climbs += 1
    print(f"freezekit at {root}")
    print(f"files {len(files)}  functions {len({f for *_, f in calls})}  calls {len(crossing)}  "
          f"revisits {revisits}  climbs {climbs}")


if __name__ == "__main__":
    main()
