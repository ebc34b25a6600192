"""Masking of personal data (guifan.privacy): each recognized form, the look-alikes left alone,
speed and bounded time, JSON-like values, whole results, and `guifan check --mask` for every format."""

from __future__ import annotations

import doctest
import json
import time
import zipfile
from dataclasses import FrozenInstanceError, replace

import openpyxl
import pytest
from typer.testing import CliRunner

from guifan import privacy
from guifan.cli import app
from guifan.engine import Engine
from guifan.errors import InputError
from guifan.model import Conversation, Role, Turn
from guifan.privacy import mask_personal_data, mask_result, mask_summary, mask_value
from guifan.rulebook import default_rulebook
from guifan.scoring import BatchSummary, Checker


def masked(text: str) -> str:
    out = mask_personal_data(text)
    assert len(out) == len(text), "masking keeps the text's length"
    return out


# -- one test per recognized form ----------------------------------------------------------------


def test_the_module_example_holds():
    assert doctest.testmod(privacy).failed == 0


def test_mobile_number():
    assert masked("我手机号13812345678,谢谢") == "我手机号138****5678,谢谢"


def test_mobile_with_plus_86():
    assert masked("+8613912345678") == "+86139****5678"


def test_mobile_with_86_without_plus():
    assert masked("电话8613912345678") == "电话86139****5678"


def test_mobile_with_0086_and_spaces():
    assert masked("打0086 139 1234 5678吧") == "打0086 139 **** 5678吧"


def test_mobile_with_bracketed_country_code():
    assert masked("(+86)13812345678") == "(+86)138****5678"


def test_mobile_in_full_width_digits_masks_one_star_per_digit():
    assert masked("号码１３８１２３４５６７８") == "号码１３８****５６７８"


def test_mobile_with_dots():
    assert masked("138.1234.5678") == "138.****.5678"


def test_mobile_with_spaces():
    assert masked("手机 138 1234 5678") == "手机 138 **** 5678"


def test_mobile_with_dashes_full_width_too():
    assert masked("138-1234-5678 / １３８－１２３４－５６７８") == "138-****-5678 / １３８－****－５６７８"


def test_mobile_touching_latin_letters():
    assert masked("Tel13812345678, wx13912345678") == "Tel138****5678, wx139****5678"


def test_mobile_in_chinese_numerals():
    assert masked("我的号码是幺三八一二三四五六七八") == "我的号码是幺三八****五六七八"


def test_two_mobiles_in_one_turn():
    assert masked("13812345678/13912345678") == "138****5678/139****5678"


def test_landline_with_dashed_area_code():
    assert masked("座机010-12345678") == "座机010-****5678"


def test_landline_with_bracketed_area_code():
    assert masked("(021)12345678 （0571）87654321") == "(021)****5678 （0571）****4321"


def test_landline_with_seven_digit_local_number():
    assert masked("0831-1234567") == "0831-***4567"


def test_landline_with_plus_86():
    assert masked("+86 10 1234 5678") == "+86 10 **** 5678"


def test_foreign_number_written_with_plus():
    assert masked("+1 650 253 0000") == "+1 650 *** 0000"


def test_id_card_18_digits():
    assert masked("身份证11010519491231002X。") == "身份证110105********002X。"


def test_id_card_with_lower_case_x():
    assert masked("11010519491231002x") == "110105********002x"


def test_id_card_grouped_6_8_4():
    assert masked("110101 19900307 1234") == "110101 ******** 1234"


def test_id_card_grouped_6_4_4_4():
    assert masked("110101 1990 0307 1234") == "110101 **** **** 1234"


def test_id_card_grouped_with_dashes():
    assert masked("110105-19491231-002X") == "110105-********-002X"


def test_id_card_in_full_width_digits():
    assert masked("１１０１０５１９４９１２３１００２Ｘ") == "１１０１０５********００２Ｘ"


def test_old_15_digit_id_card():
    assert masked("老身份证110105491231002") == "老身份证110105*****1002"


def test_bank_card_digits():
    assert masked("卡号6222021234567890123") == "卡号6222***********0123"


def test_bank_card_grouped_by_four():
    assert masked("6222 0212 3456 7890 128") == "6222 **** **** ***0 128"


def test_email_address():
    assert masked("邮箱zhang.san@163.com谢谢") == "邮箱z*******n@163.com谢谢"


def test_qq_email_hides_the_qq_number():
    assert masked("12345678@qq.com") == "1******8@qq.com"


def test_email_with_full_width_at_sign():
    assert masked("lisi＠example.cn") == "l**i＠example.cn"


def test_every_form_of_the_bundled_masking_examples():
    text = "卡号是6222 0212 3456 7890 128，身份证号是110105 19491231 002X，手机13812345678"
    assert masked(text) == "卡号是6222 **** **** ***0 128，身份证号是110105 ******** 002X，手机138****5678"


# -- look-alikes that are not personal data -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "订单号 202603151234567",  # 15 digits: no region code 20, no birth date at 7-12
        "订单号：20260315123",
        "价格1299元,优惠后¥1,380,000.00",
        "金额 1234.56 元,共计13812元",
        "¥13812345678",  # a currency sign before the digits: an amount
        "2026-03-15",
        "2026/03/15 14:30",
        "2026-03-15 10:30:21",
        "2026年03月15日13:30",
        "20260315 1030",
        "2026.03.15",
        "14:30:00",
        "运单号 SF1234567890123",
        "运单号 YT7500012345678",
        "快递单号 773012345678901",
        "JDVA12345678901",
        "JT0012345678901",  # "00" + digits without "+": not a foreign number
        "验证码4821",
        "工号5301,您好",
        "请拨打400-810-5888或800-820-8820",  # company hotlines are not personal data
        "请拨打4008105888",
        "请拨打95588或12315",
        "[电话x] [数字x] [订单x] [姓名x]",
        "138****5678",
        "1381234567",  # 10 digits: not a mobile
        "13812345678901",  # 14 digits: not a mobile
        "0755-1234567",  # Shenzhen numbers have 8 digits: no such number
        "一二三四五六七八九",  # counting, not a number
        "感谢您的耐心等待,一会儿给您回电",
    ],
)
def test_look_alikes_are_left_alone(text):
    assert mask_personal_data(text) == text


def test_long_order_numbers_are_masked_like_card_numbers():
    # 16-19 digits cannot be told from a card number (customers and speech recognition get a digit
    # wrong, so no Luhn check): masked, first and last four kept so orders stay distinguishable.
    assert masked("订单号 2026031512345678901") == "订单号 2026***********8901"


def test_an_order_number_shaped_like_an_old_id_card_is_masked():
    # The documented cost of masking 15-digit ID cards: a region code and a YYMMDD date.
    assert masked("单号 110105491231002") == "单号 110105*****1002"


# -- speed and bounded time ---------------------------------------------------------------------


def test_text_without_candidates_is_returned_as_is():
    text = "您好,欢迎致电青禾银行信用卡中心,客服代表5215很高兴为您服务,请问有什么可以帮您?"
    assert mask_personal_data(text) is text


def test_text_without_digits_is_fast():
    text = "您好,欢迎致电青禾银行信用卡中心,很高兴为您服务,请问有什么可以帮您?我想问一下订单什么时候到" * 2
    start = time.perf_counter()
    for _ in range(10_000):
        mask_personal_data(text)
    assert (time.perf_counter() - start) / 10_000 < 50e-6  # about 2 µs here; generous for a busy CI


@pytest.mark.parametrize(
    "unit",
    ["1", "1 ", "1-", "(0", "+86 ", "110101 ", "a@", "b.", "一", "电话13812345678 "],
    ids=["digits", "digit-space", "digit-dash", "brackets", "plus86", "id-groups", "at-signs", "dots", "numerals",
         "many-phones"],
)
def test_adversarial_text_finishes_in_bounded_time(unit):
    text = unit * (20_000 // len(unit))
    if unit == "b.":
        text = "a@" + text
    start = time.perf_counter()
    out = mask_personal_data(text)
    assert len(out) == len(text)
    assert time.perf_counter() - start < 5  # linear: 20,000 characters take well under a second


# -- values, results, summaries -------------------------------------------------------------------


def test_mask_value_masks_every_string_and_phone_like_numbers():
    value = {
        "13812345678": "key stays",
        "callback": 13812345678,
        "id_card": 110105194912310021,
        "ring_seconds": 8,
        "vip": True,
        "score": 1.5,
        "note": None,
        "contacts": [{"email": "zhang.san@163.com"}, ("13912345678", 4821)],
    }
    assert mask_value(value) == {
        "13812345678": "key stays",
        "callback": "138****5678",
        "id_card": "110105********0021",
        "ring_seconds": 8,
        "vip": True,
        "score": 1.5,
        "note": None,
        "contacts": [{"email": "z*******n@163.com"}, ("139****5678", 4821)],
    }


def test_mask_value_of_a_plain_string_and_an_appeal_reason():
    assert mask_value("客户来电13812345678投诉") == "客户来电138****5678投诉"
    assert mask_value(["no digits"]) == ["no digits"]


def _result():
    conversation = Conversation(
        id="vip-13812345678",
        agent_id="13700001111",
        source="calls/13812345678.jsonl:1",
        metadata={"callback": 13812345678, "note": "回拨13912345678"},
        turns=(
            Turn(Role.CUSTOMER, "我的手机号是13812345678,你们能不能快点"),
            Turn(Role.AGENT, "你自己去问问吧,我的私人手机13912345678别打了"),
        ),
    )
    return Checker(Engine(default_rulebook())).check(conversation)


def test_mask_result_masks_ids_source_metadata_and_turns():
    result = _result()
    out = mask_result(result)
    conv = out.conversation
    assert conv.id == "vip-138****5678"
    assert conv.agent_id == "137****1111"
    assert conv.source == "calls/138****5678.jsonl:1"
    assert conv.metadata == {"callback": "138****5678", "note": "回拨139****5678"}
    assert [t.text for t in conv.turns] == [
        "我的手机号是138****5678,你们能不能快点", "你自己去问问吧,我的私人手机139****5678别打了",
    ]
    assert result.conversation.id == "vip-13812345678", "the original result is not changed"
    assert out.score == result.score and out.rulebook == result.rulebook


def test_mask_result_keeps_finding_spans_on_the_same_words():
    result = _result()
    out = mask_result(result)
    assert out.findings and len(out.findings) == len(result.findings)
    for before, after in zip(result.findings, out.findings):
        assert after.span == before.span and after.rule == before.rule
        if after.span is not None:
            start, end = after.span
            assert out.conversation.turns[after.turn].text[start:end] == after.quote
            assert result.conversation.turns[before.turn].text[start:end] == before.quote


def test_mask_result_masks_quote_message_and_suggestion():
    result = _result()
    turn = result.conversation.turns[1].text
    cut = turn.index("1391234") + 7  # a whole-turn quote truncated inside the number
    finding = replace(
        result.findings[0], turn=1, span=None, quote=turn[:cut] + "…",
        message="客服留了私人手机13912345678", suggestion="请回拨13812345678",
    )
    (masked_finding,) = mask_result(replace(result, findings=(finding,))).findings
    assert masked_finding.quote == "你自己去问问吧,我的私人手机139****…"
    assert masked_finding.message == "客服留了私人手机139****5678"
    assert masked_finding.suggestion == "请回拨138****5678"
    with pytest.raises(FrozenInstanceError):
        masked_finding.quote = "x"  # type: ignore[misc]


def test_mask_summary_masks_paths_and_messages_of_unreadable_inputs():
    summary = BatchSummary(read=2, checked=1, failed=1,
                           errors=[InputError("data/13812345678.json", "检查对话 vip-13912345678 时出错", 3, "turns")])
    out = mask_summary(summary)
    (error,) = out.errors
    assert (error.path, error.message, error.line, error.field) == (
        "data/138****5678.json", "检查对话 vip-139****5678 时出错", 3, "turns",
    )
    assert (out.read, out.checked, out.failed) == (2, 1, 1)
    assert summary.errors[0].path == "data/13812345678.json"


# -- guifan check --mask ------------------------------------------------------------------------

runner = CliRunner()
SECRETS = ("13812345678", "13912345678", "zhang.san", "13700001111")
# Where each format shows turn text: the text report around a quote, the HTML report every turn,
# the workbook the turn of each finding (the JSON report has no turn text).
TURN_TEXT = {
    "text": "您好,我的「私人手机139****5678」",
    "json": "",
    "html": "我的手机号是138****5678,邮箱z*******n@163.com",
    "xlsx": "您好,我的私人手机139****5678,有事直接打给我。",
}


@pytest.fixture
def batch(tmp_path):
    """A conversation whose id, customer turn and a finding's quote and message carry phone numbers
    (a company file forbids giving out the private number), and an unreadable file named after one."""
    data = tmp_path / "data"
    data.mkdir()
    record = {
        "id": "vip-13812345678", "channel": "chat", "agent_id": "5301",
        "metadata": {"callback": 13812345678},
        "turns": [
            {"role": "customer", "text": "你好,我的手机号是13812345678,邮箱zhang.san@163.com"},
            {"role": "agent", "text": "您好,我的私人手机13912345678,有事直接打给我。"},
            {"role": "agent", "text": "你自己去问问吧"},
        ],
    }
    (data / "calls.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (data / "13700001111.json").write_text("{broken", encoding="utf-8")
    company = tmp_path / "company.yaml"
    company.write_text("add_forbidden:\n  S-F6: [私人手机13912345678]\n", encoding="utf-8")
    return tmp_path


def report(batch, fmt, *options):
    out = batch / f"report.{fmt}"
    result = runner.invoke(
        app, ["check", str(batch / "data"), "-c", str(batch / "company.yaml"), "-f", fmt, "-o", str(out),
              "--no-progress", *options],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 1, result.output  # the broken file
    if fmt != "xlsx":
        return out.read_text(encoding="utf-8")
    book = openpyxl.load_workbook(out)
    cells = "\n".join(str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row)
    with zipfile.ZipFile(out) as archive:  # every part of the file, not only what openpyxl shows
        raw = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    return cells + "\n" + raw


@pytest.mark.parametrize("fmt", ["text", "json", "html", "xlsx"])
def test_check_mask_hides_phone_numbers_in_every_report_format(batch, fmt):
    text = report(batch, fmt, "--mask")
    for secret in SECRETS:
        assert secret not in text
    assert "vip-138****5678" in text  # the conversation id
    assert "私人手机139****5678" in text  # the finding's quote and message
    assert "137****1111.json" in text  # the unreadable file
    assert TURN_TEXT[fmt] in text
    if fmt == "json":
        findings = [f for c in json.loads(text)["conversations"] for f in c["findings"]]
        assert any(f["message"] == "客服使用了推卸语:「私人手机139****5678」" for f in findings)


@pytest.mark.parametrize("fmt", ["text", "json", "html", "xlsx"])
def test_without_mask_the_report_is_unchanged(batch, fmt):
    plain = report(batch, fmt)
    assert "vip-13812345678" in plain and "私人手机13912345678" in plain
    if fmt == "html":
        assert "我的手机号是13812345678" in plain
    if fmt != "xlsx":  # a workbook's zip carries its save time
        assert report(batch, fmt, "--no-mask") == plain


def test_the_rulebook_setting_masks_reports_and_no_mask_overrides_it(batch):
    company = batch / "company.yaml"
    company.write_text(company.read_text(encoding="utf-8") + "privacy:\n  mask_reports: true\n", encoding="utf-8")
    assert "13812345678" not in report(batch, "json") and "vip-138****5678" in report(batch, "json")
    assert "vip-13812345678" in report(batch, "json", "--no-mask")


def test_the_state_file_keeps_the_original_text(batch):
    state = batch / "run.jsonl"
    report(batch, "json", "--mask", "--state", str(state))
    assert "13812345678" in state.read_text(encoding="utf-8")
