"""Text normalization for phrase matching.

Two normalized forms of every text are matched against the rulebook's phrases:

* ``basic``: full-width to half-width, lower case, traditional to simplified characters, 您 to 你,
  and punctuation, spaces, symbols and emoji removed;
* ``loose``: ``basic`` with filler particles (嗯、啊、呀、呢、哦、吧 …) removed as well.

Every step maps one character to one or zero characters, so the whole normalization is a single
``str.translate`` (C speed) and a position in a normalized text maps back to the original text by
skipping the removed characters. That map is built only when a phrase is found.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache

# Filler particles and interjections that agents sprinkle into chat and speech.
FILLERS = "嗯恩啊呀呢哦噢喔吧啦哈哟呐嘞咯哇呗"

_KEEP_CATEGORIES = ("L", "N")  # letters (incl. CJK) and digits survive; everything else is noise


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, int | None], dict[int, None]]:
    import opencc

    table: dict[int, int | None] = {}
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if not cat.startswith(_KEEP_CATEGORIES):
            table[cp] = None
            continue
        if cp > 0xFFFF and not (0x20000 <= cp <= 0x3FFFF):
            table[cp] = None  # emoji and other astral symbols outside the CJK extensions
            continue
        folded = unicodedata.normalize("NFKC", ch).lower()
        if len(folded) == 1 and folded != ch:
            table[cp] = ord(folded)
    # Traditional -> simplified, character by character (one OpenCC call for the whole CJK block).
    cjk = "".join(chr(c) for c in range(0x4E00, 0xA000))
    simplified = opencc.OpenCC("t2s").convert(cjk)
    if len(simplified) == len(cjk):
        for a, b in zip(cjk, simplified):
            if a != b:
                table[ord(a)] = ord(b)
    table[ord("您")] = ord("你")
    fillers = {ord(c): None for c in FILLERS}
    return table, fillers


def basic(text: str) -> str:
    return text.translate(_tables()[0])


def loosen(basic_text: str) -> str:
    """The loose form of an already basic-normalized text."""
    return basic_text.translate(_tables()[1])


def loose(text: str) -> str:
    return loosen(basic(text))


def offsets(text: str, form: str) -> list[int]:
    """For each character of the normalized ``form`` ("basic" or "loose") of ``text``, its index in ``text``.

    A final entry ``len(text)`` is appended so that an exclusive end maps too.
    """
    table, fillers = _tables()
    kept: list[int] = []
    for i, ch in enumerate(text):
        mapped = table.get(ord(ch), ord(ch))
        if mapped is None:
            continue
        if form == "loose" and mapped in fillers:
            continue
        kept.append(i)
    kept.append(len(text))
    return kept


def warm_up() -> None:
    """Build the translation tables now (about 0.1 s) rather than inside the first check."""
    _tables()
