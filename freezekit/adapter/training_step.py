"""One real training step (forward, backward, SGD step), timed, with its peak memory.

CUDA: median of CUDA-event times, peak = torch.cuda.max_memory_allocated.
CPU: median of perf_counter times, peak = the largest resident-set growth of this
process during the warm-up and timed steps, sampled every millisecond from /proc/self/statm.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from torch import nn

    from .synthetic_inputs import Batch

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _release_free_heap() -> None:
    """Give memory that malloc keeps after frees (model building leaves plenty) back to the OS, so
    that the steps' allocations show as RSS growth instead of silently reusing it. glibc only."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def rss_peak() -> Iterator[list[int]]:
    """Yields a one-item list that holds the peak RSS growth (bytes) once the block ends."""
    _release_free_heap()
    base = _rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out = [0]
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out[0] = max(peak[0], _rss_bytes()) - base


def run_steps(
    model: "nn.Module", batch: "Batch", device: str, dtype: str, steps: int, warmup: int
) -> tuple[float, float, str]:
    """Return (median step ms, peak MiB, how memory was measured); grads stay from the last step."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9) if params else None
    amp = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    cuda = device.startswith("cuda")

    def step(last: bool) -> None:
        with amp:
            loss = batch.loss(batch.call(model))
        if loss.requires_grad:
            loss.backward()
        if opt is not None:
            opt.step()
            if not last:
                opt.zero_grad(set_to_none=True)

    model.train()
    times = []
    if cuda:
        previous = torch.backends.cudnn.benchmark
        # Autotuned convolutions, as training jobs (and the baseline) run them: untuned bf16
        # convolutions can be several times slower, and the tuning's workspaces count in the peak.
        # The caller's setting is restored afterwards.
        torch.backends.cudnn.benchmark = True
        try:
            return _cuda_steps(step, steps, warmup)
        finally:
            torch.backends.cudnn.benchmark = previous
    with rss_peak() as peak:  # like CUDA's peak: warm-up steps included (they allocate grads and optimizer state)
        for _ in range(warmup):
            step(last=False)
        for i in range(steps):
            t0 = time.perf_counter()
            step(last=i == steps - 1)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), peak[0] / 2**20, "peak RSS growth during the steps, warm-up included"


def _cuda_steps(step: "Callable[[bool], None]", steps: int, warmup: int) -> tuple[float, float, str]:
    """Like the plain-PyTorch baseline: CUDA-event times, and a peak that covers the warm-up too."""
    import torch

    times = []
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        step(False)
    for i in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step(i == steps - 1)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), torch.cuda.max_memory_allocated() / 2**20, "CUDA peak allocated"
