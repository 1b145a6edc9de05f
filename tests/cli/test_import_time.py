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
