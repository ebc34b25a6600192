"""The meaning stage end to end: must-not acts in the agent's own words become findings that carry
their evidence and confidence and wait for review; guards, quotes and excuses hold; the exemplar
banks are sound; the optional model judge never stops a check."""

from __future__ import annotations

import json
import os
import pickle
import socket

import pytest

from guifan.cache import private
from guifan.engine import Engine
from guifan.engine.judge import ModelJudge
from guifan.engine import meaning
from guifan.engine.meaning import MeaningModel
from guifan.model import Evidence
from guifan.readers.textlog import parse_example
from guifan.reporters import render_html, render_json
from guifan.rulebook import default_rulebook, load_rulebook
from guifan.scoring import BatchSummary, Checker

SARCASM = "客户: 这个杯子一个月就坏了\n客服: 这么便宜的东西您还指望用十年啊"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def meaning_findings(engine: Engine, text: str, rule: str | None = None):
    return [f for f in engine.check(parse_example(text))
            if f.evidence in (Evidence.MEANING, Evidence.MODEL) and (rule is None or f.rule == rule)]


def test_sarcasm_in_words_no_list_holds_is_a_finding_for_review(engine):
    (finding,) = meaning_findings(engine, SARCASM, "FBD001")
    assert finding.quote == "这么便宜的东西您还指望用十年啊" and finding.span == (0, 15)
    assert "讽刺语" in finding.message and "语义接近" in finding.message
    rulebook = engine.rulebook
    assert finding.confidence < rulebook.review.confidence_below  # meaning alone is reviewed first
    checker = Checker(engine)
    result = checker.check(parse_example(SARCASM))
    assert checker.scorer.needs_review(finding) and not checker.scorer.counts(finding)
    scored = checker.scorer.score([f for f in result.findings if f.rule != "FBD001"])
    assert result.score.total == scored.total  # 待复核 does not deduct until confirmed


def test_the_exact_phrase_path_is_unchanged_and_certain(engine):
    findings = [f for f in engine.check(parse_example("客户: 这个能退吗\n客服: 你自己去问问吧")) if f.rule == "FBD006"]
    assert [(f.evidence, f.confidence) for f in findings] == [(Evidence.PHRASE, 1.0)]


@pytest.mark.parametrize("agent", [
    "这么便宜的东西您还指望用十年啊",
    "系统的事我们也没辙,您等等看吧",
    "咱家这批货做工确实粗糙",
    "您得先把话讲明白我才能帮您",
])
def test_the_issues_examples_of_wording_the_lists_lack(engine, agent):
    found = meaning_findings(engine, f"客户: 这个怎么回事\n客服: {agent}")
    assert found and all(f.clauses[0].startswith("S-F") for f in found)


@pytest.mark.parametrize("agent", [
    "这个需要售后处理,我先帮您提交,有结果第一时间告诉您。",
    "不好意思,可能我前面说得不够清楚,我再整理一下发给您~",
    "您的订单已经发货了,预计明天送达。",
    "非常抱歉给您添麻烦了,我马上帮您换一个新的。",
])
def test_polite_service_language_makes_no_finding_by_meaning(engine, agent):
    assert meaning_findings(engine, f"客户: 这个怎么回事\n客服: {agent}") == []


def test_a_quote_of_the_customer_is_not_the_agents_offence(engine):
    quoted = "客户: 你们这么便宜的东西还指望用十年?\n客服: 您说“这么便宜的东西您还指望用十年”,我理解您的心情。"
    assert meaning_findings(engine, quoted, "FBD001") == []


def test_words_a_near_miss_guard_cleared_are_not_flagged_by_meaning(engine):
    # "不知道" is guarded when a polite question follows; meaning must not bring it back.
    text = "客户: 怎么办\n客服: 我不知道您是否方便留个电话,我核实后回复您。"
    assert meaning_findings(engine, text) == []


def test_an_excusing_act_in_the_same_turn_withdraws_the_finding(engine, tmp_path):
    shirk = "客户: 网怎么又断了\n客服: 系统的事我们也没辙,您等等看吧。明天中午前我给您回电话说明进展"
    assert meaning_findings(engine, shirk, "FBD006")
    path = tmp_path / "company.yaml"
    path.write_text("semantic:\n  excused_by: {S-F6: [time_frame]}\n", encoding="utf-8")
    excused = Engine(load_rulebook([path]))
    assert meaning_findings(excused, shirk, "FBD006") == []


def test_reports_carry_evidence_confidence_and_review(engine, tmp_path):
    checker = Checker(engine)
    results = [checker.check(parse_example(SARCASM))]
    summary = BatchSummary(read=1, checked=1)
    with (tmp_path / "r.json").open("w", encoding="utf-8") as out:
        render_json(results, summary, engine.rulebook, out)
    record = next(f for f in json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["conversations"][0]["findings"]
                  if f["rule"] == "FBD001")
    assert record["evidence"] == "meaning" and record["needs_review"] is True and 0 < record["confidence"] < 0.8
    with (tmp_path / "r.html").open("w", encoding="utf-8") as out:
        render_html(results, summary, engine.rulebook, out)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "待复核" in html and "语义" in html


def test_every_bank_separates_its_held_out_exemplars(engine):
    """A floor under the banks: each act's positives rank above its near misses when held out."""
    import numpy as np

    model = engine.meaning
    for act in model.acts:
        margins, labels = model.held_out_margins(act)
        if labels.sum() < 20:
            continue  # the standard's own few sentences (greeting, offer of help)
        positive, negative = margins[labels == 1], margins[labels == 0]
        auc = (positive[:, None] > negative[None, :]).mean()
        assert auc >= 0.85, f"{act}: AUC {auc:.2f}"


def test_banks_are_in_the_default_rulebook_and_a_company_adds_to_them(tmp_path):
    banks = default_rulebook().semantic.banks
    assert len(banks["S-F6"].positive) >= 100 and banks["S-F6"].kind == "must_not"
    path = tmp_path / "company.yaml"
    path.write_text("add_exemplars:\n  S-F6:\n    negative:\n      - 这个归物业管,我帮您联系物业\n", encoding="utf-8")
    extended = load_rulebook([path]).semantic.banks["S-F6"]
    assert extended.negative[-1] == "这个归物业管,我帮您联系物业"
    assert len(extended.negative) == len(banks["S-F6"].negative) + 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_judge_that_is_down_is_said_once_and_the_check_goes_on(tmp_path):
    judge = ModelJudge(f"http://127.0.0.1:{_closed_port()}/v1", timeout=2)
    path = tmp_path / "company.yaml"
    path.write_text("judge: {acts: [S-F6], band: [0.0, 1.0]}\n", encoding="utf-8")  # every S-F6 candidate is asked
    engine = Engine(load_rulebook([path]), judge=judge)
    text = "客户: 发票怎么开\n客服: 这块归财务管,您问问财务吧"
    findings = engine.check(parse_example(text))
    assert judge.failure is not None and "不可用" in judge.failure
    assert any(f.rule == "OPN001" for f in findings)  # everything else was checked
    assert judge.judge("推卸", "推卸语", "", "你自己去问吧") is None  # not asked again


@pytest.mark.skipif(not os.environ.get("GUIFAN_JUDGE_URL"), reason="no model endpoint (set GUIFAN_JUDGE_URL)")
def test_a_real_model_endpoint_answers_yes_or_no():
    """Optional: against a model the company runs (e.g. python -m llama_cpp.server with Qwen2.5)."""
    judge = ModelJudge(os.environ["GUIFAN_JUDGE_URL"], os.environ.get("GUIFAN_JUDGE_MODEL", "default"), timeout=120)
    verdict = judge.judge("推卸语", "推卸责任,让客户自己去找别人", "我的快递丢了", "这不归我们管,你自己去找快递公司吧")
    assert judge.failure is None and verdict is not None and verdict.performs  # the glue, not the model's accuracy


class CountingEncoder:
    """The engine's encoder, counting the sentences it is asked to encode."""

    def __init__(self, encoder):
        self.name, self._encoder, self.sentences = encoder.name, encoder, 0

    def encode(self, texts):
        self.sentences += len(texts)
        return self._encoder.encode(texts)


def test_what_one_model_works_out_another_takes_instead_of_encoding_again(engine):
    """``--jobs`` workers share what their meaning stages work out (guifan.pipeline): a model that
    learns it judges those texts as the first did, and encodes nothing."""
    first = MeaningModel(engine.rulebook)
    assert first.learned() is None
    first.record()
    texts = ["这么便宜的东西您还指望用十年啊", "您好,很高兴为您服务,请问有什么可以帮您", "请您稍等,我帮您查询一下"]
    acts = sorted(first.judgeable)
    judged = [first.judge(text, acts) for text in texts]
    offences = first.offences(texts)
    learned = first.learned()
    assert learned is not None and set(learned.judgements) == set(learned.offences) == set(texts)
    assert first.learned() is None  # each thing once

    counting = CountingEncoder(first.encoder)
    second = MeaningModel(engine.rulebook, counting)
    second.record()
    second.learn(pickle.loads(pickle.dumps(learned)))  # as it travels between processes
    assert [second.judge(text, acts) for text in texts] == judged
    assert second.offences(texts) == offences and counting.sentences == 0
    assert second.learned() is None  # what it was taught is not passed on again
    # A text it was not taught it works out, and passes on.
    assert second.judge("我们也没办法,您自己看着办吧", acts) and counting.sentences > 0
    assert set(second.learned().judgements) == {"我们也没办法,您自己看着办吧"}


def test_the_sentence_encoder_loads_from_this_users_cache_and_encodes_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIFAN_CACHE", str(tmp_path))
    sentences = ["您好,很高兴为您服务", "这么便宜的东西您还指望用十年啊", "请您稍等"]
    fresh = meaning._load_use()  # from the package; leaves the pickle of its loaded parts
    (kept,) = tmp_path.glob("use-*.pickle")
    assert kept.stat().st_mode & 0o777 == 0o600
    cached = meaning._load_use()
    assert cached._sp is not fresh._sp  # its own, unpickled
    assert (cached._backend._threadpool is None) == (fresh._backend._threadpool is None)  # BLAS limited alike
    assert (cached.encode(sentences) == fresh.encode(sentences)).all()
    # A pickle others may write is never read: it is loaded from the package again (and rewritten).
    kept.write_bytes(b"not a pickle")
    kept.chmod(0o666)
    assert not private(kept)
    assert (meaning._load_use().encode(sentences) == fresh.encode(sentences)).all()
    kept.write_bytes(b"not a pickle either")
    kept.chmod(0o600)  # a broken one of this user's: loaded from the package too
    assert (meaning._load_use().encode(sentences) == fresh.encode(sentences)).all()


def test_bank_vectors_are_kept_under_what_is_encoded_and_found_again_without_preparing_it(engine, tmp_path, monkeypatch):
    """A bank's vectors are named for its sentences' encoded forms; the next start finds them from
    the sentences as written, remembered per package version, without preparing the forms again."""
    monkeypatch.setenv("GUIFAN_CACHE", str(tmp_path))
    sentences = ["您好,很高兴为您服务", "订单号 A12345678 已经发货了", "请您稍等"]
    counting = CountingEncoder(engine.meaning.encoder)
    first = meaning.VectorStore(counting, sentences)
    assert counting.sentences == 3 and first.vectors.shape[0] == 3
    [memo] = tmp_path.glob("bank-*.digest")
    monkeypatch.setattr(meaning, "form", lambda text: pytest.fail("prepared again"))
    second = meaning.VectorStore(counting, sentences)
    assert counting.sentences == 3 and (second.vectors == first.vectors).all()
    monkeypatch.undo()
    monkeypatch.setenv("GUIFAN_CACHE", str(tmp_path))
    memo.write_text("not a digest", encoding="ascii")  # damaged: worked out again, the same vectors
    meaning.VectorStore._loaded.clear()
    third = meaning.VectorStore(counting, sentences)
    assert counting.sentences == 3 and (third.vectors == first.vectors).all()
    # Sentences written differently that encode alike (width, 你/您) share the vectors.
    meaning.VectorStore._loaded.clear()
    assert (meaning.VectorStore(counting, ["你好,很高兴为你服务", *sentences[1:]]).vectors == first.vectors).all()
    assert counting.sentences == 3
