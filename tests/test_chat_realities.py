"""Chat realities the default rulebook must handle (online customer-service chat, e.g. e-commerce).

Chat agents write differently from the standard's phone scripts: they call the customer 亲/亲爱的,
call themselves 小妹/妹子, end sentences with particles and emoji (呢、哦、哈、~、😊、[微笑]) and, in
published corpora, personal data is masked as [订单x], [数字x], [金额x], [姓名x] … These tests pin
what a careful QA supervisor expects (see ../shared/corpus/LABELS.md) for

1. chat closing and greeting variants (S-A9, S-A1),
2. 亲 / 小妹 / 妹子 as address and self-reference (S-F10, S-F6, S-G1, S-A11),
3. particles and emoji inside the phrases the rules look for (S-A11, S-D1, S-A9),
4. boilerplate chat apologies after a complaint (S-D1),
5. masked entities in agent and customer text.

All dialogue text is invented.
"""

from __future__ import annotations

import pytest

from guifan.engine import Engine
from guifan.model import Channel, Conversation, Role, Turn

ENGINE = Engine()

FORBIDDEN_CLAUSES = {f"S-F{n}" for n in range(1, 12)}


def conversation(*turns: tuple[str, str], channel: Channel = Channel.CHAT) -> Conversation:
    """``("C", text)`` is a customer turn, ``("A", text)`` an agent turn."""
    roles = {"C": Role.CUSTOMER, "A": Role.AGENT}
    return Conversation("chat-reality", tuple(Turn(roles[r], t) for r, t in turns), channel=channel)


def check(*turns: tuple[str, str], channel: Channel = Channel.CHAT):
    return ENGINE.check(conversation(*turns, channel=channel))


def with_clause(findings, clause: str):
    return [f for f in findings if clause in f.clauses]


def with_rule(findings, rule: str):
    return [f for f in findings if f.rule == rule]


COMPLAINT = "快递三天了还没到,太慢了"


# -- 1. chat closing and greeting variants (S-A9 / CLS001, S-A1 / OPN001) ---------------------------


def closing_chat(offer: str, farewell: str):
    return check(("C", "好的,我知道了"), ("A", offer), ("C", "没有了"), ("A", farewell))


@pytest.mark.parametrize(
    ("offer", "farewell"),
    [
        ("请问还有其他还可以帮到您的吗?", "感谢您对京东的支持,祝您生活愉快,再见!"),
        ("还有别的需要小妹帮您的吗~", "祝您购物愉快"),
        ("亲,还有其他问题需要咨询的吗", "欢迎下次光临"),
        ("请问还有其他可以帮到您的吗~~", "感谢您的支持,再见哦~😊"),
        ("亲亲还有其它需要帮助的吗", "祝亲生活愉快[微笑]"),
        ("请问亲还有别的问题吗", "谢谢亲的支持哦,拜拜~"),
        ("请问还有什么问题需要小妹帮忙处理的吗", "欢迎您下次光临"),
        ("还有其他的疑问嘛亲", "感谢亲对京东的支持"),
    ],
)
def test_chat_closing_variants_count_as_closing(offer, farewell):
    found = closing_chat(offer, farewell)
    assert not with_rule(found, "CLS001")
    assert not with_clause(found, "S-A9")


FAREWELL = "感谢您的支持,再见"


@pytest.mark.parametrize(
    "offer",
    [
        "还有别的需要小妹帮您的吗~",
        "请问还有什么可以为您效劳的吗~",
        "亲,还有别的事情吗",
        "还有其他需要小妹为您服务的吗",
        "请问还有什么需要妹子帮忙的吗",
        "还有什么小妹能帮到您的吗",
        "还有什么能为亲效劳的吗",
        pytest.param("还有没有别的问题呀"),
        "还有啥需要帮忙的吗",
        "还有需要咨询的吗",
        "还需要小妹帮您做什么吗",
    ],
)
def test_chat_offer_of_further_help_variants(offer):
    found = closing_chat(offer, FAREWELL)
    assert not with_clause(found, "S-A9"), [f.message for f in with_clause(found, "S-A9")]


OFFER = "请问还有其他可以帮到您的吗?"


@pytest.mark.parametrize(
    "farewell",
    [
        "祝您购物愉快",
        "欢迎下次光临",
        "亲,祝您购物愉快哦~",
        "祝您生活愉快哦~😊",
        "再见啦~",
        "拜拜哦亲",
        "谢谢亲的理解和支持",
        "欢迎再次光临",
        "感谢您选择京东",
        "欢迎亲再次光临",
        "感谢您的光顾",
        pytest.param("多谢您的支持"),
        "感谢您一直以来的支持",
        pytest.param("感谢您的来访"),
        pytest.param("很高兴为您服务,再会"),
    ],
)
def test_chat_farewell_variants(farewell):
    found = closing_chat(OFFER, farewell)
    assert not with_clause(found, "S-A9"), [f.message for f in with_clause(found, "S-A9")]


@pytest.mark.parametrize(
    "agent_turns",
    [
        ("好的亲,已经帮您备注了哦~",),  # neither part
        ("请问还有其他可以帮到您的吗~",),  # no farewell
        ("感谢您对京东的支持,祝您生活愉快,再见!",),  # no offer of further help
        ("亲,已经帮您催促了哦", "有问题随时联系小妹哦[微笑]"),  # an offer, but no thanks, wish or goodbye
        ("请问还有其他可以帮到您的吗?", "期待下次为您服务哦~"),  # not a farewell (as the gold labels)
        ("请问还有其他可以帮到您的吗?", "给您比心~[玫瑰]"),  # emoji are no farewell
    ],
)
def test_missing_chat_closing_is_flagged(agent_turns):
    turns = [("C", "好的")]
    for text in agent_turns:
        turns += [("A", text), ("C", "嗯")]
    turns.pop()  # the chat ends with the agent
    found = check(*turns)
    [closing] = with_rule(found, "CLS001")
    assert closing.clauses == ("S-A9",)
    assert closing.turn == len(turns) - 1


def test_closing_not_required_when_the_customer_has_the_last_word():
    found = check(("C", "查下快递"), ("A", "亲,已经在派送了哦~"), ("C", "好的"))
    assert not with_clause(found, "S-A9")


@pytest.mark.parametrize(
    "greeting",
    [
        "亲,您好~",
        "亲爱的,在的哦~",
        "在的呢亲😊",
        "亲,欢迎光临京东",
        "您好,妹子在的,请问有什么可以帮到您的吗",
        "亲,晚上好呀",
        "您好呀亲[微笑]",
        "亲,请问有什么可以帮您的呢",
        pytest.param("亲,在呢"),
        pytest.param("哈喽亲"),
    ],
)
def test_chat_greeting_variants(greeting):
    found = check(("C", "在吗"), ("A", greeting), ("C", "我想查个快递"))
    assert not with_clause(found, "S-A1")


@pytest.mark.parametrize("first", ["订单号发一下", "嗯,说吧", "快递单号多少"])
def test_missing_chat_greeting_is_flagged(first):
    found = check(("C", "在吗"), ("A", first), ("C", "我想查个快递"))
    [opening] = with_rule(found, "OPN001")
    assert "S-A1" in opening.clauses and opening.turn == 1


# -- 2. 亲 / 亲爱的 / 妹子 / 小妹 (S-F10, S-F6, S-G1, S-A11) --------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "小妹帮您查一下哦亲",
        "妹子这边帮您核实",
        "亲爱的,小妹马上帮您处理",
        "亲亲,妹纸这就帮您看看哦😊",
        "妹子帮您问问哈",
        "亲们好,小妹在的",
        "亲,小妹这边看到您的订单已经发货啦~",
        "有问题随时找小妹哈",
    ],
)
def test_qin_and_self_reference_are_not_ni_nor_forbidden(agent):
    found = check(("C", "帮我看看订单"), ("A", agent))
    assert not with_clause(found, "S-F10")
    assert not [f for f in found if FORBIDDEN_CLAUSES & set(f.clauses)]


@pytest.mark.parametrize("agent", ["你好亲", "亲爱的你好", "亲,你的订单已经发货了", "小妹帮你查一下"])
def test_ni_next_to_qin_is_still_flagged(agent):
    found = check(("C", "在吗"), ("A", agent))
    [ni] = with_rule(found, "FBD010")
    assert ni.clauses == ("S-F10",) and ni.turn == 1 and ni.quote == "你"


@pytest.mark.parametrize(
    "agent",
    [
        "这个小妹也不知道呢",
        "小妹这边也不知道哈",
        "我不知道呢",
        "我不清楚[微笑]",
        pytest.param("小妹不知道哦"),
        "妹子也不清楚呢",
        pytest.param("我不知道哦亲"),
        pytest.param("我不清楚哦亲"),
        pytest.param("这是公司规定哦亲"),
    ],
)
def test_self_reference_and_qin_do_not_hide_shirking(agent):
    found = check(("C", "这个什么时候能修好?"), ("A", agent))
    assert [f.clauses for f in with_rule(found, "FBD006")] == [("S-F6",)]


def test_qin_alone_is_not_polite_vocabulary():
    found = check(("C", "快递到哪了"), ("A", "亲,已经发货了哈"), ("C", "好"), ("A", "亲,还有别的问题吗~"))
    [vocabulary] = with_rule(found, "CRT005")
    assert vocabulary.clauses == ("S-G1",) and vocabulary.turn == 3


def test_qin_with_nin_is_polite_vocabulary():
    found = check(("C", "快递到哪了"), ("A", "亲,您的快递已经发货了哈"))
    assert not with_clause(found, "S-G1")


@pytest.mark.parametrize(
    "customer",
    [
        "谢谢妹子",
        "谢谢小妹哈~",
        "辛苦妹子了",
        "辛苦小妹了",
        "辛苦亲了",
    ],
)
def test_thanking_the_agent_by_chat_name_needs_an_answer(customer):
    found = check(("C", customer), ("A", "好的呢"))
    assert [(f.clauses, f.turn) for f in with_rule(found, "CRT001")] == [(("S-A11",), 1)]


# -- 3. particles and emoji (S-A11, S-D1, S-A9) -----------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "不客气哦~😊",
        "不客气的亲[微笑]",
        "亲,不用客气哈",
        "应该的呢亲~",
        "这是小妹应该做的哦~",
        "亲亲不用谢哟🌹",
        "嗯嗯不客气",
        "能为亲服务是小妹的荣幸",
    ],
)
def test_reply_to_thanks_with_particles_and_emoji(agent):
    found = check(("C", "好的谢谢"), ("A", agent))
    assert not with_rule(found, "CRT001")
    assert not with_clause(found, "S-A11")


@pytest.mark.parametrize(
    "customer",
    [
        "谢谢啦~",
        "好哒谢谢亲😊",
        "谢谢亲[抱拳]",
        "好的,辛苦了哈",
        "[微笑]多谢啦",
        pytest.param("辛苦啦"),
        pytest.param("好的,辛苦啦亲"),
    ],
)
def test_thanks_with_particles_and_emoji_is_recognized(customer):
    found = check(("C", customer), ("A", "好的呢"))
    assert [f.clauses for f in with_rule(found, "CRT001")] == [("S-A11",)]


@pytest.mark.parametrize(
    "agent",
    [
        "抱歉呢亲,给您带来不便了哈~",
        "不好意思哈亲",
        "对不起哈亲[可怜]",
        "抱歉😭",
        "让您久等啦",
        "真的很抱歉呢~",
        pytest.param("亲,久等啦~"),
        "让亲久等啦",
    ],
)
def test_apology_with_particles_and_emoji_counts_for_complaint(agent):
    found = check(("C", COMPLAINT), ("A", agent))
    assert not with_rule(found, "CMP001")
    assert not with_clause(found, "S-D1")


@pytest.mark.parametrize(
    "agent",
    [
        "[抱拳]",
        "[委屈]",
    ],
)
def test_an_emoticon_alone_is_no_apology(agent):
    found = check(("C", COMPLAINT), ("A", agent))
    assert [f.clauses for f in with_rule(found, "CMP001")] == [("S-D1",)]


@pytest.mark.parametrize(
    "agent",
    [
        "您好亲[微笑],请问有什么可以帮您",
        "您好亲[爱心],请问有什么可以帮您",
        "您好亲[爱你],请问有什么可以帮您",
    ],
)
def test_emoticon_codes_are_not_the_agents_words(agent):
    found = check(("C", "在吗"), ("A", agent))
    assert not with_clause(found, "S-F10")


def test_closing_with_particles_and_emoji():
    found = closing_chat("请问还有其他可以帮到您的吗~~", "祝您生活愉快[微笑]")
    assert not with_clause(found, "S-A9")


# -- 4. boilerplate chat apologies after a complaint (S-D1 / CMP001) --------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "妹子怠慢的地方,您多多包涵",
        "妹子怠慢的地方,您多多包含哦",  # the boilerplate's usual typo
        "让您久等了",
        "给您带来不便深感抱歉",
        "怠慢之处还请见谅",
        "小妹非常理解您的心情哦",
        "非常理解亲的感受",
        "给亲带来不便了,小妹马上帮您催促",
        "让亲等这么久真是不好意思",
        pytest.param("实在对不住"),
        pytest.param("真对不住亲,小妹帮您催一下"),
        "理解亲的心情,小妹帮您催一下",
        pytest.param("小妹给亲赔不是了"),
    ],
)
def test_boilerplate_apology_counts_for_complaint(agent):
    found = check(("C", COMPLAINT), ("A", agent))
    assert not with_rule(found, "CMP001")
    assert not with_clause(found, "S-D1")


@pytest.mark.parametrize(
    "agent_turns",
    [
        ("我帮您查一下物流哦~",),
        ("亲别生气哈,小妹帮您查查",),  # soothing is not empathy (gold labels)
        ("小妹帮您查一下哦亲", "亲,已经在派送了哦~😊"),
    ],
)
def test_complaint_without_apology_is_flagged(agent_turns):
    turns = [("C", COMPLAINT)]
    for text in agent_turns:
        turns += [("A", text), ("C", "嗯")]
    turns.pop()
    found = check(*turns)
    [missing] = with_rule(found, "CMP001")
    assert missing.clauses == ("S-D1",) and missing.turn == len(turns) - 1


@pytest.mark.parametrize("customer", ["太慢了吧😡", "都[数字x]天了还没发货", "东西坏了[发怒]", "怎么还没到啊???"])
def test_chat_complaints_with_emoji_and_masks_are_complaints(customer):
    found = check(("C", customer), ("A", "好的,我帮您查一下"))
    assert [f.clauses for f in with_rule(found, "CMP001")] == [("S-D1",)]


# -- 5. masked entities ------------------------------------------------------------------------------

MASKED = [
    "您的[订单x]已经发货了",
    "预计[数字x]天内送达",
    "退款[金额x]元已经原路退回",
    "配送员[姓名x]师傅稍后会联系您",
    "配送员的电话是[电话x]",
    "收货地址是[地址x]",
    "预计[日期x]送达",
    "[时间x]前送达",
    "包裹已经到达[站点x]",
    "由[组织机构x]负责配送",
    "[姓名x]先生,您的[订单x]已经发货了",
]


@pytest.mark.parametrize("masked", MASKED)
def test_masked_entities_create_no_findings_in_a_good_chat(masked):
    found = check(
        ("C", "在吗"),
        ("A", "您好,很高兴为您服务,请问有什么可以帮您?"),
        ("C", "我的订单[订单x]到哪了,收货人[姓名x]"),
        ("A", f"好的,{masked},请问还有其他可以帮到您的吗?"),
        ("C", "没有了,谢谢"),
        ("A", "不客气,感谢您对京东的支持,祝您生活愉快,再见!"),
    )
    assert found == []


@pytest.mark.parametrize("channel", [Channel.CHAT, Channel.PHONE])
@pytest.mark.parametrize("masked", MASKED)
def test_masked_entities_do_not_break_a_one_turn_closing(masked, channel):
    found = check(
        ("C", "我想查一下快递"),
        ("A", f"您好,{masked},请问还有其他可以帮到您的吗?感谢您对京东的支持,祝您生活愉快,再见!"),
        channel=channel,
    )
    assert found == []


def test_masked_order_then_closing_in_one_turn():
    found = check(
        ("C", "我的[订单x]到哪了"),
        ("A", "您的[订单x]已经发货了,请问还有其他可以帮到您的吗?感谢您对京东的支持,祝您生活愉快,再见!"),
    )
    assert not with_clause(found, "S-A9")
    assert not with_clause(found, "S-F10")
    assert not [f for f in found if FORBIDDEN_CLAUSES & set(f.clauses)]


@pytest.mark.parametrize(
    ("offer", "farewell"),
    [
        ("[姓名x]先生,还有其他可以帮到您的吗", "感谢[姓名x]先生对京东的支持,再见"),
        ("请问[姓名x]女士还有其他可以帮到您的吗", "祝[姓名x]女士生活愉快"),
        (OFFER, "感谢[姓名x]女士的支持"),
    ],
)
def test_masked_names_do_not_break_the_closing(offer, farewell):
    found = closing_chat(offer, farewell)
    assert not with_clause(found, "S-A9")


def test_masked_name_does_not_break_the_apology():
    found = check(("C", "我的[订单x]怎么还没到,太慢了"), ("A", "非常抱歉[姓名x]先生,让您久等了"))
    assert not with_clause(found, "S-D1")


def test_masked_name_does_not_break_the_reply_to_thanks():
    found = check(("C", "好的谢谢"), ("A", "不客气[姓名x]先生,这是小妹应该做的"))
    assert not with_clause(found, "S-A11")


def test_masked_complaint_without_apology_is_flagged():
    found = check(("C", "我的[订单x]都[数字x]天了还没到"), ("A", "您的[订单x]在[站点x]了哦"))
    [missing] = with_rule(found, "CMP001")
    assert missing.clauses == ("S-D1",) and missing.turn == 1


def test_masked_order_in_a_statement_is_no_info_request():
    found = check(("C", "我的[订单x]到哪了"), ("A", "您的[订单x]已经发给我们仓库了,[数字x]天内出库"))
    assert not with_clause(found, "S-A8")
