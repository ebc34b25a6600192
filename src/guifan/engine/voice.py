"""What the voice rules and the reports both count in a turn of a recording."""

from __future__ import annotations

import re

from guifan import text as textnorm
from guifan.model import Turn

# Spoken characters for the speech rate: Chinese characters and digits.
_SPOKEN = re.compile(r"[\u4e00-\u9fff0-9]")


def spoken_characters(turn: Turn) -> int | None:
    """Characters said in a turn: counted in its words, or, without words (a recording without
    speech recognition), the syllables heard, one per Chinese character; None if neither."""
    if textnorm.basic(textnorm.blank_emoticons(turn.text)):
        return len(_SPOKEN.findall(turn.text))
    return turn.voice.syllables if turn.voice is not None else None
