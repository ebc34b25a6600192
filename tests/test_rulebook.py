"""The rulebook: seed phrases carried verbatim, company overrides, and clear validation errors."""

import json
import re
from pathlib import Path

import pytest

from guifan.engine import Engine
from guifan.errors import RulebookError
from guifan.readers.textlog import parse_example
from guifan.rulebook import _default_data, default_rulebook, load_rulebook
from guifan.text import basic

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
FORBIDDEN_SECTION = re.compile(r"◆服务忌语(.*?)客服标准礼仪规范范文第6篇", re.S)
CATEGORY_OF = {"讽刺语": "S-F1", "命令语": "S-F2", "责备语": "S-F3", "埋怨语": "S-F4", "教训语": "S-F5",
               "推卸语": "S-F6", "烦燥语": "S-F7", "随意附和语": "S-F8"}


def _seed_004_items():
    path = next(SEEDS.glob("004_*.txt"), None)
    if path is None:
        pytest.skip("../shared/seeds not available")
    section = FORBIDDEN_SECTION.search(path.read_text(encoding="utf-8")).group(1)
    category = None
    items = []
    for token in re.split(r"(讽刺语|命令语|责备语|埋怨语|教训语|推卸语|烦燥语|随意附和语)[::]", section):
        if token in CATEGORY_OF:
            category = CATEGORY_OF[token]
            continue
        for item in re.findall(r"\d+、([^\n]+?)(?=\s*\d+、|\s*$)", token.strip(), re.S):
            items.append((category, item.strip()))
    return items


def test_every_seed_004_forbidden_phrase_is_in_its_category_verbatim():
    items = _seed_004_items()
    assert len(items) == 48  # 2+6+6+8+4+12+8+2 numbered items in the seed
    rulebook = default_rulebook()
    for clause, phrase in items:
        texts = {basic(p.text) for p in rulebook.forbidden[clause].phrases}
        assert basic(phrase) in texts, f"{clause} lacks seed phrase {phrase!r}"


@pytest.mark.parametrize(
    ("clause", "phrase"),
    [
        ("S-F3", "你是不是搞错了?"), ("S-F6", "这是我们公司的规定!"), ("S-F6", "我帮你把电话转给负责这件事的人"),
        ("S-F6", "我不能/我不知道/我不清楚"), ("S-F1", "不是只有你一个人这样子而已"),
        ("S-F9", "喂,说话呀!"), ("S-F9", "喂,说吧!"), ("S-F9", "喂,大声一点儿!"), ("S-F9", "喂,说话呀!再不说话我就挂了啊!"),
    ],
)
def test_seed_001_and_002_phrases_are_carried(clause, phrase):
    assert phrase in {p.text for p in default_rulebook().forbidden[clause].phrases}


def test_default_scorecard_weights_sum_to_100():
    assert sum(c.weight for c in default_rulebook().scorecard.categories.values()) == 100


def test_bundled_rulebook_is_read_once_then_from_the_cache(tmp_path, monkeypatch):
    """The bundled YAML is parsed into GUIFAN_CACHE as JSON; later runs read that, the same data; a
    damaged cache file is parsed again and replaced."""
    monkeypatch.setenv("GUIFAN_CACHE", str(tmp_path))
    parsed = _default_data.__wrapped__()
    [cached] = tmp_path.glob("rulebook-*.json")
    assert _default_data.__wrapped__() == parsed == _default_data()
    assert parsed["semantic"]["banks"] and parsed["phrases"]
    cached.write_text('{"read": "from the cache"}', encoding="utf-8")
    assert _default_data.__wrapped__() == {"read": "from the cache"}
    cached.write_text("{not json", encoding="utf-8")
    assert _default_data.__wrapped__() == parsed
    assert json.loads(cached.read_text(encoding="utf-8")) == parsed


def test_a_validated_rulebook_and_its_phrase_tables_are_kept_for_the_next_start(tmp_path, monkeypatch):
    """What a start-up builds from the rulebook files (the merged, validated rulebook; the phrase
    automata's tables) is kept in GUIFAN_CACHE under the files' fingerprint and read back the same;
    a damaged file or one others may write is built again; an invalid override is never kept."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GUIFAN_CACHE", str(cache))
    company = tmp_path / "company.yaml"
    company.write_text("company:\n  name: 欧飞\nsemantic:\n  backend: off\n", encoding="utf-8")
    built = load_rulebook([company])
    [kept] = cache.glob("rulebook-*.pickle")
    assert kept.stat().st_mode & 0o777 == 0o600 and built.fingerprint and built.fingerprint in kept.name
    engine = Engine(built)
    [tables] = cache.glob(f"phrases-{built.fingerprint}-*.pickle")

    again = load_rulebook([company])
    assert again == built and again.company.name == "欧飞" and again.origin == "default + company.yaml"
    renamed = tmp_path / "ofei.yaml"
    renamed.write_text(company.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rulebook([renamed]).origin == "default + ofei.yaml"  # same content: same file, its own name
    rebuilt = Engine(again)
    assert rebuilt.matcher._keys == engine.matcher._keys and rebuilt.matcher._phrases == engine.matcher._phrases
    said = parse_example("客户: 在吗\n客服: 您好,很高兴为您服务,请问有什么可以帮您\n客户: 没事了\n客服: 感谢您的耐心等待,再见")
    assert rebuilt.check(said) == engine.check(said)

    company.write_text("company:\n  name: 欧飞二\nsemantic:\n  backend: off\n", encoding="utf-8")  # edited: a new fingerprint
    assert load_rulebook([company]).company.name == "欧飞二" and len(list(cache.glob("rulebook-*.pickle"))) == 2
    for damaged in (kept, tables):
        damaged.write_bytes(b"not a pickle")
    again = load_rulebook([renamed])
    assert again.fingerprint == built.fingerprint and again.model_dump(exclude={"origin"}) == built.model_dump(exclude={"origin"})
    assert Engine(built).matcher._phrases == engine.matcher._phrases
    assert kept.read_bytes() != b"not a pickle" and tables.read_bytes() != b"not a pickle"  # written again
    kept.chmod(0o666)  # others may write it: never read, built again
    monkeypatch.setattr("guifan.rulebook.Rulebook.model_validate", lambda data: pytest.fail("not read"), raising=True)
    with pytest.raises(BaseException, match="not read"):
        load_rulebook([renamed])
    monkeypatch.undo()

    monkeypatch.setenv("GUIFAN_CACHE", str(cache))
    company.write_text("company:\n  nmae: 欧飞\n", encoding="utf-8")
    for _ in range(2):  # reported every time, never kept
        with pytest.raises(RulebookError, match="nmae"):
            load_rulebook([company])
    assert len(list(cache.glob("rulebook-*.pickle"))) == 2


def test_company_override_merges_and_fills_placeholders(tmp_path):
    company = tmp_path / "company.yaml"
    company.write_text(
        "company:\n  name: 欧飞\n  promised_response: 48小时\n"
        "add_forbidden:\n  S-F6: [这事别找我]\n"
        "remove_phrases:\n  greeting: [在的]\n"
        "rules:\n  FBD010: {enabled: false}\n  FBD006: {severity: minor}\n",
        encoding="utf-8",
    )
    rulebook = load_rulebook([company])
    assert rulebook.origin == "default + company.yaml"
    assert rulebook.wording("S-A1")[0].startswith("您好,欧飞,")
    assert "48小时" in rulebook.wording("S-D3")[0]
    assert "在的" not in {p.text for p in rulebook.phrases["greeting"]}
    # Defaults not mentioned in the override survive.
    assert rulebook.company.escalation_chain == default_rulebook().company.escalation_chain
    engine = Engine(rulebook, select=["S-F"])
    conversation = parse_example("客户: 这个问题谁管?\n客服: 你好,这事别找我。")
    findings = engine.check(conversation)
    assert [f.rule for f in findings] == ["FBD006"]
    assert findings[0].severity.value == "minor"
    assert findings[0].quote == "这事别找我"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("company: [unclosed\n", "company.yaml:2: YAML 格式错误"),
        ("compnay:\n  name: x\n", "company.yaml:1 compnay: 未知的键;是否要写 company?"),
        ("company:\n  name: x\n  nmae: y\n", "company.yaml:3 company.nmae: 未知的键;是否要写 name?"),
        ("rules:\n  FBD006: {enabled: false}\n  FBD999: {enabled: false}\n", "company.yaml:3 rules.FBD999: 没有这条规则"),
        ("rules:\n  shirking-responsibility: {severity: minor}\n", "rules.shirking-responsibility: 没有这条规则;是否要写 FBD006?"),
        ("rules:\n  FBD006: {enabeld: false}\n", "company.yaml:2 rules.FBD006.enabeld: 未知的键;是否要写 enabled?"),
        ("scorecard:\n  categories:\n    opening: {name: 开场, weight: 50}\n", "权重之和应为 100"),
        ("company:\n  agent_id_pattern: '(['\n", "company.agent_id_pattern"),
        # Catastrophic backtracking (a server would hang on a reply of a's), and a pattern too long to vet.
        ("company:\n  agent_id_pattern: '(a|aa)+$'\n", "正则表达式在 'aaaaaaaaaaaa'… 上超时"),
        ("company:\n  agent_id_pattern: '(工|工工)+$'\n", "上超时"),
        ("company:\n  agent_id_pattern: '" + "\\d" * 101 + "'\n", "正则表达式过长 (202 个字符,最多 200)"),
        ("company:\n  service_hours: [9点到5点]\n", "HH:MM-HH:MM"),
        ("rules:\n  FBD001: {category: nowhere}\n", "没有类别 'nowhere'"),
        ("add_forbidden:\n  S-F42: [x]\n", "add_forbidden.S-F42"),
        ("- just\n- a list\n", "顶层应为映射"),
    ],
)
def test_invalid_override_gives_a_clear_error(tmp_path, content, expected):
    company = tmp_path / "company.yaml"
    company.write_text(content, encoding="utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook([company])
    assert expected in str(info.value)
    assert "company.yaml" in str(info.value)


def test_missing_override_file(tmp_path):
    with pytest.raises(RulebookError, match="文件不存在"):
        load_rulebook([tmp_path / "nope.yaml"])


def test_every_phrase_category_is_used_by_a_rule():
    package = Path(__file__).resolve().parents[1] / "src" / "guifan"
    sources = "".join(p.read_text(encoding="utf-8") for d in ("rules", "engine") for p in (package / d).glob("*.py"))
    unused = [c for c in default_rulebook().phrases if f'"{c}"' not in sources]
    assert not unused, f"phrase categories no rule reads: {unused}"


@pytest.mark.parametrize("written", ["off", '"off"', "false"])
def test_the_meaning_stage_is_turned_off_as_the_readme_writes_it(tmp_path, written):
    """YAML reads an unquoted ``off`` as false: both spellings turn the stage off."""
    override = tmp_path / "company.yaml"
    override.write_text(f"semantic:\n  backend: {written}\n", encoding="utf-8")
    assert load_rulebook([override]).semantic.backend == "off"
