"""`freezekit check MANIFEST CHECKPOINT`: the frozen set compared by the names the manifest recorded
(no rules re-resolved, so through: and type: manifests check like any other), and each recorded
digest compared with the checkpoint's tensor. With reference values at hand (`--against FILE`),
a changed tensor also gets its largest absolute difference."""

from __future__ import annotations

from ..core.manifest import Drift, Manifest, fingerprint
from ..core.manifest_values import digest_of, entry
from ..sources.checkpoint import is_buffer
from .tensor_diff import Status, compare_tensor
from .tensor_files import TensorFile


def checkpoint_table(manifest: Manifest, checkpoint: TensorFile) -> dict[str, str]:
    """The checkpoint's parameter table: what the manifest calls a parameter, and anything else that
    does not look like a buffer (a state_dict does not say which is which)."""
    return {
        s.name: entry(s.shape, s.dtype)
        for s in checkpoint.entries.values()
        if s.name in manifest.parameters or not is_buffer(s.name, s.dtype)
    }


def digest_in(checkpoint: TensorFile, name: str) -> str:
    s = checkpoint.entries[name]
    return digest_of(s.shape, s.dtype, checkpoint.chunks(name))


def _changed_line(name: str, checkpoint: TensorFile, against: TensorFile | None) -> str:
    if against is None or name not in against.entries:
        return f"{name} (digest differs)"
    d = compare_tensor(name, against, checkpoint)
    if d.status is not Status.CHANGED:
        return f"{name} (digest differs; --against {against.path} holds other values than the manifest recorded)"
    return f"{name} (max abs diff {d.max_abs_diff:.6g})"


def _values(manifest: Manifest, checkpoint: TensorFile, against: TensorFile | None, same: list[str]) -> dict:
    """values_changed, stats_moved, values_compared and values_note for the frozen names present
    with the manifest's shape and dtype (`same`)."""
    values = manifest.values
    if values.recorded:
        changed = [
            _changed_line(n, checkpoint, against)
            for n in same
            if n in values.tensors and digest_in(checkpoint, n) != values.tensors[n]
        ]
        moved = [n for n, d in values.norm_stats.items() if n in checkpoint.entries and digest_in(checkpoint, n) != d]
        compared = sum(1 for n in same if n in values.tensors)
        return {"values_changed": tuple(changed), "stats_moved": tuple(moved), "values_compared": compared}
    if against is not None:
        rows = [compare_tensor(n, against, checkpoint) for n in same if n in against.entries]
        changed = [
            f"{r.name} (max abs diff {r.max_abs_diff:.6g})"
            if r.max_abs_diff is not None
            else f"{r.name} (bytes differ)"
            for r in rows
            if r.status is not Status.UNCHANGED
        ]
        note = f"the manifest recorded no values ({values.note}); compared with --against {against.path}"
        return {"values_changed": tuple(changed), "values_compared": len(rows), "values_note": note}
    return {"values_note": f"values were not compared: {values.note}"}


def check_checkpoint(manifest: Manifest, checkpoint: TensorFile, against: TensorFile | None = None) -> Drift:
    table = checkpoint_table(manifest, checkpoint)
    then = manifest.parameters
    frozen = [n for n in manifest.frozen if n in then]
    same = [n for n in frozen if table.get(n) == then[n]]
    return Drift(
        added=tuple(n for n in table if n not in then),
        removed=tuple(n for n in then if n not in table),
        changed=tuple(f"{n}: {then[n]} -> {v}" for n, v in table.items() if n in then and then[n] != v),
        fingerprint_now=fingerprint(table),
        fingerprint_then=fingerprint(then),
        manifest_edited=fingerprint(then, manifest.version) != manifest.fingerprint,
        **_values(manifest, checkpoint, against, same),
    )
