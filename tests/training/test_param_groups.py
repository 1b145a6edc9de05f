"""freezekit.param_groups: the timm and transformers oracles, the layer-id rule, bad input."""

from __future__ import annotations

import pytest
import torch

import freezekit
from freezekit.errors import ConfigError, NoMatchError, RuleError, UsageError
from tests.training.training_models import TinyViT, tiny_llama


def _canon(groups, model):
    names = {id(p): n for n, p in model.named_parameters()}
    return sorted((tuple(sorted(names[id(p)] for p in g["params"])), g["lr_scale"], g["weight_decay"]) for g in groups)


@pytest.mark.parametrize("arch, groups", [("vit_small_patch16_224", 28), ("convnext_tiny", 40)])
def test_timm_models_get_timm_s_own_layer_decay_groups(arch, groups):
    import timm
    from timm.optim import param_groups_layer_decay

    with torch.device("meta"):
        model = timm.create_model(arch, pretrained=False)
    no_wd = model.no_weight_decay() if hasattr(model, "no_weight_decay") else ()
    expected = param_groups_layer_decay(model, weight_decay=0.05, no_weight_decay_list=no_wd, layer_decay=0.75)
    ours = freezekit.param_groups(model, {"optimizer": {"weight_decay": 0.05, "layer_decay": 0.75}})
    assert len(ours) == len(expected) == groups
    assert _canon(ours, model) == _canon(expected, model)


def test_tiny_llama_no_decay_set_is_the_trainer_s_complement():
    from transformers import Trainer

    model = tiny_llama()
    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = freezekit.param_groups(model, weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay = {names[id(p)] for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert no_decay == {n for n, _ in model.named_parameters()} - decay
    assert len(no_decay) == 5  # 2 layers x 2 RMSNorms + the final norm


def test_repeated_blocks_give_the_layer_ids_and_only_trainable_parameters_join():
    model = TinyViT()
    freezekit.freeze(model, rules=["embed"])
    groups = freezekit.param_groups(
        model, weight_decay=0.05, layer_decay=0.5, lr=1.0, lr_scale=[{"select": "head", "scale": 10}]
    )
    names = {id(p): n for n, p in model.named_parameters()}
    got = [(g["name"], g["lr"], g["weight_decay"], [names[id(p)] for p in g["params"]]) for g in groups]
    assert got == [
        ("layer_0_decay", 0.0625, 0.05, ["cls_token"]),
        ("layer_1_no_decay", 0.125, 0.0, ["blocks.0.norm.weight", "blocks.0.norm.bias", "blocks.0.fc.bias"]),
        ("layer_1_decay", 0.125, 0.05, ["blocks.0.fc.weight"]),
        ("layer_2_no_decay", 0.25, 0.0, ["blocks.1.norm.weight", "blocks.1.norm.bias", "blocks.1.fc.bias"]),
        ("layer_2_decay", 0.25, 0.05, ["blocks.1.fc.weight"]),
        ("layer_3_no_decay", 0.5, 0.0, ["blocks.2.norm.weight", "blocks.2.norm.bias", "blocks.2.fc.bias"]),
        ("layer_3_decay", 0.5, 0.05, ["blocks.2.fc.weight"]),
        ("layer_4_no_decay", 1.0, 0.0, ["norm.weight", "norm.bias"]),
        ("layer_4_decay", 10.0, 0.05, ["head.weight"]),
        ("layer_4_no_decay", 10.0, 0.0, ["head.bias"]),
    ]
    assert sum(len(g["params"]) for g in groups) == 17  # 19 tensors, embed's 2 frozen


def test_layers_and_no_decay_selectors_replace_the_defaults():
    model = TinyViT()
    groups = freezekit.param_groups(
        model,
        weight_decay=0.1,
        no_decay=["type:LayerNorm", "cls_token"],
        layers=["cls_token", "embed", "blocks"],
        layer_decay=0.5,
    )
    scales = {(g["name"], g["lr_scale"], len(g["params"])) for g in groups}
    assert scales == {
        ("layer_0_no_decay", 0.125, 1),
        ("layer_1_decay", 0.25, 2),
        ("layer_2_no_decay", 0.5, 6),
        ("layer_2_decay", 0.5, 6),
        ("layer_3_no_decay", 1.0, 2),
        ("layer_3_decay", 1.0, 2),
    }


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"layer_decay": 1.5}, ConfigError, "optimizer.layer_decay: must be a number in (0, 1], not 1.5"),
        ({"layer_decay": 0}, ConfigError, "must be a number in (0, 1], not 0"),
        ({"lr_scale": {"hed": 2}}, NoMatchError, "optimizer.lr_scale[0] 'hed' selects no parameter"),
        ({"lr_scale": {"embed": 2}}, RuleError, "optimizer.lr_scale[0] 'embed' selects only frozen parameters"),
        ({"layers": ["nope"]}, NoMatchError, "optimizer.layers[0] 'nope' selects no parameter"),
        ({"lr": -1}, UsageError, "lr=-1: give a positive number"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs, error, message):
    model = TinyViT()
    freezekit.freeze(model, rules=["embed"])
    with pytest.raises(error) as info:
        freezekit.param_groups(model, **kwargs)
    assert message in str(info.value)
    assert type(info.value) is error


def test_config_file_sections_are_checked_with_their_key_paths(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optimizer:\n  weight_decay: 0.05\n  layer_dcay: 0.7\n")
    with pytest.raises(
        ConfigError, match=r"optimizer.layer_dcay \(line 3\): unknown key 'layer_dcay'; did you mean 'layer_decay'"
    ):
        freezekit.param_groups(TinyViT(), str(path))
