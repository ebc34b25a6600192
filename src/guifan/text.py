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

The translation table is filled a character at a time, the first time a text holds it (built for
all of Unicode up front, it cost 0.8 s of every start-up). What comes from other libraries, OpenCC's
traditional characters and pypinyin's readings, is precomputed in ``guifan._text_tables``
(``scripts/make_text_tables.py``): no check imports them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from guifan import _text_tables

# Filler particles and interjections that agents sprinkle into chat and speech.
FILLERS = "嗯恩啊呀呢哦噢喔吧啦哈哟呐嘞咯哇呗"

_KEEP_CATEGORIES = ("L", "N")
# Chat emoticon codes ("[微笑]", "[委屈]", "[爱你]") are pictures, not words. Masks of anonymized
# corpora ("[订单x]") end in x and stay.
EMOTICON = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")  # letters (incl. CJK) and digits survive; everything else is noise


class _Folding(dict):
    """Code point -> its basic form: another code point, or None (removed). An entry is made the
    first time a character is looked up (``str.translate`` asks for every character)."""

    __slots__ = ()

    def __missing__(self, cp: int) -> int | None:
        value = self[cp] = _fold(cp)
        return value


def _fold(cp: int) -> int | None:
    """The basic form of one character: traditional to simplified, width and case folded (NFKC),
    removed when neither a letter nor a digit, or an astral symbol outside the CJK extensions."""
    if 0xD800 <= cp <= 0xDFFF:
        return cp
    simplified = _SIMPLIFIED.get(cp)
    if simplified is not None:
        return simplified
    ch = chr(cp)
    if not unicodedata.category(ch).startswith(_KEEP_CATEGORIES):
        return None
    if cp > 0xFFFF and not (0x20000 <= cp <= 0x3FFFF):
        return None  # emoji and other astral symbols outside the CJK extensions
    folded = unicodedata.normalize("NFKC", ch).lower()
    return ord(folded) if len(folded) == 1 else cp


_SIMPLIFIED = dict(zip(map(ord, _text_tables.SIMPLIFIED[::2]), map(ord, _text_tables.SIMPLIFIED[1::2])))
_FOLDING = _Folding({ord("您"): ord("你")})
_FILLERS = {ord(c): None for c in FILLERS}


def blank_emoticons(text: str) -> str:
    """``text`` with emoticon codes replaced by spaces of the same length (offsets do not move)."""
    return EMOTICON.sub(lambda m: " " * len(m.group()), text) if "[" in text else text


def basic(text: str) -> str:
    return text.translate(_FOLDING)


def loosen(basic_text: str) -> str:
    """The loose form of an already basic-normalized text."""
    return basic_text.translate(_FILLERS)


def loose(text: str) -> str:
    return loosen(basic(text))


@lru_cache(maxsize=1)
def _homophones() -> dict[int, int]:
    """CJK character -> the first character (in code point order) read with the same toneless syllable.

    From pypinyin's per-character table (precomputed: ``scripts/make_text_tables.py``): a
    character's first reading is its most common. Tone marks are dropped (ASR confuses tones as
    readily as characters), ü stays apart from u.
    """
    table: dict[int, int] = {}
    for group in _text_tables.HOMOPHONES.split(" "):
        table.update(dict.fromkeys(map(ord, group[1:]), ord(group[0])))
    return table


def sound(loose_text: str) -> str:
    """The sound form of an already loose-normalized text (see the module docstring)."""
    return loose_text.translate(_homophones())


def offsets(text: str, form: str) -> list[int]:
    """For each character of the normalized ``form`` ("basic", "loose" or "sound") of ``text``, its
    index in ``text``.

    A final entry ``len(text)`` is appended so that an exclusive end maps too.
    """
    folding = _FOLDING
    if form == "basic":
        kept = [i for i, ch in enumerate(text) if folding[ord(ch)] is not None]
    else:
        kept = [i for i, ch in enumerate(text) if (mapped := folding[ord(ch)]) is not None and mapped not in _FILLERS]
    kept.append(len(text))
    return kept

