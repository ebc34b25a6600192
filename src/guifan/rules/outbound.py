"""呼出与回访: an outbound or follow-up call opens with identity, purpose and a time check (S-I1)."""

from __future__ import annotations

from typing import Iterator

from guifan.engine.context import CheckContext
from guifan.engine.registry import Rule, register
from guifan.model import Finding
from guifan.rules.opening import Part, absence_of, is_outbound, lacking_message, missing_parts

_PARTS = (
    Part("表明身份(我是[公司]客服代表)", ("identity_statement",)),
    Part("说明来电目的(关于您之前反映的问题给您做个回访)", ("call_purpose",)),
    Part("确认客户是否方便(请问您现在方便接听电话吗)", ("time_check",)),
)
_OPENING_TURNS = 2


@register
class OutboundOpening(Rule):
    code = "OUT001"
    name = "outbound-call-without-introduction"
    clauses = ("S-I1",)
    category = "opening"
    what = (
        "呼出或回访电话(元数据 direction: outbound 或 type: 回访)中,客服在前两句话里没有表明身份、说明来电目的、"
        "确认客户现在是否方便。"
    )
    why = "主动打给客户时,先说清「我是谁、为什么打来、您现在方便吗」,才不会被当成骚扰电话。"
    bad = (
        "# channel: phone\n# direction: outbound\n客服: 您好,您上次的问题解决了吗?\n客户: 解决了",
        "# channel: phone\n# type: 回访\n客服: 您好,我是京东客服代表1024,关于您之前反映的问题给您做个回访。\n客户: 嗯",
    )
    good = (
        "# channel: phone\n# direction: outbound\n"
        "客服: 您好,我是京东客服代表1024,关于您之前反映的问题给您做个回访,请问您现在方便接听电话吗?\n客户: 方便",
        "# channel: phone\n# direction: outbound\n客服: 您好,我是京东客服代表1024。\n客户: 什么事?\n"
        "客服: 关于您之前反映的物流问题给您做个回访,不知道现在打扰您方便吗?",
        "# channel: phone\n客服: 您好,您上次的问题解决了吗?\n客户: 解决了",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.agent or not is_outbound(ctx.conversation.metadata):
            return
        opening = ctx.agent[:_OPENING_TURNS]
        missing = missing_parts(opening, _PARTS)
        if missing:
            yield self.finding(opening[0], lacking_message("回访开场", missing), confidence=absence_of(self, opening, _PARTS))
