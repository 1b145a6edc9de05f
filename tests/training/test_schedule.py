"""freezekit.Schedule: Lightning's BackboneFinetuning as the oracle, the groups it adds, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import freezekit
from freezekit.errors import ConfigError, NoMatchError, RuleError
from tests.training.training_models import TinyViT


# BackboneFinetuning freezes the backbone but its BatchNorm layers before training (BaseFinetuning.freeze's
# train_bn=True), then unfreezes the rest at unfreeze_backbone_at_epoch: here, in rules.
def _stages_like_lightning(first: dict) -> dict:
    return {"stages": [{"at": 0, **first}, {"at": 2, "unfreeze": "backbone", "lr_scale": 0.1}]}


class Net(nn.Module):
    def __init__(self, backbone: nn.Module, features: int):
        super().__init__()
        self.backbone, self.head = backbone, nn.Linear(features, 3)


def _resnet():
    import torchvision

    backbone = torchvision.models.resnet18()
    backbone.fc = nn.Identity()
    return Net(backbone, 512)


def _vit():
    import timm

    return Net(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0), 192)


def _trace(net, optimizer, step):
    out = []
    for epoch in range(4):
        step(epoch)
        names = {id(p): n for n, p in net.named_parameters()}
        groups = [(sorted(names[id(p)] for p in g["params"]), g["lr"]) for g in optimizer.param_groups]
        out.append((sorted(n for n, p in net.named_parameters() if p.requires_grad), groups))
    return out


@pytest.mark.parametrize(
    "make, first",
    [
        (_resnet, {"freeze": "backbone", "unfreeze": "type:_BatchNorm"}),
        (_vit, {"freeze": "backbone"}),  # no BatchNorm: strict rules would refuse type:_BatchNorm here
    ],
    ids=["resnet18", "vit_tiny"],
)
def test_trainable_sets_and_added_lrs_equal_lightning_backbone_finetuning(make, first):
    from lightning.pytorch.callbacks import BackboneFinetuning

    theirs, ours = make(), make()  # real tensors: Lightning compares parameters by value (torch.equal)
    callback = BackboneFinetuning(
        unfreeze_backbone_at_epoch=2, lambda_func=lambda _: 1.0, backbone_initial_ratio_lr=0.1, train_bn=False
    )
    callback.freeze_before_training(theirs)
    opt_theirs = torch.optim.SGD([p for p in theirs.parameters() if p.requires_grad], lr=0.01)
    expected = _trace(theirs, opt_theirs, lambda e: callback.finetune_function(theirs, e, opt_theirs))
    schedule = freezekit.Schedule(ours, _stages_like_lightning(first))
    opt_ours = torch.optim.SGD(freezekit.trainable_parameters(ours), lr=0.01)
    got = _trace(ours, opt_ours, lambda e: schedule.step(e, opt_ours))
    assert got == expected
    assert [len(t) for t, _ in got] == ([42, 42, 62, 62] if make is _resnet else [2, 2, 152, 152])
    assert [g[1] for g in got[2][1]] == [0.01, pytest.approx(0.001)]


def _stages(*stages, **extra):
    return {"stages": list(stages), **extra}


def test_step_reports_each_stage_and_splits_groups_by_the_optimizer_section():
    model = TinyViT()
    config = _stages(
        {"at": 0, "freeze": "*", "unfreeze": "head"},
        {"at": 1, "unfreeze": ["blocks.2", "norm"], "lr_scale": 0.5},
        {"at": 3, "unfreeze": "blocks.[01]", "lr_scale": 0.25},
        optimizer={"weight_decay": 0.05},
    )
    schedule = freezekit.Schedule(model, config)
    optimizer = torch.optim.AdamW(freezekit.trainable_parameters(model), lr=0.1, weight_decay=0.01)
    assert schedule.step(0, optimizer) == []
    (change,) = schedule.step(1, optimizer)
    assert change.as_dict() == {
        "stage": 1,
        "at": 1,
        "unfrozen_tensors": 6,
        "unfrozen_numel": 36,
        "frozen_tensors": 0,
        "groups_added": 2,
        "trainable_params": 51,
        "frozen_params": 88,
    }
    assert [(g["lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups] == [
        (0.1, 0.01, 2),
        (0.05, 0.05, 1),
        (0.05, 0.0, 5),
    ]
    assert schedule.step(2, optimizer) == [] and not schedule.done
    (change,) = schedule.step(5, optimizer)
    assert (change.at, change.unfrozen_numel, change.trainable) == (3, 56, 107)
    assert schedule.done and len(optimizer.param_groups) == 5
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 16  # never a parameter twice


def test_refreezing_a_held_parameter_is_refused_unless_the_stage_says_refreeze():
    model = TinyViT()
    refused = _stages({"at": 0, "freeze": "embed"}, {"at": 1, "freeze": "head"})
    schedule = freezekit.Schedule(model, refused)
    optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.1)
    with pytest.raises(
        RuleError,
        match=r"stages\[1\] \(at 1\) would freeze 2 parameter\(s\) the optimizer holds "
        r"\(head.weight, head.bias\); add 'refreeze: true'",
    ):
        schedule.step(1, optimizer)
    assert model.head.weight.requires_grad  # nothing applied
    model = TinyViT()
    schedule = freezekit.Schedule(
        model, _stages({"at": 0, "freeze": "embed"}, {"at": 1, "freeze": "head", "refreeze": True})
    )
    optimizer = torch.optim.SGD(freezekit.trainable_parameters(model), lr=0.1)
    (change,) = schedule.step(1, optimizer)
    assert change.frozen == ("head.weight", "head.bias") and not model.head.weight.requires_grad
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 15  # 19 - embed's 2 - head's 2


def test_a_stage_selecting_nothing_names_the_stage_and_changes_nothing():
    model = TinyViT()
    schedule = freezekit.Schedule(model, _stages({"at": 0, "freeze": "*"}, {"at": 2, "unfreeze": ["head", "blocks.7"]}))
    with pytest.raises(
        NoMatchError,
        match=r"^stages\[1\] \(at 2\): rule 'unfreeze blocks.7' \(stages\[1\].unfreeze\) selects no parameter",
    ):
        schedule.step(2, None)
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize(
    "config, message",
    [
        (
            _stages({"at": 2, "freeze": "*"}, {"at": 2, "unfreeze": "head"}),
            "stages[1].at: 2 does not come after the previous stage's 2",
        ),
        (_stages({"at": 0, "freez": "*"}), "stages[0].freez: unknown key 'freez'; did you mean 'freeze'"),
        (_stages({"at": -1, "freeze": "*"}), "stages[0].at: must be a whole number, 0 or more"),
        ({"stages": [], "unit": "epoch"}, "stages: must be a non-empty list"),
        (_stages({"at": 0, "freeze": "*"}, unit="batch"), "unit: must be one of epoch, step, not 'batch'"),
    ],
)
def test_bad_stages_are_config_errors(config, message):
    with pytest.raises(ConfigError) as info:
        freezekit.Schedule(TinyViT(), config)
    assert message in str(info.value)
