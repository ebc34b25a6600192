"""JSON to and from UTF-8 bytes with orjson (several times faster than the json module on reports
and state lines), falling back to the json module for the values orjson refuses.

orjson writes the same JSON (UTF-8, no ``\\uXXXX`` escapes of Chinese) but refuses integers past 64
bits and strings holding lone surrogates; such a value is written by the json module instead, with
``\\uXXXX`` escapes (still valid JSON that reads back to the same value).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_INDENT = orjson.OPT_INDENT_2


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """``value`` as JSON bytes; ``indent``: two spaces a level, like ``json.dumps(indent=2)``."""
    try:
        return orjson.dumps(value, option=_INDENT if indent else 0)
    except TypeError:  # orjson.JSONEncodeError: a huge integer or a lone surrogate
        return json.dumps(value, indent=2 if indent else None, separators=None if indent else (",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """JSON text as Python values (what ``dumps`` wrote: orjson refuses the NaN and Infinity the json
    module writes for such floats, so those are read by the json module). Raises ValueError
    (``json.JSONDecodeError``) when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
