"""Freezing a model that is already wrapped, and optimizers that shard: one in-process rank (gloo, a
HashStore: no port), the real wrappers."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn

import freezekit
from freezekit.distributed.wrap_guard import unwrapped_name, wrapper_of
from freezekit.errors import UsageError


@pytest.fixture(scope="module")
def group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))


def test_ddp_wrapped_model_is_refused(group):
    model = _net()
    wrapped = nn.parallel.DistributedDataParallel(model)
    with pytest.raises(
        UsageError,
        match=r"the model is already wrapped in DistributedDataParallel.*Freeze model\.module "
        "before wrapping.*after_wrap=True",
    ):
        freezekit.freeze(wrapped, rules=["module.0"])
    assert all(p.requires_grad for p in model.parameters())  # nothing changed
    report = freezekit.freeze(wrapped, rules=["module.0"], after_wrap=True)
    assert freezekit.freeze(wrapped, rules=["module.0"], after_wrap="ok").frozen == report.frozen  # the old spelling
    assert report.frozen == ["module.0.weight", "module.0.bias"]
    freezekit.freeze(model, rules=["0"])  # the unwrapped model is fine (the wrapper is its parent, not inside it)


def test_fsdp1_and_fsdp2_are_refused(group):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FullyShardedDataParallel, fully_shard

    two = _net()
    fully_shard(two[2], mesh=init_device_mesh("cpu", (1,)))
    assert wrapper_of(two) == ("2", "FSDP2 (fully_shard)")
    with pytest.raises(UsageError, match=r"freeze: 2 is already wrapped in FSDP2 \(fully_shard\)"):
        freezekit.freeze(two, rules=["0"])
    # FSDP1 refuses to wrap without an accelerator: an instance of the real class, built without its __init__
    one = FullyShardedDataParallel.__new__(FullyShardedDataParallel)
    nn.Module.__init__(one)
    one._modules["_fsdp_wrapped_module"] = _net()
    assert wrapper_of(one) == ("the model", "FSDP1 (FullyShardedDataParallel)")
    with pytest.raises(UsageError, match="FSDP1"):
        freezekit.freeze(one, rules=["*"])
    with pytest.raises(UsageError, match="after_wrap='yes'"):
        freezekit.freeze(_net(), rules=["0"], after_wrap="yes")


def test_audit_notices_frozen_parameters_in_a_zero_optimizer(group):
    from torch.distributed.optim import ZeroRedundancyOptimizer

    model = _net()
    wrapped = nn.parallel.DistributedDataParallel(model)
    optimizer = ZeroRedundancyOptimizer(wrapped.parameters(), optimizer_class=torch.optim.AdamW, lr=0.1)
    model[0].weight.requires_grad_(False)
    audit = freezekit.audit_optimizer(wrapped, optimizer)
    assert audit.frozen_in_optimizer == ("0.weight",) and audit.decayed_frozen == ("0.weight",)
    assert not audit.ok


def test_audit_notices_frozen_parameters_in_an_fsdp2_optimizer(group):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    model = _net()
    model[0].weight.requires_grad_(False)
    fully_shard(model, mesh=init_device_mesh("cpu", (1,)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # the frozen DTensor too
    assert freezekit.audit_optimizer(model, optimizer).frozen_in_optimizer == ("0.weight",)


def test_unwrapped_names():
    inserted = frozenset({"module", "module.blocks.0._fsdp_wrapped_module", "_orig_mod"})
    assert unwrapped_name("module.blocks.0._fsdp_wrapped_module.fc.bias", inserted) == "blocks.0.fc.bias"
    assert unwrapped_name("_orig_mod.head.weight", inserted) == "head.weight"
    assert unwrapped_name("modules.weight", inserted) == "modules.weight"
    assert unwrapped_name("enc.module.weight", inserted) == "enc.module.weight"  # the user's own `module`
    assert unwrapped_name("module.weight", frozenset()) == "module.weight"


class _Holder(nn.Module):
    """A model of the user's own whose submodules are called `module`, as many are."""

    def __init__(self):
        super().__init__()
        self.module = nn.Linear(4, 4)
        self.enc = nn.Sequential()
        self.enc.module = nn.Linear(4, 2)


def test_audit_keeps_the_users_own_module_names(group):
    model = _Holder()
    model.module.weight.requires_grad_(False)
    model.enc.module.bias.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    expected = ("module.weight", "enc.module.bias")
    assert freezekit.audit_optimizer(model, optimizer).frozen_in_optimizer == expected
    wrapped = nn.parallel.DistributedDataParallel(model)  # the wrapper's `module.` goes, the user's stays
    assert freezekit.audit_optimizer(wrapped, optimizer).frozen_in_optimizer == expected


def test_apply_manifest_refuses_a_wrapped_model_too(group, tmp_path):
    model = _net()
    path = tmp_path / "m.json"
    freezekit.save_manifest(freezekit.freeze(model, rules=["0"]), str(path))
    wrapped = nn.parallel.DistributedDataParallel(_net())
    with pytest.raises(UsageError, match="DistributedDataParallel"):
        freezekit.apply_manifest(wrapped, str(path))
    fresh = _net()
    freezekit.apply_manifest(fresh, str(path))
    assert [p.requires_grad for p in fresh.parameters()] == [False, False, True, True]
