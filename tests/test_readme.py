"""Every `bash`, `yaml` and `python` block of README.md, of the pages in docs/ and of
benchmarks/README.md runs as written.

Each block runs in a temporary folder holding a copy of `configs/`, the `my_models.py` and the
`llama/` checkpoint index the README's recipes name (made here, tiny: `build` takes 6 features,
`build_lm` a sequence of 8 values). freezekit commands run
in-process (CliRunner), so torch is imported once; a pipe into another program (`| jq .totals`)
feeds it freezekit's stdout. A `python` block runs in-process in a fresh namespace. A block is skipped only when the paragraph before it says
"not run by the tests" (pretrained weights from the network, a GPU), as the README shows readers.
Setup commands are checked, not run: `pip install` must name this project, `pytest` is this run.
"""

import json
import re
import shlex
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
SKIP_MARK = "not run by the tests"

MY_MODELS = '''\
import torch
from torch import nn

from tests.distributed.dist_models import TinyLM  # the same tiny LM the distributed tests use


class Net(nn.Module):
    """A stem, an encoder of `depth` blocks and a head; input: 6 features."""

    def __init__(self, depth: int = 2):
        super().__init__()
        self.stem = nn.Linear(6, 12)
        self.encoder = nn.Sequential(*[nn.Sequential(nn.Linear(12, 12), nn.ReLU()) for _ in range(depth)])
        self.head = nn.Linear(12, 4)

    def forward(self, x):
        return self.head(self.encoder(torch.relu(self.stem(x))))


def build(depth: int = 2) -> nn.Module:
    return Net(depth)


def build_lm() -> nn.Module:
    return TinyLM()
'''


def blocks() -> list:
    """(language, text) of every bash/yaml/python block of every page, with the skip marks applied."""
    return [param for page in PAGES for param in page_blocks(page)]


def page_blocks(page: Path) -> list:
    out, lines = [], page.read_text().splitlines()
    label = page.relative_to(ROOT)
    i = 0
    while i < len(lines):
        match = re.fullmatch(r"```(bash|yaml|python)\s*", lines[i])
        if not match:
            i += 1
            continue
        end = lines.index("```", i + 1)
        stop = i
        while stop > 0 and not lines[stop - 1].strip():
            stop -= 1
        start = stop
        while start > 0 and lines[start - 1].strip():  # the paragraph just before the block
            start -= 1
        before = " ".join(line.strip() for line in lines[start:stop])
        marks = [pytest.mark.skip(reason=before)] if SKIP_MARK in before else []
        out.append(pytest.param(match[1], "\n".join(lines[i + 1 : end]), id=f"{label} line {i + 1}", marks=marks))
        i = end + 1
    return out


def write_llama_index(folder: Path, layers: int = 40) -> None:
    """A sharded safetensors checkpoint, headers only (the data is a hole): model.layers.0-39."""
    names = [
        "model.embed_tokens.weight",
        *[
            f"model.layers.{i}.{w}.weight"
            for i in range(layers)
            for w in ("self_attn.q_proj", "mlp.up_proj", "input_layernorm")
        ],
        "model.norm.weight",
        "lm_head.weight",
    ]
    folder.mkdir()
    weight_map = {}
    for shard, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :])):
        shard_name = f"model-0000{shard + 1}-of-00002.safetensors"
        header, offset = {}, 0
        for name in part:
            shape = [16] if name.endswith("layernorm.weight") or name == "model.norm.weight" else [16, 16]
            size = 2 * (shape[0] * (shape[1] if len(shape) > 1 else 1))
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[name] = shard_name
        blob = json.dumps(header).encode()
        with open(folder / shard_name, "wb") as f:
            f.write(struct.pack("<Q", len(blob)) + blob)
            f.truncate(8 + len(blob) + offset)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    write_llama_index(tmp_path / "llama")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def commands(text: str) -> list[tuple[list[str], int]]:
    """(argv, expected exit code) per command: shell lines (comments dropped, continuations joined),
    split at '&&'; a '|' stays inside its command as a separate token. A trailing comment
    '# exits N' says the README shows a command that fails on purpose, with code N."""
    out, pending = [], ""
    for line in text.splitlines():
        line = pending + line
        pending = ""
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        expected = re.search(r"#\s*exits (\d+)", line)
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in words + ["&&"]:
            if word == "&&":
                if command:
                    out.append((command, int(expected[1]) if expected else 0))
                command = []
            else:
                command.append(word)
    return out


def run_shell_command(cli, argv: list[str], expected: int = 0) -> None:
    if argv[0] == "pip":
        assert argv[1:3] == ["install", "-e"] and argv[3] in (".", ".[test]"), f"installs something else: {argv}"
        return
    if argv == ["pytest"]:
        return  # this run
    assert argv[0] == "freezekit", f"the README runs '{argv[0]}': teach tests/test_readme.py about it or mark the block"
    args, pipe = (argv[1 : argv.index("|")], argv[argv.index("|") + 1 :]) if "|" in argv else (argv[1:], None)
    code, out, err = cli(*args)
    assert code == expected, f"{' '.join(argv)}: exit {code}, not {expected}: {err}"
    assert out.strip() or (expected and err.startswith("freezekit: error: ")), f"{' '.join(argv)}: printed nothing"
    if pipe:
        if pipe[0] == "jq" and not shutil.which("jq"):
            data = json.loads(out)
            for key in pipe[1].strip(".").split("."):
                data = data[key]
            return
        done = subprocess.run(pipe, input=out, capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip(), done.stderr


@pytest.mark.parametrize("language, text", blocks())
def test_readme_block_runs(cli, workdir, language, text):
    if language == "python":
        exec(compile(text, "<docs block>", "exec"), {"__name__": "__docs__"})
        return
    if language == "yaml":
        (workdir / "freezekit.yaml").write_text(text)
        code, out, err = cli("count", "-f", "json")
        assert code == 0, err
        assert all(e["ok"] for e in json.loads(out)["expectations"])
        return
    for argv, expected in commands(text):
        run_shell_command(cli, argv, expected)


def test_the_readme_has_blocks_to_run():
    params = blocks()
    assert len(params) >= 6
    assert {p.values[0] for p in params} == {"bash", "yaml", "python"} and sum(not p.marks for p in params) >= 9
    readme = page_blocks(ROOT / "README.md")
    assert len(ROOT.joinpath("README.md").read_text().splitlines()) <= 200 and len(readme) >= 3
