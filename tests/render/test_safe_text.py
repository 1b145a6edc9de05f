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


@pytest.mark.parametrize("text, cell", [("=1+1", "'=1+1"), ("+a", "'+a"), ("-a.w", "'-a.w"), ("@x", "'@x"),
                                        ("a=b", "a=b"), ("\tx", r"\tx"), ("x\ny", r"x\ny")])
def test_csv_cells_never_start_a_formula(text, cell):
    assert csv_text(text) == cell
