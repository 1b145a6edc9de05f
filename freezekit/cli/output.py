"""How a command's output leaves the process: the report to stdout (a reader may close the pipe
early), warnings to stderr, expectations deciding the exit code; and no cyclic garbage collection
while an audit builds its records."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..render.terminal import silence_stdout
from .error_boundary import warn

if TYPE_CHECKING:
    from ..core.report import Report
    from ..render.view import View
    from ..verify.result import VerifyResult


def write_stdout(write: Any) -> None:
    """Run `write()` (which prints to stdout); a reader that closed the pipe (`| head`) ends the
    output quietly, not the run: what follows (an unmet expectation) still decides the exit code."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def emit(report: "Report", view: "View", export: str | None, sections: Any = None, body: Any = None) -> None:
    """Report to stdout, warnings to stderr; then fail on unmet expectations (and export nothing).
    `sections`: what count --shard-by/--fsdp-flat/--memory-plan adds (freezekit.distributed.sections).
    `body(out)`: what stdout shows instead of the report (freeze --stages: the schedule's rows)."""
    from ..render import write

    for warning in report.warnings:
        warn(warning)
    failed = report.failed_expectations
    if body is not None:
        write_stdout(lambda: body(sys.stdout))
    elif sections is None:
        write_stdout(lambda: write(report, view, sys.stdout))
    else:
        from ..distributed.render import write_with_sections

        write_stdout(lambda: write_with_sections(report, view, sections, sys.stdout))
    if export and not failed:
        from ..render.export import save_export

        save_export(report, view, export)
    if failed:
        from ..core.expectations import expectation_error

        raise expectation_error(failed)


def emit_verify(result: "VerifyResult", view: "View", warnings_fail: bool) -> None:
    """verify's report to stdout, its warnings to stderr; failed checks (warnings too under --strict) fail."""
    from ..errors import VerifyError
    from ..render.verify_render import write_verify
    from ..verify.result import warned

    write_stdout(lambda: write_verify(result, view, warnings_fail, sys.stdout))
    for warning in result.warnings:
        warn(warning)
    for c in warned(result.checks, warnings_fail):
        warn(f"{c.name}: {c.detail}")
    failed = result.failures(warnings_fail)
    if failed:
        raise VerifyError("; ".join(f"{c.name}: {c.detail}" for c in failed))


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """An audit allocates a few objects per tensor and frees nothing until it ends: Python's cyclic
    collector would rescan them over and over (30% of a 100,000-tensor audit). Reference counting
    still frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
