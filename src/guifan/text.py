"""Text normalization for phrase matching.

Two normalized forms of every text are matched against the rulebook's phrases:

* ``basic``: full-width to half-width, lower case, traditional to simplified characters, 您 to 你,
  and punctuation, spaces, symbols and emoji removed;
* ``loose``: ``basic`` with filler particles (嗯、啊、呀、呢、哦、吧 …) removed as well;
* ``sound``: ``loose`` with every Chinese character replaced by one representative of its toneless
  pinyin syllable, so that homophones typical of speech recognition and pinyin input (请稍登 for
  请稍等, 报歉 for 抱歉, 在见 for 再见) read the same. Same length as ``loose``.

Every step maps one character to one or zero characters, so the whole normalization is a single
``str.translate`` (C speed) and a position in a normalized text maps back to the original text by
skipping the removed characters. That map is built only when a phrase is found.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

# Filler particles and interjections that agents sprinkle into chat and speech.
FILLERS = "嗯恩啊呀呢哦噢喔吧啦哈哟呐嘞咯哇呗"

_KEEP_CATEGORIES = ("L", "N")
# Chat emoticon codes ("[微笑]", "[委屈]", "[爱你]") are pictures, not words. Masks of anonymized
# corpora ("[订单x]") end in x and stay.
EMOTICON = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")  # letters (incl. CJK) and digits survive; everything else is noise


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


def blank_emoticons(text: str) -> str:
    """``text`` with emoticon codes replaced by spaces of the same length (offsets do not move)."""
    return EMOTICON.sub(lambda m: " " * len(m.group()), text) if "[" in text else text


def basic(text: str) -> str:
    return text.translate(_tables()[0])


def loosen(basic_text: str) -> str:
    """The loose form of an already basic-normalized text."""
    return basic_text.translate(_tables()[1])


def loose(text: str) -> str:
    return loosen(basic(text))


@lru_cache(maxsize=1)
def _homophones() -> dict[int, int]:
    """CJK character -> the first character (in code point order) read with the same toneless syllable.

    pypinyin's per-character table gives each character's readings; the first one is the most
    common. Tone marks are dropped (ASR confuses tones as readily as characters), ü stays apart from u.
    """
    from pypinyin.pinyin_dict import pinyin_dict

    representative: dict[str, int] = {}
    table: dict[int, int] = {}
    for cp in sorted(pinyin_dict, key=lambda c: (not 0x4E00 <= c <= 0x9FFF, c)):  # readable representatives
        reading = pinyin_dict[cp].split(",", 1)[0]
        syllable = "".join(
            c for c in unicodedata.normalize("NFD", reading.replace("ü", "v")) if not unicodedata.combining(c)
        )
        first = representative.setdefault(syllable, cp)
        if first != cp:
            table[cp] = first
    return table


def sound(loose_text: str) -> str:
    """The sound form of an already loose-normalized text (see the module docstring)."""
    return loose_text.translate(_homophones())


def offsets(text: str, form: str) -> list[int]:
    """For each character of the normalized ``form`` ("basic", "loose" or "sound") of ``text``, its
    index in ``text``.

    A final entry ``len(text)`` is appended so that an exclusive end maps too.
    """
    table, fillers = _tables()
    kept: list[int] = []
    for i, ch in enumerate(text):
        mapped = table.get(ord(ch), ord(ch))
        if mapped is None:
            continue
        if form != "basic" and mapped in fillers:
            continue
        kept.append(i)
    kept.append(len(text))
    return kept


def warm_up(homophones: bool = True) -> None:
    """Build the translation tables now (about 0.1 s, the homophone table 0.1 s more) rather than
    inside the first check."""
    _tables()
    if homophones:
        _homophones()
