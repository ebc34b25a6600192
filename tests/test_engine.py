"""Engine behaviour: selection, overrides, robustness of matching, coverage of the standard, layering."""

import ast
import re
from pathlib import Path

import pytest

from guifan.docs import NOT_CHECKABLE, clause_index
from guifan.engine import Engine, all_rules
from guifan.readers import read_paths
from guifan.readers.textlog import parse_example
from guifan.rulebook import default_rulebook, load_rulebook

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ENGINE = Engine()


def codes(text, engine=ENGINE):
    return [f.rule for f in engine.check(parse_example(text))]


@pytest.mark.parametrize(
    "text",
    [
        "客户: 怎么办\n客服: 这是其它部门的问题,不关我的事。",
        "客户: 怎么办\n客服: 這是其它部門的問題，不關我的事！",  # traditional, full-width punctuation
        "客户: 怎么办\n客服: 这是其它部门的问题 ~ 不关我的事啊😊",  # spaces, filler, emoji
        "客户: 怎么办\n客服: 您自己去问问吧",  # 您 for 你
    ],
)
def test_forbidden_phrase_survives_surface_variation(text):
    assert "FBD006" in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        "客户: 你自己去问问吧!我不知道!\n客服: 好的,我帮您核实一下,请您稍等。",  # the customer's words
        "客户: 怎么办\n客服: 我不知道您是否方便留个电话,我核实后回复您。",  # near-miss
        "客户: 你先听我说\n客服: 好的,请您先听我说明一下退款规则。",  # near-miss
        "客户: 上个客服说我不知道\n客服: 非常抱歉,同事说“我不知道”给您带来了不便,我来为您处理。",  # quote
    ],
)
def test_no_forbidden_finding_on_innocent_agent_turns(text):
    assert not [c for c in codes(text) if c.startswith("FBD00")]


def test_select_and_ignore_by_code_prefix_name_and_clause():
    all_codes = set(all_rules())
    assert {r.code for r in Engine(select=["FBD"]).rules} == {c for c in all_codes if c.startswith("FBD")}
    assert {r.code for r in Engine(select=["S-F6"]).rules} == {"FBD006", "FBD013"}
    assert {r.code for r in Engine(select=["sarcasm"]).rules} == {"FBD001"}
    f_rules = {r.code for r in Engine(select=["S-F"]).rules}
    assert {"FBD001", "FBD010", "FBD012", "FBD020"} <= f_rules  # FBD020: S-F7 when the customer did not provoke it
    assert "FBD020" in {r.code for r in Engine(select=["S-C8"]).rules}  # and S-C8 (answering in kind) when they did
    assert "FBD010" not in {r.code for r in Engine(ignore=["FBD010"]).rules}
    with pytest.raises(KeyError):
        Engine(select=["NOPE999"])


def test_rulebook_override_disables_and_reweights(tmp_path):
    override = tmp_path / "c.yaml"
    override.write_text("rules:\n  FBD006: {enabled: false}\n  FBD002: {severity: fatal}\n", encoding="utf-8")
    engine = Engine(load_rulebook([override]), select=["FBD"])
    text = "客户: 喂\n客服: 你先听我说。我不知道。"
    found = {f.rule: f for f in engine.check(parse_example(text))}
    assert "FBD006" not in found
    assert found["FBD002"].severity.value == "fatal"


def test_findings_point_into_the_original_text():
    conversation = parse_example("客户: 怎么回事\n客服: 哎, 這是其它部門的問題，不關我的事！")
    finding = next(f for f in ENGINE.check(conversation) if f.rule == "FBD006")
    turn = conversation.turns[finding.turn]
    assert turn.text[finding.span[0]:finding.span[1]] == finding.quote
    assert finding.quote.startswith("這是其它部門")


def _example_conversations():
    for cls in all_rules().values():
        for example in cls.bad + cls.good:
            yield parse_example(example)
    yield from (c for c in read_paths([ROOT / "examples"]) if not hasattr(c, "message"))
    corpus = SHARED / "corpus" / "jddc-sample.jsonl"
    if corpus.exists():
        yield from read_paths([corpus])


def test_skipping_untriggered_rules_changes_no_result():
    gated, full = Engine(), Engine()
    full.skip_untriggered = False
    compared = 0
    for conversation in _example_conversations():
        assert gated.check(conversation) == full.check(conversation), conversation.id
        compared += 1
    assert compared > 300


def test_every_clause_of_sections_a_to_g_is_enforced():
    index = clause_index(all_rules())
    rulebook = default_rulebook()
    sections_a_to_g = [c for c in rulebook.clauses if re.match(r"S-[A-G]\d+$", c)]
    assert len(sections_a_to_g) == 56  # A14 B5 C13 D8 E4 F11 G1
    missing = [c for c in sections_a_to_g if c not in index]
    assert not missing, f"clauses without a rule: {missing}"
    for clause in rulebook.clauses:
        assert clause in index or clause in NOT_CHECKABLE, clause


def test_rulebook_names_every_clause_of_the_standard():
    standard = SHARED / "STANDARD.md"
    if not standard.exists():
        pytest.skip("../shared/STANDARD.md not available")
    ids = set(re.findall(r"\bS-[A-J]\d+\b", standard.read_text(encoding="utf-8")))
    assert ids <= set(default_rulebook().clauses), ids - set(default_rulebook().clauses)


# Each layer may import only the layers before it: readers/audio -> model -> engine -> scoring -> resume ->
# pipeline -> reporters/cli;
# live assist is a client of the engine, served by the web app like its other features; training is a
# client of live assist (and prints its report card with the reporters' pieces), and only the CLI and
# the web workspace (practice in the browser) import it.
LAYERS = {
    "model": set(),
    "errors": set(),
    "text": {"_text_tables"},  # its own character tables, generated (scripts/make_text_tables.py)
    "cache": set(),  # what is derived from the package's data, kept between runs
    "rulebook": {"errors", "model", "cache"},
    "readers": {"errors", "model", "audio"},  # audio: the reader of call recordings
    "audio": {"errors", "model", "audio"},
    "holidays": {"rulebook", "model", "errors"},
    "engine": {"model", "errors", "text", "cache", "rulebook", "rules", "holidays"},  # rules: only to register them
    "rules": {"model", "errors", "text", "rulebook", "engine", "holidays", "rules"},
    "scoring": {"model", "errors", "rulebook", "engine"},
    "docs": {"model", "errors", "rulebook", "engine", "readers"},
    "evaluation": {"model", "errors", "engine"},
    "kpis": {"model"},
    "privacy": {"model", "scoring"},  # masks text, and whole results for reports
    # audio: live call audio streamed into a session (guifan.assist.audio)
    "assist": {"model", "errors", "text", "engine", "rulebook", "scoring", "audio", "assist"},
    "web": {"model", "errors", "engine", "rulebook", "readers", "audio", "scoring", "kpis", "privacy", "reporters",
            "assist", "training", "web"},
    "fastjson": set(),
    "resume": {"errors", "fastjson", "model", "readers", "scoring"},
    # the check pipeline (guifan check --jobs): the reporters' encoder is handed in, not imported
    "pipeline": {"errors", "model", "readers", "audio", "engine", "rulebook", "scoring", "resume", "privacy"},
    "reporters": {"model", "errors", "text", "rulebook", "engine", "scoring", "fastjson", "reporters"},
    # guifan check --ray (the pipeline's chunks checked on a cluster's nodes) and --db (into the workspace)
    "cluster": {"errors", "engine", "pipeline", "readers", "rulebook", "scoring"},
    "dbstore": {"errors", "pipeline", "reporters", "rulebook", "scoring", "web"},
    "training": {"model", "errors", "engine", "rulebook", "scoring", "assist", "reporters", "audio", "training"},
}


def _guifan_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("guifan."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "guifan":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("guifan."))
    return found


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_go_one_way(layer):
    package = ROOT / "src" / "guifan"
    files = [package / f"{layer}.py"] if (package / f"{layer}.py").exists() else list((package / layer).rglob("*.py"))
    assert files
    for path in files:
        illegal = _guifan_imports(path) - LAYERS[layer] - {layer}
        assert not illegal, f"{path.relative_to(ROOT)} imports {illegal}"
