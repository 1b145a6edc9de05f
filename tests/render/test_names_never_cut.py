"""Every table freezekit prints keeps names whole: with no terminal (no COLUMNS: sized to the
content) and at 80 columns, a module name and a class name longer than the line come out whole,
never cut with '…' and never wrapped."""

import pytest

LONG_CLASS = "TransformerEncoderLayerWithAVeryLongClassNameIndeed"
LONG_NAME = "encoder_blocks_with_a_rather_long_attribute_name_that_goes_on"

FACTORY = f"""
from torch import nn


class {LONG_CLASS}(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.linear(x))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.{LONG_NAME} = nn.Sequential({LONG_CLASS}(), {LONG_CLASS}())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.{LONG_NAME}(x))


def build():
    return Model()
"""


@pytest.fixture(params=[None, "80"], ids=["no tty", "80 columns"])
def columns(request, monkeypatch):
    if request.param is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", request.param)
    return request.param


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "long_names.py"
    path.write_text(FACTORY)
    return f"{path}:build"


def whole(out: str, *names: str) -> None:
    assert "…" not in out
    for name in names:
        assert name in out, name


@pytest.mark.parametrize(
    "args",
    [
        ("freeze", "-p", "head"),  # the parameter table and the BatchNorm kinds
        ("freeze", "-p", "head", "--batchnorm-details"),  # one BatchNorm row per layer
        ("count", "--depth", "2"),  # the module table
        ("count", "--shard-by", LONG_CLASS, "--fsdp-flat"),  # the FSDP units
        ("count", "--memory-plan", "--world-size", "2"),  # the memory plan
    ],
    ids=["parameters", "batchnorm", "modules", "units", "memory plan"],
)
def test_audit_tables(cli, columns, model, args):
    code, out, err = cli(args[0], model, "--no-cache", *args[1:])
    assert code == 0, err
    if "--memory-plan" in args:  # no names in it: its rows and its title whole
        whole(out, "Memory plan per rank: ddp, world size 2, adamw, stored dtypes")
        assert "\ntotal         0 B    1.1 KiB  1.1 KiB\n" in out
    elif args[0] == "freeze":
        whole(out, f"{LONG_NAME}.0.linear.weight", f"{LONG_NAME}.1.norm" if "--batchnorm-details" in args else "")
    else:
        whole(out, f"{LONG_NAME}.0", f"{LONG_NAME}.1")
    if "--shard-by" in args:
        whole(out, LONG_CLASS)


def test_verify_table(cli, columns, model):
    code, out, err = cli(
        "verify",
        model,
        "-p",
        LONG_NAME + ".0",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--input-shape",
        "4",
        "--batch-size",
        "2",
    )
    assert code == 0, err
    whole(out, model, "frozen parameters have no gradient")
    assert max(len(line) for line in out.splitlines()) > 80  # the line grew, the name did not shrink


def test_distributed_tables():
    """The checks and bytes-per-rank tables of verify --ddp/--fsdp, rendered from a result."""
    import io

    from freezekit.distributed.memory_plan import OptimizerKind, PlanOptions, Split, memory_plan
    from freezekit.distributed.render import write_dist
    from freezekit.distributed.results import DistResult, Engine, RankReport
    from freezekit.render.view import Format
    from freezekit.verify.result import Check

    plan = memory_plan((), PlanOptions())
    split = Split(0, 0)
    rank = RankReport(0, split, split, split, steps_done=1)
    check = Check(
        "trainable parameters received a gradient",
        False,
        f"1 trainable tensors got no gradient: {LONG_NAME}.0.linear.weight",
        severity="warning",
    )
    result = DistResult(
        f"{LONG_NAME}.py:build",
        Engine.DDP,
        2,
        "gloo",
        "cpu",
        OptimizerKind.ADAMW,
        1,
        "2 synthetic inputs per rank",
        (check,),
        plan,
        plan,
        (rank, rank),
    )
    out = io.StringIO()
    write_dist(result, Format.TABLE, False, out)
    whole(out.getvalue(), f"{LONG_NAME}.0.linear.weight", f"verify {LONG_NAME}.py:build under DDP")


@pytest.mark.parametrize("command", ["freeze", "count", "verify", "check", "models"])
def test_help_piped_at_80_columns(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert "…" not in out
    if command == "count":
        whole(out, "AutoModelForSequenceClassification", "TransformerEncoderLayer,LlamaDecoderLayer")
