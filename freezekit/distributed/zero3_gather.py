"""The most parameter bytes DeepSpeed ZeRO-3 holds gathered at once on a rank, replayed from the records. Pure.

DeepSpeed 0.19.8's parameter coordinator (runtime/zero/partitioned_param_coordinator.py) at its
defaults, replayed over one training step once its trace is recorded (the first step only gathers
one module at a time and releases it):

- the trace is every module that owns parameters and every module above them (a module's hook
  fires before its children's; lists, whose children are named 0, 1, ..., are never called), in
  inventory order (the order a forward usually calls them), then backward: the same tree with the
  children last to first, without the frozen prefix before the first trainable parameter (it gets
  no gradient, so no backward hook: it is never gathered again). Each step prefetches, even a
  module that owns no parameter;
- before a module runs, its parameters are gathered, then DeepSpeed prefetches whole parameters of
  the following steps until stage3_prefetch_bucket_size elements (5e7) are in flight, within
  stage3_max_live_parameters (1e9) gathered in all;
- after a module runs, its parameters are released unless prefetched for a later step or used again
  within stage3_max_reuse_distance (1e9) elements of the trace: at the turn from forward to
  backward everything trainable of a model under 5e8 elements stays gathered.

Parameters of at most stage3_param_persistence_threshold (1e5) elements are never released and
counted with the parameters (deepspeed_plan.py), not here. A gathered parameter takes its padded
size (a multiple of W); on one rank it is a view of its partition, no copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

from .memory_plan import Split


@dataclass(frozen=True)
class Limits:
    """DeepSpeed's stage3_* settings, in elements (defaults: DeepSpeed's; the benchmark scales them down)."""

    persistence: int = 100_000  # stage3_param_persistence_threshold: at most this, kept whole on every rank
    prefetch: int = 50_000_000  # stage3_prefetch_bucket_size: elements prefetched after a fetch
    max_live: int = 1_000_000_000  # stage3_max_live_parameters: prefetch stops at this many gathered
    reuse: int = 1_000_000_000  # stage3_max_reuse_distance: elements of the trace a kept parameter may wait


DEFAULTS = Limits()


@dataclass(frozen=True)
class Held:
    """One parameter as the coordinator sees it: its module, elements, gathered bytes and side."""

    module: str
    numel: int
    gathered: int  # bytes of the padded, whole tensor
    trainable: bool
    persistent: bool


def _children(held: list[Held]) -> dict[str, list[str]]:
    """Every module on the way to a parameter's owner ("" the root), with its children in inventory order."""
    children: dict[str, list[str]] = {"": []}
    for h in held:
        parts = h.module.split(".") if h.module else []
        for depth in range(len(parts)):
            node = ".".join(parts[: depth + 1])
            if node not in children:
                children[node] = []
                children[".".join(parts[:depth])].append(node)
    return children


def _preorder(children: dict[str, list[str]], backward: bool) -> list[str]:
    """A module before its children (its hook fires first), the children last to first in backward."""
    out, todo = [], [""]
    while todo:
        node = todo.pop()
        out.append(node)
        todo.extend(children[node] if backward else children[node][::-1])
    return out


def trace(held: list[Held]) -> list[list[int]]:
    """The steps: each one module's parameters (indices into `held`), forward then backward. Every module
    on the way to a parameter is called, but for lists (children named 0, 1, ...: a ModuleList is never
    called); backward skips the frozen prefix, which gets no gradient."""
    owned: dict[str, list[int]] = {}
    for i, h in enumerate(held):
        owned.setdefault(h.module, []).append(i)
    children = _children(held)

    def called(node: str) -> bool:
        return not node or node in owned or not all(c.rpartition(".")[2].isdigit() for c in children[node])

    forward = [n for n in _preorder(children, backward=False) if called(n)]
    owners = [n for n in forward if n in owned]
    first = next((k for k, n in enumerate(owners) if any(held[i].trainable for i in owned[n])), len(owners))
    in_backward = set()
    for node in owners[first:]:
        while node not in in_backward:
            in_backward.add(node)
            node = node.rpartition(".")[0] if node else ""
    in_backward &= set(forward) if owners[first:] else set()
    backward = [n for n in _preorder(children, backward=True) if n in in_backward]
    return [owned.get(n, []) for n in forward + backward]


@dataclass
class _State:
    """The coordinator's state while the step is replayed."""

    held: list[Held]
    limits: Limits
    elements: int  # gathered elements (DeepSpeed's count starts at 0 each step: persistent ones left out)
    live: set[int] = field(default_factory=set)  # non-persistent parameters gathered now
    head: int = 0  # the prefetch queue's position in the flat parameter trace
    now: Split = Split()
    peak: Split = Split()

    def gather(self, i: int) -> int:
        """Gather parameter i if it is not yet: the elements that brings in."""
        h = self.held[i]
        if h.persistent or i in self.live:
            return 0
        self.live.add(i)
        self.elements += h.numel
        self.now += Split(0, h.gathered) if h.trainable else Split(h.gathered)
        if self.now.total > self.peak.total:
            self.peak = self.now
        return h.numel

    def release(self, i: int) -> None:
        h = self.held[i]
        self.live.discard(i)
        self.elements -= h.numel
        self.now += Split(0, -h.gathered) if h.trainable else Split(-h.gathered)


def peak_gathered(held: list[Held], limits: Limits = DEFAULTS) -> Split:
    """The most non-persistent parameter bytes gathered at once, frozen and trainable apart."""
    steps = trace(held)
    flat = [(s, i) for s, ids in enumerate(steps) for i in ids]  # the prefetch queue
    step_end = list(accumulate(len(ids) for ids in steps))
    reach = [0, *accumulate(sum(held[i].numel for i in ids) for ids in steps)]  # trace elements before step s
    occurs: dict[int, list[int]] = {}
    for s, ids in enumerate(steps):
        for i in ids:
            occurs.setdefault(i, []).append(s)
    fetched_for = [-1] * len(held)  # the latest step a prefetch covered, per parameter
    state = _State(held, limits, 0)
    for s, ids in enumerate(steps):
        for i in ids:
            state.gather(i)
        state.head = max(state.head, step_end[s])
        _prefetch(state, flat, fetched_for)
        for i in ids:  # released unless prefetched for later or used again within limits.reuse elements
            again = next((u for u in occurs[i] if u > s), None)
            if i not in state.live or fetched_for[i] > s:
                continue
            if again is None or reach[again] - reach[s + 1] >= limits.reuse:
                state.release(i)
    return state.peak


def _prefetch(state: _State, flat: list[tuple[int, int]], fetched_for: list[int]) -> None:
    """DeepSpeed's loop: whole parameters from the queue until the bucket's elements are in flight."""
    budget, numel = min(state.limits.max_live - state.elements, state.limits.prefetch), 0
    while state.head < len(flat) and numel < budget:
        s, i = flat[state.head]
        state.head += 1
        fetched_for[i] = max(fetched_for[i], s)
        numel += state.gather(i)
