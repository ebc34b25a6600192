"""The normalization tables: filled a character at a time, from data generated out of OpenCC and pypinyin."""

import runpy
from pathlib import Path

import pytest

from guifan import text as textnorm

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_text_tables.py"


def test_generated_tables_match_the_installed_libraries():
    """guifan/_text_tables.py is what scripts/make_text_tables.py makes of the installed OpenCC
    and pypinyin (after upgrading either, run the script again)."""
    script = runpy.run_path(str(SCRIPT))
    assert script["TARGET"].read_text(encoding="utf-8") == script["module_text"](), \
        "run python3 scripts/make_text_tables.py"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full width, upper case
        ("您好,請稍等。", "你好请稍等"),  # 您, traditional, punctuation
        ("謝謝您的耐心!😊", "谢谢你的耐心"),  # emoji
        ("𠀀字 ①", "𠀀字1"),  # a CJK extension kept, a circled digit folded
        ("\u0301é\u00a0x", "éx"),  # a combining mark and a no-break space removed
    ],
)
def test_basic_form(text, expected):
    assert textnorm.basic(text) == expected


def test_offsets_skip_what_the_forms_remove():
    text = "嗯,您好呀!請稍等"
    assert textnorm.offsets(text, "basic") == [0, 2, 3, 4, 6, 7, 8, 9]
    assert textnorm.offsets(text, "loose") == [2, 3, 6, 7, 8, 9]
