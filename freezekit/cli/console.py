"""The console script: run the app, then leave without paying for torch's teardown."""

from __future__ import annotations

import os
import sys

from .app import app


def main() -> None:
    """The console script. Once torch is imported, tearing the interpreter down costs about
    0.9 s (module finalization), a quarter of a cold `count`; pipelines run freezekit once
    per job, so skip it: run the atexit handlers, flush, and leave with os._exit."""
    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if "torch" not in sys.modules:
        raise SystemExit(code)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, (int, type(None))):
        print(code, file=sys.stderr)
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is not None:
        run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing left to say
            status = status or 1
    os._exit(status)
