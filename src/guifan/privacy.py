"""Masking of personal data in conversation text: mobile numbers, ID-card numbers, bank-card numbers.

Masking keeps the text's length and its first and last characters of each number, so that a
finding's span still points at the same words and a reviewer can still tell two numbers apart:
"13812345678" → "138****5678". Corpus masks such as "[电话x]" are left alone.

    mask_personal_data("我手机号13812345678,卡号6222021234567890123")
    '我手机号138****5678,卡号6222***********0123'
"""

from __future__ import annotations

import re

# Mainland mobile numbers (1[3-9] + 9 digits), optionally written with spaces or dashes 3-4-4.
_MOBILE = re.compile(r"(?<![\d])1[3-9]\d(?:[ -]?\d{4}){2}(?![\d])")
# 18-character resident ID (17 digits + digit or X) and the old 15-digit form.
_ID_CARD = re.compile(r"(?<![\dA-Za-z])(?:\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")
# Bank cards: 16-19 digits, optionally grouped by 4 with spaces or dashes.
_BANK_CARD = re.compile(r"(?<![\d])(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{1,3})?(?![\d])")


def _keep_ends(match: re.Match, head: int, tail: int) -> str:
    text = match.group(0)
    digits = [i for i, ch in enumerate(text) if ch.isalnum()]
    hidden = set(digits[head: len(digits) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def mask_personal_data(text: str) -> str:
    """``text`` with mobile, ID-card and bank-card numbers masked (same length)."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _ID_CARD.sub(lambda m: _keep_ends(m, 6, 4), text)
    text = _BANK_CARD.sub(lambda m: _keep_ends(m, 4, 4), text)
    return _MOBILE.sub(lambda m: _keep_ends(m, 3, 4), text)
