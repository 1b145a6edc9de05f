import pytest

from freezekit.core.dtypes import Dtype
from freezekit.distributed.memory_plan import plan_options
from freezekit.errors import UsageError
from freezekit.verify.options import verify_options


def test_one_dtype_choice_with_the_short_spellings_too():
    assert [Dtype(t) for t in ("fp32", "bf16", "fp16")] == [Dtype.FLOAT32, Dtype.BFLOAT16, Dtype.FLOAT16]
    assert plan_options(param_dtype="bf16").param_dtype is plan_options(param_dtype="bfloat16").param_dtype
    assert verify_options("cpu", None, None, "bf16", 1, 0, False).dtype == "bfloat16"  # as count spells it
    with pytest.raises(UsageError, match="--dtype float16: choose float32 or bfloat16"):
        verify_options("cpu", None, None, "float16", 1, 0, False)


def test_count_and_verify_take_the_same_spelling(cli):
    outs = [
        cli("count", "resnet18", "--memory-plan", "--param-dtype", d, "-f", "json")[1] for d in ("bf16", "bfloat16")
    ]
    assert outs[0] == outs[1] and '"param_dtype": "bfloat16"' in outs[0]
