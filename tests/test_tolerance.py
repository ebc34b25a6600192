"""Tolerant matching of the must-say wording: homophones from speech recognition and pinyin input."""

import pytest

from guifan import text as textnorm
from guifan.engine import Engine
from guifan.errors import RulebookError
from guifan.model import Channel, Conversation, Role, Turn
from guifan.rulebook import load_rulebook


def chat(*lines: str, channel: Channel = Channel.CHAT) -> Conversation:
    turns = []
    for line in lines:
        who, said = line.split(": ", 1)
        turns.append(Turn(Role.AGENT if who == "客服" else Role.CUSTOMER, said))
    return Conversation("t", tuple(turns), channel=channel)


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    path = tmp_path_factory.mktemp("rb") / "strict.yaml"
    path.write_text("settings:\n  homophone_categories: []\n", encoding="utf-8")
    return Engine(load_rulebook([path]))


@pytest.fixture(scope="module")
def tolerant():
    return Engine()


def clauses(engine: Engine, conversation: Conversation) -> set[str]:
    return {c for f in engine.check(conversation) for c in f.clauses}


def test_sound_form_merges_homophones_and_keeps_length():
    assert textnorm.sound("请稍登") == textnorm.sound("请稍等")
    assert textnorm.sound("报歉") == textnorm.sound("抱歉")
    assert textnorm.sound("在见") == textnorm.sound("再见")
    assert textnorm.sound("再见") != textnorm.sound("谢谢")
    loose = textnorm.loose("您好呀,请稍等~")
    assert len(textnorm.sound(loose)) == len(loose)


@pytest.mark.parametrize(
    ("conversation", "clause"),
    [
        # 报歉 for 抱歉: still an apology after the complaint (S-D1).
        (chat("客户: 快递三天了还没到,太慢了", "客服: 非常报歉,我马上帮您催促"), "S-D1"),
        # 在见 for 再见: still a farewell (S-A9).
        (chat("客户: 查下物流", "客服: 已经到站点了", "客户: 好",
              "客服: 请问还有其他可以帮您的吗?那先这样,在见!"), "S-A9"),
        # 不课气 for 不客气: still a reply to thanks (S-A11).
        (chat("客户: 好的谢谢", "客服: 不课气哦"), "S-A11"),
    ],
)
def test_homophone_errors_do_not_make_false_findings(strict, tolerant, conversation, clause):
    assert clause in clauses(strict, conversation)
    assert clause not in clauses(tolerant, conversation)


def test_hold_request_heard_as_qing_shao_deng(tolerant):
    ctx = tolerant.context(chat("客户: 帮我查下", "客服: 好的请您稍登,正在为您查询"))
    view = ctx.turns[1]
    hit = view.first("hold_request")
    assert hit is not None and hit.phrase.form == "sound"
    assert view.quote(hit) in ("请您稍登", "稍登")  # the span maps back to the original text


def test_exact_match_stays_authoritative(tolerant):
    view = tolerant.context(chat("客户: 在吗", "客服: 非常抱歉,报歉")).turns[1]
    assert {h.phrase.form for h in view.find("apology")} != {"sound"}
    assert all(h.phrase.form != "sound" for h in view.find("apology"))


def test_no_tolerance_for_forbidden_language_or_customer_turns(tolerant):
    # 我不知到 sounds like 我不知道 (S-F6), but forbidden phrases are matched exactly only.
    assert "S-F6" not in clauses(tolerant, chat("客户: 哪天到", "客服: 我不知到。"))
    # A customer's 谢谢 heard as 泄泄 is not a thanks the agent must answer.
    ctx = tolerant.context(chat("客户: 报歉打扰了", "客服: 没关系"))
    assert not ctx.turns[0].has("apology")


def test_unknown_homophone_category_is_a_rulebook_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("settings:\n  homophone_categories: [closing_offer, no_such_category]\n", encoding="utf-8")
    with pytest.raises(RulebookError, match="no_such_category"):
        load_rulebook([path])
