"""Special situations S-C2 … S-C12: protocols over several turns, near-misses and quotes."""

import pytest

from guifan.engine import Engine
from guifan.readers.textlog import parse_example

CODES = [f"SPC{n:03d}" for n in range(2, 13)]
ENGINE = Engine(select=CODES)


def findings(code: str, example: str):
    return [f for f in ENGINE.check(parse_example(example)) if f.rule == code]


def turns(code: str, example: str) -> list[int]:
    return [f.turn for f in findings(code, example)]


# -- S-C2 / S-C3: cannot hear the customer ---------------------------------------------------------


def test_impolite_prompt_names_what_is_missing():
    (impolite, hang_up) = findings("SPC002", "客户: 喂……\n客服: 您的声音太小,听不清。")
    assert "致歉" in impolite.message and "礼貌请求" in impolite.message
    assert impolite.turn == 1 and impolite.quote == "您的声音太小"
    assert "直接结束" in hang_up.message and hang_up.quote == "您的声音太小,听不清。"
    (impolite,) = findings("SPC002", "客户: 喂……\n客服: 您的声音太小,请您拿起话筒说话。")
    assert "致歉" in impolite.message and "礼貌请求" not in impolite.message


def test_request_left_to_the_customer_is_not_a_hang_up():
    # The agent asked and gave the floor to the customer: who hung up is unknown.
    assert findings("SPC002", "客户: 喂……\n客服: 对不起,请您大声一点,好吗?") == []
    assert len(findings("SPC002", "客户: 喂……\n客服: 对不起,请您大声一点,好吗?再见。")) == 1


def test_polite_prompt_answered_by_the_customer_is_fine():
    example = "客户: 喂……\n客服: 对不起,请您大声一点,好吗?\n客户: 我想查订单\n客服: 好的,请您提供一下订单号。"
    assert findings("SPC002", example) == []


@pytest.mark.parametrize(
    "ending",
    [
        "客户: ……\n客服: 对不起,还是听不清,请您稍后再拨,好吗?",  # polite, and asks to call again
        "客户: 好的那我一会再打,再见",  # the customer takes leave
        "客户: ……",  # the customer had the last word: who hung up is unknown
        "客户: 我要退货\n客服: 好的,请您提供一下订单号。\n客户: 123\n客服: 已为您申请,再见。",  # resolved
    ],
)
def test_no_hang_up_finding(ending):
    example = "客户: 喂……\n客服: 对不起,请您大声一点,好吗?\n" + ending
    assert [f for f in findings("SPC002", example) if "直接结束" in f.message] == []


def test_call_again_said_earlier_in_the_episode_counts():
    example = (
        "客户: 喂……\n客服: 对不起,听不清,请您换一部电话再次打来,好吗?\n"
        "客户: 喂?\n客服: 对不起,我听不清,请您大声一点,好吗?"
    )
    assert findings("SPC002", example) == []


def test_closing_after_one_inaudible_reply_is_a_hang_up():
    example = "客户: 喂……\n客服: 对不起,请您大声一点,好吗?\n客户: ……\n客服: 感谢您的来电,再见。"
    assert turns("SPC002", example) == [3]


def test_silent_call_is_left_to_s_c1():
    example = "客户: ……\n客服: 您好,请问有什么可以帮您?\n客户: (静音)\n客服: 您的电话没有声音,再见。"
    assert findings("SPC002", example) == []
    spoken = example.replace("客户: (静音)", "客户: 喂……")
    assert len(findings("SPC002", spoken)) == 2


def test_noise_turn_belongs_to_s_c3_not_s_c2():
    example = "客户: 喂?\n客服: 可能电话信号不是很好,我无法听清。"
    assert findings("SPC002", example) == []
    assert {f.clauses for f in findings("SPC003", example)} == {("S-C3",)}


@pytest.mark.parametrize(
    "agent",
    [
        "电视没有声音的话,可以申请售后检测。",
        "耳机通话时对方听不清,可以申请售后。",
        "您那边听不清我说话吗?",
        "对不起,我大声一点。请问有什么可以帮助您?",
        "耳机有杂音的话可以申请换货。",
        "快递员那边信号不好,我帮您再联系一次。",
        "等有回音了第一时间通知您。",
    ],
)
def test_product_and_courier_talk_is_not_a_hearing_prompt(agent):
    example = f"客户: 我的东西有问题\n客服: {agent}"
    assert findings("SPC002", example) == [] and findings("SPC003", example) == []


def test_customer_words_and_agent_quotes_do_not_trigger():
    assert findings("SPC002", "客户: 我听不清\n客服: 对不起,请问有什么可以帮助您?") == []
    example = "客户: 上次那个客服说我听不清就挂了\n客服: 非常抱歉,您刚才说我听不清,这是我们的问题,我来处理。"
    assert findings("SPC002", example) == []


# -- S-C4: dialect ---------------------------------------------------------------------------------


def test_dialect_second_step_prevents_hang_up_finding():
    example = (
        "客户: 我嘅快递去咗边度啊?\n客服: 对不起,请您讲普通话,好吗?谢谢!\n客户: 唔该你帮我睇下啦\n"
        "客服: 对不起,请您找一个可以讲普通话的人来,好吗?谢谢!\n客户: 唔识讲啊\n客服: 感谢您的来电,再见。"
    )
    assert findings("SPC004", example) == []


def test_dialect_request_needs_both_politeness_parts():
    (finding, *_) = findings("SPC004", "客户: 我嘅快递去咗边度啊?\n客服: 请您讲普通话。\n客户: 好的,我要查快递\n客服: 请提供订单号。")
    assert "好吗/谢谢" in finding.message and "对不起/请" not in finding.message


def test_agent_offering_mandarin_is_not_a_request():
    assert findings("SPC004", "客户: 你会讲普通话吗\n客服: 我可以讲普通话的,您请讲。") == []


# -- S-C5 / S-C6: replies to the customer ----------------------------------------------------------


def test_agent_inaudible_reply_must_apologize():
    assert turns("SPC005", "客户: 你大声点,听不清你说话\n客服: 您的订单已经发货了。") == [1]
    assert findings("SPC005", "客户: 你大声点,听不清你说话\n客服: 不好意思,您的订单已经发货了。") == []
    assert findings("SPC005", "客户: 你大声点,听不清你说话") == []  # no reply to judge
    assert findings("SPC005", "客户: 这个耳机声音太小了\n客服: 可以申请换货。") == []


@pytest.mark.parametrize("customer", ["我手机号打错了", "我地址打错了,能改吗", "收货人名字打错了"])
def test_typos_in_orders_are_not_wrong_numbers(customer):
    assert findings("SPC006", f"客户: {customer}\n客服: 可以修改,请提供正确的信息。") == []


def test_wrong_number_reply_checked_once_per_agent_turn():
    example = "客户: 打错了\n客户: 不好意思打错电话了\n客服: 哦。"
    assert turns("SPC006", example) == [2]


# -- S-C7: repeat requests -------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["什么呀?", "啥?", "你说什么?", "再重复一下。", "您再说一次好吗?"])
def test_impolite_repeat_requests(agent):
    assert turns("SPC007", f"客户: 我要退那个\n客服: {agent}") == [1]


@pytest.mark.parametrize(
    "agent",
    [
        "很抱歉,请您重复一遍,好吗?",
        "我给您重复一下:订单号是123,对吗?",
        "这边重复一下您的地址:北京市海淀区,对吗?",
        "我再说一遍:退款三到五个工作日到账。",
        "请问您要退哪个商品呢?",
        "请不要重复下单哦。",
    ],
)
def test_polite_requests_and_agent_repeating_itself_are_fine(agent):
    assert findings("SPC007", f"客户: 我要退那个\n客服: {agent}") == []


def test_customer_asking_agent_to_repeat_does_not_count():
    assert findings("SPC007", "客户: 什么?再说一遍\n客服: 好的,退款三到五个工作日到账。") == []


# -- S-C8: abusive customer ------------------------------------------------------------------------

WARN = "客服: 为了和您保持良好的沟通,希望您使用文明用语。"
NOTICE = "客服: 如您再次使用不文明语言,将结束本次通话!"


def test_notice_after_one_warning_reports_the_count():
    example = "\n".join(["客户: 你个白痴", WARN, "客户: 白痴!", NOTICE])
    (finding,) = findings("SPC008", example)
    assert finding.turn == 3 and "1次" in finding.message and finding.quote == "结束本次通话"


def test_two_warnings_then_notice_and_goodbye_is_fine():
    example = "\n".join(["客户: 你个白痴", WARN, "客户: 白痴!", WARN, "客户: 滚!", NOTICE, "客户: 滚", "客服: 再见。"])
    assert findings("SPC008", example) == []


@pytest.mark.parametrize("abuse", ["你们都是神经病", "滚!", "你他妈的会不会办事", "SB客服"])
def test_goodbye_right_after_abuse_without_warnings(abuse):
    assert turns("SPC008", f"客户: {abuse}\n客服: 再见。") == [1]


def test_calmed_customer_and_innocent_words_are_not_abuse():
    assert findings("SPC008", "客户: 他妈的又没到\n客服: 非常抱歉,我马上催促。\n客户: 好吧\n客服: 感谢您的理解,再见。") == []
    for customer in ("滚筒洗衣机什么时候送", "USB线坏了", "这是我妈的手机号", "给你妈妈买的吗"):
        assert findings("SPC008", f"客户: {customer}\n客服: 请不要挂机,稍后对我的服务进行评价,再见。") == []


# -- S-C9: supervisor requests ---------------------------------------------------------------------


def test_retention_in_the_transfer_turn_does_not_count():
    example = "客户: 找你们主管\n客服: 请问您遇到了什么问题?\n客户: 找主管\n客服: 由我来为您处理好吗?不行的话我帮您转接。"
    (finding,) = findings("SPC009", example)
    assert finding.turn == 3 and "1次" in finding.message


def test_two_retentions_then_transfer_is_fine_and_contact_may_follow():
    example = (
        "客户: 找你们主管\n客服: 请问您遇到了什么问题?\n客户: 找主管\n客服: 由我来为您处理好吗?\n客户: 不行\n"
        "客服: 好的,我会把您的要求记录下来提交给我们领导的,稍后给您回电。\n客户: 好\n客服: 请问您的联系电话是多少?"
    )
    assert findings("SPC009", example) == []


def test_only_the_first_escalation_is_judged():
    example = (
        "客户: 找你们领导\n客服: 请问您遇到了什么问题?\n客户: 说了没用\n客服: 由我来为您处理好吗?\n客户: 不行\n"
        "客服: 为了更好地解决,给您转接主管,可以吗?给您带来不便请谅解。\n客户: 好\n客服: 正在转接。"
    )
    assert findings("SPC009", example) == []


def test_not_a_supervisor_request():
    for customer in ("我要转人工", "收货人想换个人", "我要找一下订单"):
        assert findings("SPC009", f"客户: {customer}\n客服: 好的,正在为您转接。") == []


# -- S-C10: transfers ------------------------------------------------------------------------------


def test_transfer_parts_may_come_from_the_previous_agent_turn():
    example = (
        "客户: 发票开错了\n客服: 很抱歉,发票需要财务部门的同事处理,给您带来不便请谅解。\n客户: 嗯\n"
        "客服: 我帮您转接过去,可以吗?"
    )
    assert findings("SPC010", example) == []


def test_a_run_of_transfer_turns_is_one_transfer():
    example = "客户: 发票开错了\n客服: 我帮您转接一下。\n客户: 好\n客服: 正在为您转接,请稍候。"
    (finding,) = findings("SPC010", example)
    assert finding.turn == 1
    assert all(part in finding.message for part in ("原因", "同意", "不便"))


def test_refused_or_quoted_transfers_are_not_transfers():
    assert findings("SPC010", "客户: 转接\n客服: 很抱歉,这里没有办法帮您转接的,我来为您处理。") == []
    assert findings("SPC010", "客户: 上次客服说“给你转接”就没下文了\n客服: 非常抱歉,“给你转接”后没有跟进,我来处理。") == []


# -- S-C11 / S-C12 ---------------------------------------------------------------------------------


def test_sales_redirect_may_come_in_the_second_reply():
    example = (
        "客户: 我们公司是做网络推广的,想跟你们合作\n客服: 您好。\n客户: 就是推广\n"
        "客服: 对不起,这是我们的客服热线,请联系公司其他部门,谢谢合作!"
    )
    assert findings("SPC011", example) == []
    assert turns("SPC011", "客户: 我们公司是做网络推广的\n客服: 您好。\n客户: 就是推广\n客服: 不需要。") == [1]


def test_customers_mentioning_products_are_not_sales_calls():
    assert findings("SPC011", "客户: 推荐一款手机\n客服: 您的预算是多少?\n客户: 三千\n客服: 这款不错。") == []


def test_out_of_scope_referral_window():
    assert turns("SPC012", "客户: 社保怎么查\n客服: 这个不在我们的服务范围。\n客户: 那怎么办\n客服: 不好意思。") == [1]
    assert findings("SPC012", "客户: 社保怎么查\n客服: 这个不在我们的服务范围。\n客户: 那怎么办\n客服: 您可以拨打12333咨询。") == []
    assert findings("SPC012", "客户: 屏幕碎了能保修吗\n客服: 很抱歉,人为损坏不属于我们的保修范围。") == []
