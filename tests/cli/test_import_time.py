"""Only a fresh interpreter tells whether torch was imported."""

import subprocess
import sys


def fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_help_does_not_import_torch():
    out = fresh(
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from freezekit.cli.app import app\n"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0\n"
        "r = CliRunner().invoke(app, ['count', '--help']); assert r.exit_code == 0\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)"
    )
    assert out == "False False"


def test_errors_found_before_a_model_do_not_import_torch(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: vgg16\nrulez: []\n")
    out = fresh(
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from freezekit.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['count', '-c', {str(bad)!r}]); assert r.exit_code == 3, r.output\n"
        "r = CliRunner().invoke(app, ['count', 'vgg16', '-p', 're:(']); assert r.exit_code == 7, r.output\n"
        "r = CliRunner().invoke(app, ['count', 'vgg16', '--depth', '-2']); assert r.exit_code == 2, r.output\n"
        "print('torch' in sys.modules)"
    )
    assert out == "False"


def test_help_imports_no_model_library():
    out = fresh(
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from freezekit.cli.app import app\n"
        "for args in (['--help'], ['count', '--help'], ['models', '--help'], ['freeze', '--help']):\n"
        "    r = CliRunner().invoke(app, args); assert r.exit_code == 0\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'transformers', 'peft', 'huggingface_hub')"
        " if m in sys.modules))"
    )
    assert out == "[]"


def test_a_missing_library_exits_4_with_the_pip_command(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    out = fresh(
        "import sys\n"
        "sys.modules['timm'] = None; sys.modules['transformers'] = None  # as if not installed\n"
        "from typer.testing import CliRunner\n"
        "from freezekit.cli.app import app\n"
        "r = CliRunner().invoke(app, ['count', 'timm:resnet18', '--no-cache'])\n"
        "print(r.exit_code, r.stderr.strip())\n"
        f"r = CliRunner().invoke(app, ['count', 'hf:{tmp_path}', '--no-cache'])\n"
        "print(r.exit_code, r.stderr.strip())\n"
    )
    assert out.splitlines() == [
        "4 freezekit: error: timm: models need timm, which is not installed: pip install 'freezekit[timm]'",
        "4 freezekit: error: hf: models need transformers, which is not installed: pip install 'freezekit[hf]'",
    ]
