"""The QA form: category scores, deductions by severity, fatal findings, rulebook overrides."""

from guifan.engine import Engine
from guifan.model import Finding, Severity
from guifan.readers.textlog import parse_example
from guifan.rulebook import default_rulebook, load_rulebook
from guifan.scoring import Checker, Scorer


def finding(rule, severity=Severity.MAJOR):
    return Finding(rule, ("S-X1",), severity, 0, None, "", "m", "s")


def category(score, key):
    return next(c for c in score.categories if c.key == key)


def test_clean_conversation_scores_100_with_every_category_full():
    score = Scorer(default_rulebook()).score([])
    assert score.total == 100 and not score.fatal
    assert all(c.score == c.weight for c in score.categories)


def test_deductions_by_severity_land_in_the_rule_category_and_stop_at_zero():
    scorer = Scorer(default_rulebook())
    score = scorer.score([finding("FBD006"), finding("FBD010", Severity.MINOR)])
    assert category(score, "forbidden").score == 15 - 5
    assert category(score, "courtesy").score == 10 - 2
    assert score.total == 100 - 7
    many = scorer.score([finding("FBD006")] * 10)
    assert category(many, "forbidden").score == 0
    assert many.total == 85


def test_a_fatal_finding_zeroes_the_whole_score():
    checker = Checker(Engine())
    result = checker.check(parse_example("客户: 你们就是骗子\n客服: 你有病吧。"))
    assert "FBD020" in {f.rule for f in result.findings}
    assert result.score.fatal and result.score.total == 0


def test_rulebook_overrides_category_deduction_and_weights(tmp_path):
    override = tmp_path / "c.yaml"
    override.write_text(
        "scorecard:\n  deductions: {major: 8, minor: 1}\n"
        "rules:\n  FBD006: {category: refusal, deduction: 3}\n",
        encoding="utf-8",
    )
    scorer = Scorer(load_rulebook([override]))
    score = scorer.score([finding("FBD006"), finding("FBD002"), finding("FBD010", Severity.MINOR)])
    assert category(score, "refusal").score == 10 - 3
    assert category(score, "forbidden").score == 15 - 8
    assert category(score, "courtesy").score == 10 - 1
    assert category(score, "forbidden").findings == 1
