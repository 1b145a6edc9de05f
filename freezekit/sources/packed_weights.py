"""Honest counts for state_dict entries that are not one tensor per parameter. Pure: no torch.

- bitsandbytes 4-bit (`Params4bit`, saved as `W` (uint8) beside `W.absmax`, `W.quant_map`,
  `W.quant_state.bitsandbytes__nf4`, ...): two 4-bit values per stored byte, so the logical
  parameter count is 2 x the stored bytes, which is also what PEFT's get_nb_trainable_parameters()
  counts for a Params4bit. The record keeps that logical count (shape: one dimension) with dtype
  nf4/fp4, whose bytes are the packed storage; the quantization state beside it is a buffer.
- bitsandbytes 8-bit (`Int8Params`, `W` (int8) beside `W.SCB`): one parameter per stored byte;
  `W.SCB` and `W.weight_format` are buffers.
- torch.nn.utils.prune (`W_orig` beside `W_mask`): the parameter is `W_orig`, once; the mask is a buffer.
- Packed formats whose bit width lives outside the file (GPTQ/AWQ `qweight`, `qzeros`): not unpacked
  (the width is in the model's config.json quantization_config); they stay buffers and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

BNB4_STATE = ".quant_state.bitsandbytes__"
BNB4_AUX = (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state")
BNB8_AUX = (".SCB", ".weight_format")
GPTQ_PACKED = ("qweight", "qzeros")


@dataclass(frozen=True)
class Entry:
    """One state_dict tensor as the checkpoint inventory will record it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    aliases: tuple[str, ...] = ()
    buffer: bool | None = None  # None: decide by name and dtype as for any tensor


def unpack(entries: list[tuple[str, tuple[int, ...], str, tuple[str, ...]]]) -> tuple[list[Entry], list[str]]:
    """Entries with packed weights given their logical count, their side tensors marked as
    buffers, and notes saying what was counted how."""
    names = {e[0] for e in entries}
    bnb4 = {n.partition(BNB4_STATE)[0]: n.partition(BNB4_STATE)[2] for n in names if BNB4_STATE in n}
    bnb8 = {n[: -len(".SCB")] for n in names if n.endswith(".SCB")}
    pruned = {n[: -len("_mask")] for n in names if n.endswith("_mask") and n[: -len("_mask")] + "_orig" in names}
    out: list[Entry] = []
    counts = {"bnb4": 0, "bnb8": 0, "pruned": 0, "gptq": 0}
    for name, shape, dtype, aliases in entries:
        owner = _aux_owner(name, bnb4, BNB4_AUX) or _aux_owner(name, bnb8, BNB8_AUX)
        if name in bnb4:
            stored = 1
            for d in shape:
                stored *= d
            out.append(Entry(name, (2 * stored,), bnb4[name], aliases, buffer=False))
            counts["bnb4"] += 1
        elif name in bnb8:
            out.append(Entry(name, shape, dtype, aliases, buffer=False))
            counts["bnb8"] += 1
        elif owner is not None:
            out.append(Entry(name, shape, dtype, aliases, buffer=True))
        elif name.endswith("_mask") and name[: -len("_mask")] in pruned:
            out.append(Entry(name, shape, dtype, aliases, buffer=True))
            counts["pruned"] += 1
        else:
            if name.rpartition(".")[2] in GPTQ_PACKED:
                counts["gptq"] += 1
            out.append(Entry(name, shape, dtype, aliases))
    return out, _notes(counts)


def _aux_owner(name: str, owners: dict | set, suffixes: tuple[str, ...]) -> str | None:
    for suffix in suffixes:
        head, sep, _ = name.rpartition(suffix)
        if sep and head in owners and (name.endswith(suffix) or suffix == ".quant_state"):
            return head
    return None


def _notes(counts: dict[str, int]) -> list[str]:
    notes = []
    if counts["bnb4"]:
        notes.append(
            f"{counts['bnb4']} bitsandbytes 4-bit weights: counted as 2 parameters per stored byte (their "
            "logical size, as PEFT counts Params4bit); their bytes are the packed storage, and their "
            "quantization state (absmax, quant_map) is reported as buffers"
        )
    if counts["bnb8"]:
        notes.append(
            f"{counts['bnb8']} bitsandbytes 8-bit weights: one parameter per int8 element; "
            "their scales (SCB) are reported as buffers"
        )
    if counts["pruned"]:
        notes.append(f"{counts['pruned']} pruned weights: counted once as *_orig; their *_mask is reported as a buffer")
    if counts["gptq"]:
        notes.append(
            f"{counts['gptq']} packed quantized tensors (qweight/qzeros, GPTQ or AWQ) are not unpacked: "
            "their bit width is in the model's config.json, not in this file; they are reported as buffers. "
            "Audit the model folder with hf:FOLDER to count its logical parameters"
        )
    return notes
