"""The benchmark's cases: the floor, freezekit's commands, the peers, a 70B header, the rule engine."""
from __future__ import annotations

import json
import math
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the rule engine case measures this checkout, installed or not
PY = sys.executable
FREEZEKIT = (PY, "-m", "freezekit")  # children run in ROOT, so `-m` finds this checkout too
CHILD_TIMEOUT_S = 600
VGG16_TOTAL = 138_357_544

CLASSIC = """\
import torchvision
model = torchvision.models.vgg16()
total = sum(p.numel() for p in model.parameters())
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(total, trainable)
"""
TORCHINFO = """\
import torchvision
from torchinfo import summary
stats = summary(torchvision.models.vgg16(), verbose=0)  # no input_size: counts, no forward pass
print(stats.total_params, stats.trainable_params)
"""
FVCORE = """\
import torchvision
from fvcore.nn import parameter_count_table
print(parameter_count_table(torchvision.models.vgg16()))
"""


# -- cases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    key: str  # short id, used in the JSON and by -k
    name: str
    argv: tuple[str, ...] = ()  # a child process to time ...
    call: Optional[Callable[[], float]] = None  # ... or an in-process timing, in seconds
    role: str = "freezekit"  # floor | freezekit | peer | inproc
    vgg16: bool = False  # counts VGG16's parameters: compared with the best peer
    expect: str = ""  # stdout must contain this
    prime: bool = False  # run once untimed before the rounds (for warm-cache cases)
    needs: str = ""  # the module a peer imports; the peer is skipped without it


def child_cases(checkpoint: Path, checkpoint_total: int) -> list[Case]:
    """The subprocess cases, in table order. Cold freezekit figures pass --no-cache; the warm
    one is primed once, untimed, so that its inventory is in the (temporary) cache."""
    fk = FREEZEKIT
    return [
        Case("floor", 'python -c "import torch, torchvision"', (PY, "-c", "import torch, torchvision"), role="floor"),
        Case("count_vgg16", "freezekit count vgg16 --no-cache", (*fk, "count", "vgg16", "--no-cache"),
             vgg16=True, expect=f"{VGG16_TOTAL:,}"),
        Case("count_vgg16_warm", "freezekit count vgg16 (warm inventory cache)", (*fk, "count", "vgg16"),
             vgg16=True, expect=f"{VGG16_TOTAL:,}", prime=True),
        Case("freeze_vgg16", "freezekit freeze vgg16 -p 'features.*' --format json --no-cache",
             (*fk, "freeze", "vgg16", "-p", "features.*", "--format", "json", "--no-cache"),
             vgg16=True, expect='"trainable": 123642856'),
        Case("count_vit_h_14", "freezekit count vit_h_14 --no-cache", (*fk, "count", "vit_h_14", "--no-cache"),
             expect="632,045,800"),
        Case("help", "freezekit --help", (*fk, "--help"), expect="Usage"),
        Case("header_70b", "freezekit count llama-70b.safetensors --format json --no-cache (sparse, 70.6B params)",
             (*fk, "count", str(checkpoint), "--format", "json", "--no-cache"), expect=f'"total": {checkpoint_total}'),
        Case("classic", "peer: classic numel() loop over vgg16()", (PY, "-c", CLASSIC), role="peer", vgg16=True,
             expect=f"{VGG16_TOTAL} {VGG16_TOTAL}"),
        Case("torchinfo", "peer: torchinfo.summary(vgg16(), verbose=0)", (PY, "-c", TORCHINFO), role="peer",
             vgg16=True, expect=f"{VGG16_TOTAL} {VGG16_TOTAL}", needs="torchinfo"),
        Case("fvcore", "peer: fvcore parameter_count_table(vgg16())", (PY, "-c", FVCORE), role="peer",
             vgg16=True, expect="| model ", needs="fvcore"),
    ]


# -- the 70B checkpoint header ---------------------------------------------------------------
def llama_70b_shapes():
    """Llama-3-70B's tensors: 80 layers, hidden 8192, 8 KV heads, FFN 28672, vocab 128256."""
    hidden, kv, ffn, vocab = 8192, 1024, 28672, 128256
    yield "model.embed_tokens.weight", (vocab, hidden)
    for i in range(80):
        layer = f"model.layers.{i}."
        yield layer + "input_layernorm.weight", (hidden,)
        yield layer + "self_attn.q_proj.weight", (hidden, hidden)
        yield layer + "self_attn.k_proj.weight", (kv, hidden)
        yield layer + "self_attn.v_proj.weight", (kv, hidden)
        yield layer + "self_attn.o_proj.weight", (hidden, hidden)
        yield layer + "post_attention_layernorm.weight", (hidden,)
        yield layer + "mlp.gate_proj.weight", (ffn, hidden)
        yield layer + "mlp.up_proj.weight", (ffn, hidden)
        yield layer + "mlp.down_proj.weight", (hidden, ffn)
    yield "model.norm.weight", (hidden,)
    yield "lm_head.weight", (vocab, hidden)


def write_sparse_safetensors(path: Path) -> int:
    """A valid safetensors file of bf16 tensors whose data is a hole; returns the parameter count."""
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in llama_70b_shapes():
        nbytes = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the format pads the header with spaces to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        f.truncate(8 + len(blob) + offset)  # sparse: 141 GB that take no disk
    return offset // 2


# -- the rule engine, in process -------------------------------------------------------------
STAGES, BLOCKS = 10, 1000  # x 10 parameters a block = 100,000 names
BLOCK = (  # (submodule, type, parameter shapes), in registration order
    ("attn", "Attention", ()), ("attn.qkv", "Linear", ((2304, 768), (2304,))),
    ("attn.proj", "Linear", ((768, 768), (768,))), ("norm1", "LayerNorm", ((768,), (768,))),
    ("mlp", "Mlp", ()), ("mlp.fc1", "Linear", ((3072, 768), (3072,))), ("mlp.fc2", "Linear", ((768, 3072), (768,))),
)
# Exact module names, globs (with and without a literal prefix), regexes; no two rules alike.
RULE_TEMPLATES = (
    ("stages.{s}.blocks.{b}", "stages.{s}.blocks.{b}.attn", "stages.{s}.blocks.{b}.mlp.fc2", "stages.{s}"),
    ("stages.{s}.blocks.*.norm1.*", "stages.{s}.blocks.{b}*", "*.blocks.{b}.attn.qkv.bias", "stages.*.blocks.{b}.mlp.*",
     "stages.{s}.blocks.1?.attn.*", "*.blocks.{b}.attn.proj.weight"),
    (r"re:stages\.{s}\.blocks\.\d+\.mlp\.fc1\.weight", r"re:.*\.blocks\.{b}\.norm1\.(weight|bias)",
     r"re:stages\.[0-{s}]\.blocks\.\d*7\.attn", r"re:stages\.{s}\.blocks\.\d+\.mlp\.fc[12]\.bias"),
)


def synthetic_inventory():
    from freezekit.core.records import Inventory, ModuleRecord, ParamRecord

    modules = [ModuleRecord("", "VisionTransformer"), ModuleRecord("stages", "ModuleList")]
    params = []
    for s in range(STAGES):
        modules += [ModuleRecord(f"stages.{s}", "Stage"), ModuleRecord(f"stages.{s}.blocks", "ModuleList")]
        for b in range(BLOCKS):
            block = f"stages.{s}.blocks.{b}"
            modules.append(ModuleRecord(block, "Block"))
            for sub, kind, shapes in BLOCK:
                modules.append(ModuleRecord(f"{block}.{sub}", kind, (kind, "Module")))
                for leaf, shape in zip(("weight", "bias"), shapes):
                    params.append(ParamRecord(f"{block}.{sub}.{leaf}", shape, "float32", f"{block}.{sub}", kind))
    return Inventory(tuple(params), modules=tuple(modules), source="synthetic")


def synthetic_rules(count: int = 50):
    from freezekit.core.rules import Rule

    rules = []
    for i in range(count):
        templates = RULE_TEMPLATES[i % 3]
        pattern = templates[(i // 3) % len(templates)].format(s=i % STAGES, b=(i * 37) % BLOCKS)
        rules.append(Rule("unfreeze" if i % 4 == 3 else "freeze", pattern, origin="benchmark"))
    return rules


def rule_engine_case() -> Case:
    from freezekit.core.plan import make_plan

    inventory, rules = synthetic_inventory(), synthetic_rules()

    def once() -> float:
        start = time.perf_counter()
        make_plan(inventory, rules, strict=True)  # strict: every one of the 50 rules must select
        return time.perf_counter() - start

    return Case("rules", f"rule engine: make_plan, {len(inventory.params):,} names x {len(rules)} rules "
                "(exact, glob, re:; in-process)", call=once, role="inproc")
