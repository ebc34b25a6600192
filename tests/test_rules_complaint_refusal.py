"""Edge cases of the complaint (S-D1 … S-D8) and refusal (S-E1 … S-E4) families and of complaint
detection, beyond the rules' documented examples."""

from dataclasses import replace

import pytest

from guifan.engine import Engine
from guifan.readers.textlog import parse_example
from guifan.rulebook import load_rulebook
from guifan.engine.complaints import is_complaint

CODES = ["CMP", "REF"]
ENGINE = Engine(select=CODES)


def findings(example: str, code: str, engine: Engine = ENGINE, **metadata):
    conversation = parse_example(example)
    if metadata:
        conversation = replace(conversation, metadata={**conversation.metadata, **metadata})
    return [f for f in engine.check(conversation) if f.rule == code]


def engine_with(tmp_path, yaml_text: str) -> Engine:
    path = tmp_path / "company.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return Engine(rulebook=load_rulebook([path]), select=CODES)


# -- complaint detection ----------------------------------------------------------------------


def complains(text: str) -> bool:
    ctx = ENGINE.context(parse_example(f"客户: {text}\n客服: 好的"))
    return bool(ctx.complaint_turns) and is_complaint(ctx.turns[0])


@pytest.mark.parametrize(
    "text",
    [
        "我很不满意",
        "东西怎么这么慢",
        "我的货没有收到 为什么显示完成了呢",
        "谢谢,不过杯子碎了",  # thanks do not cancel a reported failure
        "都3天了还没发货",
        "已经两个星期了",
        "快点派送啊",
        "怎么退? 怎么操作? ???",
        "这个订单里少件了",
        "你们客服态度太差了",
        "再不解决我就打12315",
    ],
)
def test_complaints_detected(text):
    assert complains(text)


@pytest.mark.parametrize(
    "text",
    [
        "我没有不满意,就是问问",
        "不着急,你慢慢查",
        "京东从不让人失望",
        "好的谢谢,快点哈",  # politeness, not anger
        "我要申请退款",
        "明天急用",
        "满99元包邮吗,现在不满99元",
        "还有3天就到了吧",
        "这个?",
        "你好麻烦问下安装收费吗",
        "京东无假货",
    ],
)
def test_not_complaints(text):
    assert not complains(text)


def test_agent_words_are_no_complaint():
    ctx = ENGINE.context(parse_example("客户: 在吗\n客服: 您要投诉的话,东西坏了可以申请售后"))
    assert ctx.complaint_turns == []


# -- S-D1 --------------------------------------------------------------------------------------


def test_no_apology_reported_at_last_agent_turn_with_the_complaint():
    example = "客户: 东西怎么这么慢\n客服: 明天到。\n客户: 好吧\n客服: 请问还有其他可以帮到您的吗?"
    (finding,) = findings(example, "CMP001")
    assert finding.turn == 3
    assert "东西怎么这么慢" in finding.message


def test_apology_long_before_the_complaint_does_not_count():
    example = (
        "客户: 在吗\n客服: 不好意思久等了,请问有什么可以帮您?\n客户: 查下订单123\n客服: 已经发货了。\n"
        "客户: 怎么这么慢\n客服: 明天到。"
    )
    assert findings(example, "CMP001")


def test_apology_just_before_the_explicit_complaint_counts():
    example = "客户: 还没到\n客服: 给您带来不便很抱歉,我帮您催一下。\n客户: 都3天了\n客服: 已催促站点。"
    assert not findings(example, "CMP001")


@pytest.mark.parametrize("reply", ["请您不要着急,我帮您查询。", "我不太理解您的意思,您再说一下?"])
def test_reassurance_or_misunderstanding_is_no_empathy(reply):
    assert findings(f"客户: 东西坏了\n客服: {reply}", "CMP001")


def test_jd_boilerplate_counts_as_apology():
    example = "客户: 东西坏了\n客服: 已为您申请换新,妹子怠慢的地方,您多多包含哦。"
    assert not findings(example, "CMP001")


def test_complaint_without_agent_reply_is_not_judged():
    assert not findings("客户: 在吗\n客服: 在的\n客户: 东西坏了", "CMP001")


# -- S-D2 / S-D3 ------------------------------------------------------------------------------


def test_formal_complaint_missing_both_time_frame_and_contact_is_one_finding():
    (finding,) = findings("客户: 我要投诉\n客服: 抱歉,已记录。", "CMP003")
    assert "承诺处理时限" in finding.message and "留取联系方式" in finding.message


def test_company_promised_response_counts_as_time_frame(tmp_path):
    example = "客户: 我要投诉\n客服: 抱歉,已记录,48小时给您答复,请保持电话畅通。"
    phrases_only = 'semantic: {backend: "off"}\n'
    assert findings(example, "CMP003", engine_with(tmp_path, phrases_only))  # no phrase; the default promise is 24小时
    promise = engine_with(tmp_path, phrases_only + "company: {promised_response: 48小时}\n")
    assert not findings(example, "CMP003", promise)
    assert not findings(example, "CMP003")  # by meaning, "48小时给您答复" is a time frame in any case


def test_record_notice_must_follow_the_complaint():
    example = "客户: 你好\n客服: 您的反映我们会记录。\n客户: 我要投诉快递员\n客服: 非常抱歉。"
    assert findings(example, "CMP002")


# -- S-D4 --------------------------------------------------------------------------------------


def test_colleague_blame_is_reported_at_its_turn():
    example = (
        "客户: 上一个客服态度很差\n客服: 非常抱歉,感谢您的监督,我们会改进。\n客户: 他还挂我电话\n"
        "客服: 那是他的问题,跟我无关。"
    )
    (finding,) = findings(example, "CMP004")
    assert finding.turn == 3 and finding.quote in ("那是他的问题", "跟我无关")


def test_praise_of_the_service_attitude_is_no_attitude_complaint():
    assert not findings("客户: 你们服务态度很好\n客服: 谢谢您的认可。", "CMP004")


# -- S-D5 --------------------------------------------------------------------------------------

REPEAT = "客户: 上次反映的问题还没处理,到底怎么回事\n客服: 请提供一下订单号。\n客户: 123\n客服: 我帮您加急处理。"


def test_repeat_complaint_not_overdue_verified_then_expedited():
    assert not findings(REPEAT, "CMP005")


def test_overdue_ticket_from_metadata_needs_apology_and_escalation():
    (finding,) = findings(REPEAT, "CMP005", ticket={"status": "open", "overdue": True})
    assert "致歉" in finding.message and "升级处理" in finding.message


def test_closed_ticket_is_out_of_scope():
    assert not findings("客户: 上次的问题还没处理,到底怎么回事\n客服: 好的。", "CMP005", ticket={"status": "closed"})


def test_ticket_header_in_text_log():
    assert findings("# ticket: open, overdue\n" + REPEAT, "CMP005")


def test_promise_before_verification_is_reported_at_the_promise():
    example = "客户: 上次反映的问题还没处理,到底怎么回事\n客服: 马上为您加急。\n客户: 好\n客服: 请提供订单号。"
    (finding,) = findings(example, "CMP005")
    assert finding.turn == 1 and finding.quote == "马上为您"


# -- S-D6 --------------------------------------------------------------------------------------


def test_escalation_chain_is_a_company_setting(tmp_path):
    engine = engine_with(tmp_path, "company: {escalation_chain: [班长, 客户关系部, 总部]}\n")
    skipped = "客户: 不解决我就找媒体曝光\n客服: 非常抱歉,我把您的问题提交到总部。"
    (finding,) = findings(skipped, "CMP006", engine)
    assert finding.quote == "总部" and "班长" in finding.message
    in_order = "客户: 不解决我就找媒体曝光\n客服: 非常抱歉,我先提交班长处理,如未解决再由客户关系部跟进。"
    assert not findings(in_order, "CMP006", engine)


def test_generic_escalation_first_then_higher_level_is_fine():
    example = (
        "客户: 我要去消协投诉你们\n客服: 非常抱歉,我马上为您升级处理。\n客户: 多久\n"
        "客服: 如仍不满意,您可以拨打省级投诉热线。"
    )
    assert not findings(example, "CMP006")


# -- S-D7 --------------------------------------------------------------------------------------

TWICE = "客户: 快点\n客服: 请您不要着急,我在查。\n客户: 快点啊\n客服: 请您不要着急。"


def test_soothing_repeat_limit_is_a_setting(tmp_path):
    assert not findings(TWICE, "CMP007")  # default limit 3
    engine = engine_with(tmp_path, "settings: {soothing_repeat_limit: 2}\n")
    (finding,) = findings(TWICE, "CMP007", engine)
    assert finding.turn == 3 and finding.quote == "请您不要着急"


def test_varied_soothing_is_fine():
    example = (
        "客户: 快点\n客服: 请您不要着急。\n客户: 快点啊\n客服: 请您放心,马上好。\n"
        "客户: 还没好吗\n客服: 很抱歉让您久等了。"
    )
    assert not findings(example, "CMP007")


# -- S-D8 --------------------------------------------------------------------------------------


def test_damage_needs_a_remedy_but_no_record_check():
    assert not findings("客户: 收到的杯子碎了\n客服: 非常抱歉,马上为您补发。", "CMP008")
    (finding,) = findings("客户: 收到的杯子碎了\n客服: 非常抱歉。", "CMP008")
    assert "补救" in finding.message


def test_record_checked_before_the_complaint_counts():
    example = "客户: 订单123到哪了\n客服: 我帮您查询一下,在派送中。\n客户: 怎么这么慢,快递太慢了\n客服: 抱歉,今天会送达。"
    assert not findings(example, "CMP008")


def test_admitted_fault_needs_an_apology():
    example = "客户: 发错货了\n客服: 我查看了出库记录,确实发错了,马上给您重新发货。"
    (finding,) = findings(example, "CMP008")
    assert finding.quote == "确实发错" and "致歉" in finding.message


# -- S-E1 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "我不知道您是否方便提供一下订单号?",
        "不清楚的地方可以随时问我。",
        "您不知道订单号的话,提供手机号也可以。",
        "如果您不确定型号,可以看一下说明书。",
        "您说“不知道什么时候到”,我帮您查一下。",
        "这个我也不知道,我帮您问一下同事。",
    ],
)
def test_dont_know_near_misses(reply):
    assert not findings(f"客户: 问一下\n客服: {reply}", "REF001")


def test_dont_know_followed_up_in_the_next_agent_turn():
    assert not findings("客户: 月底降价吗\n客服: 不确定呢。\n客户: 哦\n客服: 我去问一下采购,稍后回复您。", "REF001")


def test_dont_know_reported_once_per_turn():
    (finding,) = findings("客户: 月底降价吗\n客服: 不知道,不清楚。", "REF001")
    assert finding.turn == 1


def test_telling_the_customer_to_ask_elsewhere_is_no_offer_to_check():
    assert findings("客户: 怎么连手机\n客服: 具体的咱们也没有操作过呢,需要您联系安装人员。", "REF001")


# -- S-E2 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dialogue",
    [
        "客户: 能改地址吗\n客服: 能不能麻烦您提供一下订单号?",
        "客户: 我的手机不能用了\n客服: 手机不能用多久了?",
        "客户: 能改地址吗\n客服: 您那边没办法修改吗?",
        "客户: 能改地址吗\n客服: 如果不行的话,您可以联系配送员。",
        "客户: 你们说“不支持退货”\n客服: 您说的“不支持退货”是商家说的吗?",
        "客户: A面灯能关掉吗\n客服: 不可以的。",
        "客户: 能送到吗\n客服: 具体时效无法保证的哦,以物流更新为准。",
    ],
)
def test_refusal_near_misses(dialogue):
    assert not findings(dialogue, "REF002")


def test_closing_offer_is_no_alternative():
    (finding,) = findings("客户: 可以不要赠品吗\n客服: 不可以的哦,请问还有其他可以帮您的吗?", "REF002")
    assert finding.quote == "不可以"


def test_reason_in_the_next_agent_turn_counts_but_not_a_farewell():
    assert not findings("客户: 能开纸质发票吗\n客服: 不能的。\n客户: 为什么\n客服: 因为现在统一开电子发票。", "REF002")
    farewell = "客户: 能送赠品吗\n客服: 不可以。\n客户: 好吧\n客服: 后期有问题可以随时反馈我们哦,祝您生活愉快,再见!"
    assert findings(farewell, "REF002")


# -- S-E3 / S-E4 -------------------------------------------------------------------------------


def test_service_not_offered_lists_what_is_missing():
    (finding,) = findings("客户: 能上门回收吗\n客服: 很抱歉,我们暂时没有此项服务。", "REF003")
    assert "转交" in finding.message and "歉意" not in finding.message


def test_service_not_offered_is_not_a_bare_refusal_too():
    assert not findings("客户: 能上门回收吗\n客服: 我们暂不支持此项服务。", "REF002")


def test_each_overpromise_and_blame_shift_is_reported():
    example = "客户: 怎么还没到\n客服: 是快递的问题。\n客户: 明天能到吗\n客服: 我保证明天一定能到。"
    assert [f.turn for f in findings(example, "REF004")] == [1, 3]
