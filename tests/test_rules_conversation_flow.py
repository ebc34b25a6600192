"""Edge cases of the conversation-flow families: opening, needs, closing, courtesy, outbound."""

import time
from datetime import date

import pytest

from guifan.engine import Engine
from guifan.holidays import holiday_kind
from guifan.readers.textlog import parse_example
from guifan.rulebook import load_rulebook

ENGINE = Engine()


def findings(example: str, code: str, engine: Engine = ENGINE):
    return [f for f in engine.check(parse_example(example)) if f.rule == code]


def fires(example: str, code: str, engine: Engine = ENGINE) -> bool:
    return bool(findings(example, code, engine))


def company_engine(tmp_path, text: str) -> Engine:
    path = tmp_path / "company.yaml"
    path.write_text(text, encoding="utf-8")
    return Engine(load_rulebook([path]))


# -- holidays -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 2, 17), "new_year"),  # 春节 (official calendar)
        (date(2026, 1, 1), "new_year"),
        (date(2026, 9, 25), "festival"),  # 中秋
        (date(2026, 10, 1), "festival"),
        (date(2026, 6, 19), "festival"),  # 端午
        (date(2026, 2, 14), None),  # swapped working day named after 春节
        (date(2026, 4, 5), None),  # 清明 has no greeting in the standard
        (date(2026, 3, 10), None),
        (date(2027, 2, 6), "new_year"),  # 2027+: computed from the lunar calendar
        (date(2027, 2, 5), "new_year"),  # 除夕 (腊月廿九 in 2027)
        (date(2027, 2, 12), "new_year"),  # 正月初七
        (date(2027, 2, 13), None),  # 正月初八
        (date(2027, 9, 15), "festival"),  # 中秋
        (date(2028, 5, 28), "festival"),  # 端午
        (date(2027, 1, 1), "new_year"),
        (date(2027, 5, 5), "festival"),
        (date(2027, 5, 6), None),
        (date(2027, 10, 7), "festival"),
        (date(2027, 10, 8), None),
        (date(2027, 3, 10), None),
    ],
)
def test_holiday_kind(day, kind):
    assert holiday_kind(day, {}) == kind


def test_company_holidays_override_the_calendar():
    assert holiday_kind(date(2026, 3, 10), {date(2026, 3, 10): "公司周年庆"}) == "festival"
    assert holiday_kind(date(2026, 10, 1), {date(2026, 10, 1): "工作日"}) is None
    assert holiday_kind(date(2027, 2, 20), {date(2027, 2, 20): "春节"}) == "new_year"


# -- OPN001 / OPN002 / OPN003 / OPN004 --------------------------------------------------------------


def test_phone_opening_names_the_company_when_configured(tmp_path):
    engine = company_engine(tmp_path, "company:\n  name: 京东\n")
    bare = "# channel: phone\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?\n客户: 查快递"
    named = "# channel: phone\n客服: 您好,京东,很高兴为您服务,请问有什么可以帮到您?\n客户: 查快递"
    [finding] = findings(bare, "OPN001", engine)
    assert "京东" in finding.message and finding.turn == 0
    assert finding.suggestion.startswith("您好,京东,")
    assert not fires(named, "OPN001", engine)
    # Chat openings need no company name.
    assert not fires("客服: 您好,请问有什么可以帮您?\n客户: 查快递", "OPN001", engine)


def test_phone_opening_needs_both_greeting_and_offer_unless_cut_short():
    assert fires("# channel: phone\n客服: 请问有什么可以帮您?\n客户: 查快递", "OPN001")
    # The customer spoke first: a greeting cut short is accepted (S-A3) …
    assert not fires("# channel: phone\n客户: 喂\n客服: 您好\n客户: 查快递", "OPN001")
    # … and so is an overlap in a timed transcript.
    overlap = "# channel: phone\n[00:00-00:03] 客服: 请问有什么可以帮您\n[00:01-00:04] 客户: 我查快递"
    assert not fires(overlap, "OPN001")
    # Neither greeting nor offer is never accepted.
    assert fires("# channel: phone\n客户: 喂\n客服: 说吧\n客户: 查快递", "OPN001")


def test_outbound_call_is_left_to_out001():
    call = "# channel: phone\n# direction: outbound\n客服: 您好,我是京东客服代表1024,给您做个回访,请问现在方便吗?"
    assert not fires(call, "OPN001")
    assert not fires(call, "OUT001")


def test_holiday_wording_2027_spring_festival():
    ordinary = (
        "# started_at: 2027-02-06T09:00:00+08:00\n客服: 您好,请问有什么可以帮您?\n客户: 没事了\n"
        "客服: 请问还有其他可以帮您的吗?感谢您的支持,祝您生活愉快,再见!"
    )
    found = findings(ordinary, "OPN002")
    assert [f.turn for f in found] == [0, 2]
    assert "新年好" in found[0].message and "祝您新年愉快" in found[1].message
    festive = ordinary.replace("您好,", "新年好,").replace("祝您生活愉快", "祝您新年愉快")
    assert not fires(festive, "OPN002")
    # 节日好 is the wrong wording on 春节.
    assert fires(ordinary.replace("您好,", "节日好,").replace("祝您生活愉快", "祝您新年愉快"), "OPN002")


def test_holiday_wording_needs_a_date_and_skips_missing_phases():
    undated = "客服: 您好,请问有什么可以帮您?\n客户: 没事了\n客服: 祝您生活愉快,再见!"
    assert not fires(undated, "OPN002")
    # No greeting and no farewell at all: OPN001/CLS001 report that, not OPN002.
    bare = "# started_at: 2026-10-01T09:00:00+08:00\n客服: 请问有什么可以帮您?\n客户: 没事了\n客服: 好的。"
    assert not fires(bare, "OPN002")


def test_holiday_wording_uses_the_company_table(tmp_path):
    engine = company_engine(tmp_path, 'company:\n  holidays: {"2026-03-10": 店庆}\n')
    call = "# started_at: 2026-03-10T09:00:00\n客服: 您好,请问有什么可以帮您?\n客户: 查快递"
    assert fires(call, "OPN002", engine)
    assert not fires(call, "OPN002")


@pytest.mark.parametrize(
    ("headers", "fired"),
    [
        ("# queue_seconds: 30", True),
        ("# ring_seconds: 15", False),
        ("# rings: 3", False),
        ("# rings: 4", True),
        ("# ring_seconds: 很久", False),
        ("", False),
    ],
)
def test_answer_within_three_rings(headers, fired):
    call = f"# channel: phone\n{headers}\n客服: 您好,请问有什么可以帮您?"
    assert fires(call, "OPN003") is fired


def test_ring_metadata_is_ignored_on_chat():
    assert not fires("# rings: 9\n客服: 您好,请问有什么可以帮您?", "OPN003")


@pytest.mark.parametrize(
    ("customer", "agent", "fired"),
    [
        ("我是欧阳先生", "好的欧阳先生", False),
        ("我是欧阳先生", "好的先生", True),
        ("叫我王女士就行", "好的王女士", False),
        ("我姓陈,快递没到", "好的陈小姐", False),
        ("我姓陈,快递没到", "好的亲", True),
    ],
)
def test_surname_forms(customer, agent, fired):
    conversation = f"客户: {customer}\n客服: {agent},请稍等。\n客户: 嗯\n客服: 已经帮您查到了。"
    assert fires(conversation, "OPN004") is fired


def test_surname_answer_to_the_agents_question_and_finding_position():
    conversation = "客服: 请问怎么称呼您?\n客户: 小王\n客服: 好的,请稍等。\n客户: 嗯\n客服: 已经帮您查到了。"
    [finding] = findings(conversation, "OPN004")
    assert finding.turn == 4 and "王先生" in finding.suggestion
    # Without the agent's question a bare 小王 is not a surname, nor is a reply that is not a name.
    assert not fires(conversation.replace("请问怎么称呼您?", "请稍等。"), "OPN004")
    assert not fires(conversation.replace("小王", "好的"), "OPN004")
    assert fires(conversation.replace("小王", "欧阳"), "OPN004")


# -- NED001 … NED004 ----------------------------------------------------------------------------


NEED_CALL = (
    "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 冰箱\n客服: 嗯\n客户: 没送到\n客服: 好的\n"
    "客户: 物流不动\n客服: {restate}\n客户: 好\n客服: 请问还有其他可以帮您的吗?{tail}"
)


def test_need_confirmation_must_come_before_the_closing():
    assert fires(NEED_CALL.format(restate="我帮您催一下", tail=""), "NED001")
    assert not fires(NEED_CALL.format(restate="您是说冰箱一直没有配送,对吗?", tail=""), "NED001")
    # A confirmation phrase inside the closing offer does not count.
    assert fires(NEED_CALL.format(restate="我帮您催一下", tail="是吧"), "NED001")
    # Chats are not checked.
    assert not fires(NEED_CALL.format(restate="我帮您催一下", tail="").replace("# channel: phone\n", ""), "NED001")


def test_need_confirmation_not_required_in_short_calls():
    short = "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 冰箱没到\n客服: 好的\n客户: 嗯\n客服: 请问还有其他可以帮您的吗?"
    assert not fires(short, "NED001")


@pytest.mark.parametrize(
    ("customer", "reply", "fired"),
    [
        ("我手机号幺三八一二三四五六七八", "好的,尾号5678。", False),
        ("我手机号幺三八一二三四五六七八", "好的。", True),
        ("订单号[订单x]", "好的,订单[订单x]已经发货。", False),
        ("订单号[订单x]", "好的,已经发货。", True),
        ("订单号 2023-0415-8899", "好的,稍等。", True),
        ("手机号[数字x]", "好的。", True),
        ("我买了[数字x]个", "好的。", False),  # a masked quantity is not an id
    ],
)
def test_read_back(customer, reply, fired):
    call = f"# channel: phone\n客户: {customer}\n客服: {reply}\n客户: 嗯\n客服: 在路上了。"
    assert fires(call, "NED002") is fired


def test_read_back_allows_one_turn_of_delay_but_not_two():
    call = "# channel: phone\n客户: 13812345678\n客服: 好的。\n客户: 嗯\n客服: {second}\n客户: 嗯\n客服: 13812345678对吧"
    [finding] = findings(call.format(second="稍等。"), "NED002")
    assert finding.turn == 1 and "13812345678" in finding.message
    assert not fires(call.format(second="您的号码是13812345678,对吗?"), "NED002")


@pytest.mark.parametrize(
    ("agent", "fired"),
    [
        ("手机号发一下", True),
        ("您把您的手机号留一下给我哦", True),
        ("您能提供下单号吗?", False),
        ("请您提供一下订单号。", False),
        ("订单号提供一下,我帮您申请", True),  # 申请 is not 请
        ("已经为您提供了电子发票,请查收地址邮箱", False),
        ("发一下截图", False),  # nothing the customer is asked to identify themselves with
    ],
)
def test_polite_information_request(agent, fired):
    assert fires(f"客户: 快递没到\n客服: {agent}", "NED003") is fired


@pytest.mark.parametrize(
    ("customer", "reply", "fired"),
    [
        ("这个?", "已经发货了。", True),
        ("然后呢", "已经发货了。", True),
        ("???", "已经发货了。", True),
        ("这个?", "请问您说的是哪一个订单?", False),
        ("那个", "您指的是刚才的订单吗", False),
        ("这个订单呢", "已经发货了。", False),
        ("嗯", "已经发货了。", False),
        ("好的", "已经发货了。", False),
    ],
)
def test_vague_statement(customer, reply, fired):
    assert fires(f"客户: 我的快递\n客服: 稍等\n客户: {customer}\n客服: {reply}", "NED004") is fired


# -- CLS001 / CLS002 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "fired"),
    [
        ("客服: 请问还有其他还可以帮到您的吗?\n客户: 没有了\n客服: 感谢您对京东的支持,祝您生活愉快,再见!", False),
        ("客服: 请问还有其他的问题需要帮助的么?\n客户: 没了\n客服: 还请您稍后对妹纸的服务做出评价喔", True),
        ("客服: 请问还有其他可以帮您的吗?\n客户: 没了\n客服: 辛苦您点击评价哦,妹子期待再次为您服务", True),
        ("客服: 请问还有其他可以帮您的吗?\n客户: 没了\n客服: 别忘了评价哦,谢谢您啦", False),
        ("客服: 請問還有其他可以幫您的嗎?\n客户: 沒有了\n客服: 祝您生活愉快,再見!", False),
        ("客服: 请问还有其他可以帮您的吗?\n客户: 没有了,你们服务真差", False),  # ends with the customer
    ],
)
def test_closing(ending, fired):
    assert fires(f"客户: 快递到了吗\n客服: 到了\n客户: 好\n{ending}", "CLS001") is fired


def test_closing_window_and_finding_position():
    old_offer = (
        "客服: 请问还有其他可以帮您的吗?\n客户: 有,发票呢\n客服: 随货寄出\n客户: 好\n客服: 电子的\n客户: 嗯\n"
        "客服: 可以下载\n客户: 好\n客服: 感谢您的支持,再见!"
    )
    [finding] = findings(old_offer, "CLS001")
    assert finding.turn == 8 and "征询" in finding.message


def test_closing_order_farewell_before_offer():
    reopened = (
        "客服: 请问还有其他可以帮您的吗?\n客户: 没有了\n客服: 感谢您的支持,再见!\n客户: 等下,发票呢\n"
        "客服: 发票随货寄出。请问还有其他可以帮您的吗?"
    )
    [finding] = findings(reopened, "CLS001")
    assert "顺序" in finding.message and finding.turn == 4
    # A final thanks closes it again.
    assert not fires(reopened + "谢谢您", "CLS001")


def test_summary_before_closing_phone_only():
    call = "# channel: phone\n客服: 您好\n客户: 退货\n客服: {middle}\n客户: 嗯\n客服: 请问还有其他可以帮您的吗?"
    assert fires(call.format(middle="好的"), "CLS002")
    assert not fires(call.format(middle="已经为您提交了退货申请"), "CLS002")
    assert not fires(call.format(middle="好的").replace("# channel: phone\n", ""), "CLS002")


# -- CRT001 … CRT005 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "fired"),
    [
        ("能不能退款谢谢", True),
        ("好的谢谢", True),
        ("太有效率了", True),
        ("好,麻烦了", True),
        ("这个太麻烦了", False),
        ("不好意思,给你添麻烦了", False),
        ("我要退款", False),
    ],
)
def test_what_counts_as_thanks(customer, fired):
    assert fires(f"客户: {customer}\n客服: 我帮您看一下。", "CRT001") is fired


@pytest.mark.parametrize("reply", ["您客气啦", "这些都是我们的分内之事", "也谢谢您的支持", "不用谢,亲"])
def test_acknowledging_thanks(reply):
    assert not fires(f"客户: 谢谢\n客服: {reply}", "CRT001")


def test_thanks_is_answered_once_per_agent_turn_and_needs_a_following_turn():
    [finding] = findings("客户: 谢谢\n客户: 多谢了\n客服: 请问还有其他可以帮您的吗?", "CRT001")
    assert finding.turn == 2
    assert not fires("客服: 已经发货了\n客户: 好的谢谢", "CRT001")


def test_agent_id_from_settings_and_conversation(tmp_path):
    engine = company_engine(tmp_path, 'company:\n  agent_id_pattern: "JD\\\\d{4}"\n')
    assert not fires("客户: 你工号多少\n客服: 我是JD1024,很高兴为您服务", "CRT002", engine)
    assert fires("客户: 你工号多少\n客服: 我是1024,很高兴为您服务", "CRT002", engine)
    assert not fires("# agent_id: 小红07\n客户: 你是几号\n客服: 我是小红07", "CRT002")
    [named] = findings("客户: 你叫什么名字\n客服: 我叫小丽", "CRT002")
    assert "个人姓名" in named.message


def test_an_agent_id_search_that_runs_out_of_time_counts_as_no_id():
    """Past the rulebook's probes (model_copy does not validate), each search is still bounded."""
    rulebook = load_rulebook()
    slow = rulebook.model_copy(update={"company": rulebook.company.model_copy(update={"agent_id_pattern": "(a|aa)+$"})})
    engine = Engine(slow)
    started = time.monotonic()
    assert fires("客户: 你工号多少\n客服: " + "a" * 36 + "!", "CRT002", engine)  # re would take ~10 s here
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("customer", "fired"),
    [
        ("不好意思,刚才看错了", True),
        ("打扰了", True),
        ("不好意思,问一下发票怎么开", False),
        ("你们太对不起消费者了", False),
    ],
)
def test_customer_apology(customer, fired):
    assert fires(f"客户: {customer}\n客服: 好的。", "CRT003") is fired


def test_suggestion_needs_thanks_and_pass_on_within_two_turns():
    base = "客户: 我建议你们加个夜间配送\n客服: {first}\n客户: 嗯\n客服: {second}"
    [finding] = findings(base.format(first="好的", second="还有其他问题吗"), "CRT004")
    assert "感谢建议" in finding.message and "承诺转达" in finding.message
    [finding] = findings(base.format(first="感谢您的建议", second="还有其他问题吗"), "CRT004")
    assert "感谢建议" not in finding.message
    assert not fires(base.format(first="感谢您的建议", second="我会反馈给相关部门"), "CRT004")


@pytest.mark.parametrize(
    ("customer", "fired"),
    [
        ("就是建议京东把这样的商家赶出去", True),
        ("你们应该给我退款", False),  # a demand, not a suggestion
        ("你建议我买哪个?", False),  # asking for the agent's advice
        ("希望你们尽快处理", False),
    ],
)
def test_what_counts_as_a_suggestion(customer, fired):
    assert fires(f"客户: {customer}\n客服: 好的。", "CRT004") is fired


@pytest.mark.parametrize(
    ("agent", "fired"),
    [
        ("在路上了。还有别的问题吗", True),
        ("在路上了,您耐心等待", False),  # 您 counts in the original text
        ("在路上了,我帮你申请加急", True),  # 申请 is not 请
        ("在路上了,不好意思久等了", False),
    ],
)
def test_polite_vocabulary(agent, fired):
    conversation = f"客户: 请问我的快递到哪了,谢谢\n客服: {agent}"
    found = findings(conversation, "CRT005")
    assert bool(found) is fired
    if found:
        assert found[0].turn == 1


# -- OUT001 ---------------------------------------------------------------------------------------


def test_outbound_introduction_within_two_turns():
    call = (
        "# channel: phone\n# type: 回访\n客服: 您好,我是京东客服代表1024。\n客户: 什么事\n"
        "客服: 关于您之前反映的问题给您做个回访。\n客户: 哦\n客服: 请问您现在方便吗?"
    )
    [finding] = findings(call, "OUT001")
    assert finding.turn == 0 and "方便" in finding.message and "身份" not in finding.message
    assert not fires(call.replace("做个回访。", "做个回访,您现在方便吗?"), "OUT001")
    assert not fires(call.replace("# type: 回访\n", ""), "OUT001")
