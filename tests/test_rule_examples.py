"""Every rule's documented bad examples produce its finding; its good examples do not."""

import pytest

from guifan.engine import Engine, all_rules
from guifan.readers.textlog import parse_example

RULES = all_rules()
ENGINE = Engine()
CASES = [
    pytest.param(code, kind, n, example, id=f"{code}-{kind}{n}")
    for code, cls in RULES.items()
    for kind, examples in (("bad", cls.bad), ("good", cls.good))
    for n, example in enumerate(examples, 1)
]


@pytest.mark.parametrize(("code", "kind", "n", "example"), CASES)
def test_rule_example(code, kind, n, example):
    conversation = parse_example(example)
    fired = [f for f in ENGINE.check(conversation) if f.rule == code]
    if kind == "bad":
        assert fired, f"{code} should fire on its bad example {n}"
        for finding in fired:
            assert finding.message
            assert finding.clauses and all(c in ENGINE.rulebook.clauses for c in finding.clauses)
            if finding.turn is not None:
                turn = conversation.turns[finding.turn]
                assert turn.role.value == "agent"
                if finding.span:
                    assert turn.text[finding.span[0]:finding.span[1]] == finding.quote
    else:
        assert not fired, f"{code} fired on its good example {n}: {fired}"
