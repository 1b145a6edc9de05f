"""freezekit.guard: a plain training loop, clean and with an injected violation."""

from __future__ import annotations

import pytest
import torch

import freezekit
from freezekit.errors import ExitCode, UsageError, VerifyError
from tests.training.training_models import TinyViT


def _train(model, optimizer, steps, g, inject_at=None):
    torch.manual_seed(0)
    for i in range(steps):
        if i == inject_at:
            model.embed.requires_grad_(True)  # a bug: the frozen embedding starts training
        loss = model(torch.randn(2, 6)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        g.step()


def test_a_clean_loop_passes_and_the_frozen_tensors_are_bit_identical():
    model = TinyViT()
    freezekit.freeze(model, rules=["embed", "blocks.0"])
    before = model.embed.weight.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # holds every parameter, frozen ones too
    with freezekit.guard(model, check_every=2) as g:
        _train(model, optimizer, 4, g)
    assert g.frozen_names == [
        "embed.weight",
        "embed.bias",
        "blocks.0.norm.weight",
        "blocks.0.norm.bias",
        "blocks.0.fc.weight",
        "blocks.0.fc.bias",
    ]
    assert torch.equal(model.embed.weight, before) and not g.violations()


def test_an_injected_violation_is_caught_at_the_next_check_with_the_names():
    model = TinyViT()
    freezekit.freeze(model, rules=["embed"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(VerifyError) as info:
        with freezekit.guard(model, check_every=3) as g:
            _train(model, optimizer, 6, g, inject_at=1)
    assert g.calls == 3  # raised at the first check, not at exit
    assert str(info.value) == (
        "frozen parameters changed during training: 2 moved (embed.weight, embed.bias); "
        "2 set trainable (embed.weight, embed.bias); 2 got a gradient (embed.weight, embed.bias)"
    )
    assert info.value.exit_code == ExitCode.VERIFY


def test_warn_mode_and_rebase():
    model = TinyViT()
    freezekit.freeze(model, rules=["embed"])
    g = freezekit.guard(model, on_violation="warn")
    model.embed.weight.data += 1
    with pytest.warns(RuntimeWarning, match=r"1 moved \(embed.weight\)"):
        assert g.check().moved == ("embed.weight",)
    g.rebase()
    assert not g.check()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"check_every": 0}, "check_every=0: give a whole number, 1 or more"),
        ({"on_violation": "ignore"}, "on_violation='ignore': choose 'raise' or 'warn'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(UsageError, match=message):
        freezekit.guard(TinyViT(), **kwargs)
