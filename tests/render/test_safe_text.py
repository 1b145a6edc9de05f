"""The escaping every renderer uses for text from files and users (render/safe_text.py). Pure: no torch."""

from __future__ import annotations

import pytest

from freezekit.render.safe_text import csv_text, markdown_code, markdown_text, plain


def test_plain_escapes_control_and_invisible_characters_only():
    assert plain("features.0.weight") == "features.0.weight"
    assert plain("ü.ß.权重") == "ü.ß.权重"
    assert plain("a\x1b[2Jb\nc\rd\u202ee\x00") == r"a\x1b[2Jb\nc\rd\u202ee\x00"


def test_markdown_code_spans_survive_backticks_and_pipes():
    assert markdown_code("a.b") == "`a.b`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x``") == "``` `x`` ```"
    assert markdown_code("a|b") == r"`a\|b`"
    assert markdown_text("1 *a* <b> [c](d) | e_f") == r"1 \*a\* \<b\> \[c\](d) \| e\_f"
    assert markdown_text(markdown_code("a*b")) == "`a*b`"  # already safe: kept


@pytest.mark.parametrize(
    "text, cell",
    [
        ("=1+1", "'=1+1"),
        ("+a", "'+a"),
        ("-a.w", "'-a.w"),
        ("@x", "'@x"),
        ("a=b", "a=b"),
        ("\tx", r"\tx"),
        ("x\ny", r"x\ny"),
    ],
)
def test_csv_cells_never_start_a_formula(text, cell):
    assert csv_text(text) == cell


def test_a_source_name_from_a_file_is_escaped_everywhere_it_is_printed(cli, tmp_path, monkeypatch):
    """Issue 20, class 13: a factory file named with ESC sequences and a bidi override: the table titles,
    the HTML and SVG exports and the API repr show escapes, never the raw characters."""
    import shutil
    from pathlib import Path

    import freezekit

    monkeypatch.chdir(tmp_path)
    name = "m\x1b[2J\u202eyp.py"
    shutil.copy(Path(__file__).parents[1] / "models_for_tests.py", tmp_path / name)
    source, shown = f"{name}:build_tied", r"m\x1b[2J\u202eyp.py:build_tied"
    for args in ((), ("--depth", "1")):
        code, out, err = cli("freeze", source, *args, "--no-cache", "--export", "t.html")
        assert (code, err) == (0, "")
        title = "parameters" if not args else "modules at depth 1"
        assert f"{shown}: {title}" in out.splitlines()[0]
        assert "\x1b" not in out and "\u202e" not in out
        assert f"{shown}: {title}" in (tmp_path / "t.html").read_text()
        (tmp_path / "t.html").unlink()
    assert cli("freeze", source, "--no-cache", "--export", "t.svg")[0] == 0
    svg = (tmp_path / "t.svg").read_text()
    assert "\x1b" not in svg and "\u202e" not in svg and r"\x1b[2J\u202eyp.py" in svg.replace("&#160;", " ")
    from tests.models_for_tests import build_tied

    report = freezekit.freeze(build_tied(), source=source)
    assert repr(report).startswith(f"<FreezeReport {shown}: 60 of 60 parameters trainable")
    assert "\x1b" not in report._repr_html_() and "\u202e" not in report._repr_html_()
