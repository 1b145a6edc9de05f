"""What a MODEL argument names, decided from the string alone (no torch, no file reads)."""
from __future__ import annotations

from dataclasses import dataclass

TORCHVISION = "torchvision"
FACTORY = "factory"  # package.module:callable
FILE_FACTORY = "file"  # path/to/file.py:callable
SAFETENSORS = "safetensors"
SAFETENSORS_INDEX = "safetensors-index"
STATE_DICT = "state-dict"  # .pt / .pth / .bin
TIMM = "timm"  # timm:NAME
HF = "hf"  # hf:PATH or hf:ORG/NAME (a transformers model, a PEFT adapter, or a folder of weights)
PREFIXED = {"timm:": TIMM, "hf:": HF}
CHECKPOINT_KINDS = (SAFETENSORS, SAFETENSORS_INDEX, STATE_DICT)


@dataclass(frozen=True)
class Source:
    kind: str
    ref: str  # the name, module path, or file path
    attr: str = ""  # the callable, for factories

    @property
    def is_checkpoint(self) -> bool:
        return self.kind in CHECKPOINT_KINDS


def parse_source(text: str) -> Source:
    for prefix, kind in PREFIXED.items():
        if text.startswith(prefix):
            return Source(kind, text[len(prefix):])
    lowered = text.lower()
    if lowered.endswith(".safetensors"):
        return Source(SAFETENSORS, text)
    if lowered.endswith(".json"):
        return Source(SAFETENSORS_INDEX, text)
    if lowered.endswith((".pt", ".pth", ".bin", ".ckpt")):
        return Source(STATE_DICT, text)
    head, sep, tail = text.rpartition(":")
    if sep and head and tail:
        return Source(FILE_FACTORY if head.endswith(".py") else FACTORY, head, tail)
    return Source(TORCHVISION, text)
