"""The repeated blocks of a model and the layer id of each parameter, from the inventory alone (pure).

Repeated blocks (FSDP's default units, `count --shard-by`, and the layers of layer-wise lr decay):
the classes of modules that (1) are not containers (Sequential, ModuleList, ModuleDict), (2) have
submodules and hold parameters, (3) appear at least twice under the same parent; of those, the
outermost (a candidate nested in another candidate's instance is dropped). ResNet gives
Bottleneck/BasicBlock, ViT EncoderBlock, Llama LlamaDecoderLayer.

Layer ids (docs/training.md): the blocks in registration order are layers 1..n; a parameter
registered before the first block (the embeddings) or held directly by the root (position unknown:
ViT's class token) is layer 0; one registered after the last block (final norm, head) is layer
n + 1; one registered between two blocks (a downsample) belongs to the next block's layer.
"""

from __future__ import annotations

import bisect
from collections import Counter

from ..errors import NoMatchError
from .records import Inventory
from .rules import Rule, Selector

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def parent_of(name: str) -> str | None:
    return None if not name else name.rpartition(".")[0]


def within(name: str, root: str) -> bool:
    return not root or name == root or name.startswith(root + ".")


def repeated_block_types(inventory: Inventory) -> tuple[str, ...]:
    modules = [m for m in inventory.modules]
    has_children = {parent_of(m.name) for m in modules if m.name}
    owners = {p.module for p in inventory.params}
    holds = {m.name for m in modules if any(within(o, m.name) for o in owners)} if owners else set()
    siblings = Counter((parent_of(m.name), m.type) for m in modules if m.name)
    candidates = {
        m.type
        for m in modules
        if m.name
        and m.name in has_children
        and m.name in holds
        and not any(c in m.bases for c in CONTAINERS)
        and siblings[(parent_of(m.name), m.type)] >= 2
    }
    instances = [m for m in modules if m.type in candidates]
    outer = [m for m in instances if not any(o is not m and o.name and within(m.name, o.name) for o in instances)]
    return tuple(dict.fromkeys(m.type for m in outer))


def repeated_blocks(inventory: Inventory) -> list[str]:
    """The names of the outermost repeated-block instances, in registration order."""
    types = set(repeated_block_types(inventory))
    blocks: list[str] = []
    for m in inventory.modules:
        if m.name and m.type in types and not any(within(m.name, b) for b in blocks):
            blocks.append(m.name)
    return blocks


def layer_ids(inventory: Inventory) -> list[int]:
    """The layer id of each parameter (inventory order), by the repeated-blocks rule above."""
    order = {m.name: i for i, m in enumerate(inventory.modules)}
    blocks = repeated_blocks(inventory)
    starts = [order[b] for b in blocks]
    ids = []
    for p in inventory.params:
        block = next((k for k, b in enumerate(blocks) if within(p.module, b)), None)
        if block is not None:
            ids.append(block + 1)
        elif not p.module or not blocks or p.module not in order:
            ids.append(0)
        else:  # before the first block: 0; between blocks k and k+1: k+2; after the last: n+1
            ids.append(bisect.bisect_left(starts, order[p.module]) + 1 if order[p.module] > starts[0] else 0)
    return ids


def layer_ids_by_selectors(inventory: Inventory, selectors: tuple[str, ...], where: str) -> list[int]:
    """Layer i is what `selectors[i]` selects (the last selector wins); the rest is layer len(selectors)."""
    selector = Selector(inventory)
    ids = [len(selectors)] * len(inventory.params)
    for i, pattern in enumerate(selectors):
        rule = Rule("unfreeze", pattern, f"{where}[{i}]")
        chosen = selector.select(rule)
        if not chosen:
            raise NoMatchError(f"{where}[{i}] '{pattern}' selects no parameter: {selector.no_match_reason(rule)}")
        for j in chosen:
            ids[j] = i
    return ids
