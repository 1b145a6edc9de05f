"""N real processes in one torch.distributed process group, and nothing left behind.

Children start from a fork server that has imported torch once (the first launch pays the import,
later ones fork in milliseconds) and never ran a parallel kernel, so forking is safe. Each child
gets a torchrun-style environment (MASTER_ADDR=127.0.0.1, MASTER_PORT, RANK, WORLD_SIZE,
LOCAL_RANK), joins the group (gloo on CPU, nccl on CUDA) through a store on 127.0.0.1 whose port
the launcher holds from pick to use (loopback.py), with a timeout, runs `target(rank, world_size,
payload)` and sends back its value or its error. Children die with the launcher, even a SIGKILLed
one, and end themselves a little after the timeout (lifetime.py). The parent waits up to `timeout_s`
in all; once one rank fails the others get a short grace (they may be stuck in a collective), and
every child still alive at the end, after an error or on Ctrl-C, is terminated, then killed, then
joined.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from .lifetime import die_with_parent, end_after, watch_launcher
from .loopback import HOST, SOCKET_ENV, listening_socket, store

# Imported once by the fork server, so that every launch after the first forks them ready.
PRELOAD = [
    "freezekit.distributed.forkserver_guard",  # first: the fork server dies with the launcher
    "torch",
    "torch.distributed",
    "torch._dynamo",
    "torch.distributed.tensor",
    "torch.distributed.fsdp",
    "torch.nn.parallel",
    "numpy",
    "torchvision",
    "freezekit.distributed.worker",
    "freezekit.adapter.build",
    "freezekit.adapter.synthetic_inputs",
]
GRACE_S = 5.0  # after one rank failed, how long the others may take to report


@dataclass(frozen=True)
class RankOutcome:
    rank: int
    ok: bool
    value: Any = None
    error: str = ""  # first line of the exception, "TypeName: message"
    exit_code: int = 10  # a FreezekitError's exit code; else 10: the engine failed on this model (or hung)
    died: bool = False  # exited without reporting: the likely cause of its peers' errors (a connection reset)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def outcome_of(rank: int, exc: BaseException) -> RankOutcome:
    """What a rank that raised `exc` reports: a FreezekitError's message and exit code, else the
    exception's first line and exit 10 (the engine failed on this model)."""
    if os.environ.get("FREEZEKIT_DEBUG"):
        traceback.print_exception(exc)
    from ..errors import FreezekitError

    code = int(exc.exit_code) if isinstance(exc, FreezekitError) else 10  # ExitCode.VERIFY
    message = str(exc) if isinstance(exc, FreezekitError) else _first_line(exc)
    return RankOutcome(rank, False, error=message, exit_code=code)


@dataclass(frozen=True)
class _Run:
    """What every rank of one launch receives (rank 0 also gets the store's listening socket)."""

    target: Callable[[int, int, Any], Any]
    world_size: int
    port: int
    launcher: Any  # read end of a pipe the launcher holds open: end of file, the launcher is gone
    backend: str
    timeout_s: float
    payload: Any
    results: Any
    cwd: str
    env: dict[str, str]


def _child(run: _Run, rank: int, listener: socket.socket | None) -> None:
    die_with_parent()
    watch_launcher(run.launcher)
    end_after(run.timeout_s)
    target, world_size, port, backend, timeout_s = run.target, run.world_size, run.port, run.backend, run.timeout_s
    # The fork server kept the folder and environment of its own start: take the parent's current ones.
    os.chdir(run.cwd)
    # Ranks report through the queue; what the model prints (a factory, a forward) goes to stderr, so it
    # never lands in the parent's stdout (`--format json`).
    os.dup2(2, 1)
    os.environ.clear()
    os.environ.update(run.env)
    os.environ.update(
        MASTER_ADDR=HOST, MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    os.environ.update(SOCKET_ENV)
    import torch
    import torch.distributed as dist

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        group_store = store(rank, world_size, port, listener, timeout_s)  # rank 0: the store owns the socket now
        dist.init_process_group(
            backend, store=group_store, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
        )
        run.results.put(RankOutcome(rank, True, target(rank, world_size, run.payload)))
    except BaseException as exc:  # report everything, even KeyboardInterrupt; the parent decides
        run.results.put(outcome_of(rank, exc))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _context() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _stop(procs: list[Any]) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 3
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(3)


def _collect(procs: list[Any], results: Any, got: dict[int, RankOutcome], timeout_s: float) -> None:
    """Fill `got` as ranks report, until all did, the time is up, or one failed and the grace ran out."""
    world_size = len(procs)
    deadline = time.monotonic() + timeout_s
    while len(got) < world_size and time.monotonic() < deadline:
        try:
            out = results.get(timeout=0.2)
            got[out.rank] = out
            if not out.ok:
                deadline = min(deadline, time.monotonic() + GRACE_S)
        except queue.Empty:
            dead = [r for r, p in enumerate(procs) if r not in got and not p.is_alive()]
            if dead:  # exited without a word (killed, crashed); its result may still be in the pipe
                time.sleep(0.5)
                while not results.empty():
                    out = results.get_nowait()
                    got[out.rank] = out
                for r in dead:
                    got.setdefault(
                        r,
                        RankOutcome(
                            r, False, error=f"rank {r} exited with code {procs[r].exitcode} before reporting", died=True
                        ),
                    )
                deadline = min(deadline, time.monotonic() + GRACE_S)


def launch(
    target: Callable[[int, int, Any], Any],
    payload: Any,
    world_size: int,
    backend: str = "gloo",
    timeout_s: float = 300.0,
) -> list[RankOutcome]:
    """Run `target` on `world_size` ranks; one outcome per rank, in rank order. A rank that did not
    report in time (hung, killed, crashed) gets an outcome saying so."""
    ctx = _context()
    results = ctx.Queue()
    listener = listening_socket()
    port = listener.getsockname()[1]
    reader, writer = ctx.Pipe(duplex=False)  # the ranks watch `reader`: end of file, the launcher is gone
    run = _Run(target, world_size, port, reader, backend, timeout_s, payload, results, os.getcwd(), dict(os.environ))
    procs = [
        ctx.Process(target=_child, args=(run, r, listener if r == 0 else None), name=f"freezekit-rank{r}", daemon=True)
        for r in range(world_size)
    ]
    got: dict[int, RankOutcome] = {}
    started: list[Any] = []
    try:
        for p in procs:
            p.start()
            started.append(p)
        listener.close()  # rank 0 holds its copy: the port stays taken until its store closes
        reader.close()
        _collect(procs, results, got, timeout_s)
    finally:
        settle = time.monotonic() + (2.0 if len(got) == world_size and all(o.ok for o in got.values()) else 0.0)
        for p in started:  # ranks that reported are closing their process group: let them exit by themselves
            p.join(max(0.0, settle - time.monotonic()))
        _stop(started)
        listener.close()
        reader.close()
        writer.close()
        results.close()
    return [
        got.get(r, RankOutcome(r, False, error=f"rank {r} did not finish within {timeout_s:g} s (a hung collective?)"))
        for r in range(world_size)
    ]
