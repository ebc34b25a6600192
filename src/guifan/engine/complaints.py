"""Complaint detection: which customer turns complain or show dissatisfaction.

Shared by the complaint family (S-D1 … S-D8) through ``CheckContext.complaint_turns``. A customer
turn complains when it

* says so or reports a failure (rulebook ``customer_complaint``; negations are guarded there:
  "没有不满意", "京东从不让人失望"), threatens regulators or media
  (``customer_strong_complaint``), complains about an agent's attitude
  (``customer_attitude_complaint``) or counts the days it has waited ("都3天了", "一个礼拜了"); or
* sounds annoyed: impatience (``customer_impatience``: 快点, 赶紧, 着急 but not 不着急) or a run of
  question marks or dots ("???", "。。。"), unless the same turn thanks the agent ("好的谢谢,快点
  哈" is politeness, not anger).

A request on its own (退款, 退货, 换货) and urgency on its own (急用) are not complaints: the gold
labels of the JDDC sample do not count them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guifan.engine.context import CheckContext, TurnView

COMPLAINT = ("customer_complaint", "customer_strong_complaint", "customer_attitude_complaint")
# A formal complaint: the customer says 投诉/举报 or threatens regulators or media (S-D2, S-D3).
FORMAL = ("customer_formal_complaint", "customer_strong_complaint")

# "……" is the ordinary Chinese ellipsis (two U+2026); only a run beyond it sounds exasperated.
_ANNOYED_PUNCTUATION = re.compile(r"[?？]{3,}|[。.]{3,}|…{3,}")
# In the basic form (no punctuation, 您→你): "3天了", "两个星期了", "[数字x]天了" (masked corpora).
_DAYS_WAITED = re.compile(r"(?:\d+|数字x|[一二两三四五六七八九十几半]+)(?:天|周|个?星期|个?礼拜|个?月)了")


def is_complaint(view: TurnView) -> bool:
    if not view.is_customer:
        return False
    if view.has(*COMPLAINT) or _DAYS_WAITED.search(view.basic):
        return True
    annoyed = view.has("customer_impatience") or _ANNOYED_PUNCTUATION.search(view.text) is not None
    return annoyed and not view.has("customer_thanks")


def complaint_turns(ctx: CheckContext) -> list[TurnView]:
    return [v for v in ctx.customer if is_complaint(v)]


def formal_complaint_turns(ctx: CheckContext) -> list[TurnView]:
    return [v for v in ctx.customer if v.has(*FORMAL)]
