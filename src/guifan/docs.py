"""The rule reference, generated from the rules' own declarations (docs/rules.md, `guifan rule`)."""

from __future__ import annotations

from guifan.engine import Engine, Rule, all_rules
from guifan.engine.hints import KIND_NAMES
from guifan.readers.textlog import parse_example
from guifan.model import SEVERITY_LABELS
from guifan.rulebook import Rulebook

# Clauses of the standard that no rule checks from a transcript, and why.
NOT_CHECKABLE: dict[str, str] = {
    "S-J1": "工单的创建与超时属于工单系统;规则只读取对话元数据中的工单状态(metadata.ticket,见 CMP005)。",
    "S-J2": "KPI(平均处理时长、保持时长、静音占比、首解率、满意度)是对多通对话的统计,由报表与看板计算,不是单通对话的违规。",
    "S-J3": "质检流程(评分表、校准、申诉)是产品的工作流,不是坐席话术;评分表见规则手册 scorecard。",
    "S-J4": "客户信息保密是系统与流程要求(访问控制、号码脱敏),无法从单通对话文本判断坐席是否泄露。",
}


def clause_index(rules: dict[str, type[Rule]]) -> dict[str, list[type[Rule]]]:
    index: dict[str, list[type[Rule]]] = {}
    for cls in rules.values():
        for clause in cls.clauses:
            index.setdefault(clause, []).append(cls)
    return index


def _clause_key(clause: str) -> tuple[str, int]:
    """'S-A10' sorts after 'S-A9'."""
    body = clause.removeprefix("S-")
    section, number = body[:1], body[1:]
    return (section, int(number) if number.isdigit() else 0)


def rule_title(cls: type[Rule], rulebook: Rulebook) -> str:
    """A rule's title as people read it (``Rulebook.title_of`` its clauses)."""
    return rulebook.title_of(cls.clauses)


def find_clauses(key: str, rulebook: Rulebook) -> list[str]:
    """The clauses ``key`` names: one clause (``S-F6``) or a section (``S-F``), in order; [] if none."""
    key = key.strip().upper()
    known = set(rulebook.clauses) | set(clause_index(all_rules())) | set(NOT_CHECKABLE)
    if key in known:
        return [key]
    section = [c for c in known if len(key) == 3 and key.startswith("S-") and c[:3] == key and c[3:].isdigit()]
    return sorted(section, key=_clause_key)


def clause_markdown(clauses: list[str], rulebook: Rulebook) -> str:
    """Clauses with their standard wording and the rules that check each (``guifan rule S-F6``)."""
    index = clause_index(all_rules())
    lines: list[str] = []
    for clause in clauses:
        lines += [f"# {clause} {rulebook.clause_title(clause)}", ""]
        wording = rulebook.wording(clause)
        if wording:
            lines += ["**标准用语 Use instead.**", ""] + [f"- {w}" for w in wording] + [""]
        if clause in NOT_CHECKABLE:
            lines += [f"**不可从文本检查 Not checkable.** {NOT_CHECKABLE[clause]}", ""]
        rules = index.get(clause, [])
        if rules:
            lines += [f"**检查本条款的规则 Rules ({len(rules)})** · 详情: guifan rule 代码", "",
                      "| 代码 | 标题 | 程度 | 检查什么 |", "|---|---|---|---|"]
            lines += [f"| {cls.code} | {rule_title(cls, rulebook)} | {SEVERITY_LABELS[cls.severity]} | "
                      f"{cls.what.replace('|', '｜')} |" for cls in rules]
            lines.append("")
        elif clause not in NOT_CHECKABLE:
            lines += ["没有规则检查本条款。", ""]
    return "\n".join(lines)


def rule_markdown(cls: type[Rule], rulebook: Rulebook, engine: Engine | None = None, level: int = 3) -> str:
    """One rule's documentation: what, why, clauses, examples (with the finding each bad one gives)."""
    engine = engine or Engine(rulebook, select=[cls.code])
    h = "#" * level
    clauses = "、".join(f"{c} {rulebook.clause_title(c)}" for c in cls.clauses)
    lines = [
        f"{h} {cls.code} `{cls.name}`",
        "",
        f"- 条款 Clauses: {clauses}",
        f"- 严重程度 Severity: {cls.severity.value} · 评分类别 Category: {rulebook.scorecard.categories[cls.category].name}",
        f"- 渠道 Channels: {', '.join(sorted(c.value for c in cls.channels))}"
        + (" · 需要时间戳 needs turn times" if cls.needs_timing else ""),
        *_acts_line(cls, rulebook),
        "",
        f"**检查什么 What it checks.** {cls.what}",
        "",
        f"**为什么 Why.** {cls.why}",
        "",
    ]
    wording = [w for c in cls.clauses for w in rulebook.wording(c)]
    if wording:
        lines += ["**标准用语 Use instead.**", ""] + [f"- {w}" for w in wording] + [""]
    lines += _hint_lines(cls)
    for label, examples in (("反例 Bad", cls.bad), ("正例 Good", cls.good)):
        for n, example in enumerate(examples, 1):
            lines += [f"**{label} {n}**", "", "```text", example.strip(), "```", ""]
            if label.startswith("反例"):
                findings = [f for f in engine.check(parse_example(example)) if f.rule == cls.code]
                for f in findings:
                    where = f"第 {f.turn + 1} 轮" if f.turn is not None else "整通对话"
                    lines.append(f"→ {where}: {f.message}")
                lines.append("")
    return "\n".join(lines)


def _hint_lines(cls: type[Rule]) -> list[str]:
    """The live hints the rule gives (docs/assist.md): kind, clause, what it says, when, what clears it."""
    if not cls.hints:
        return []
    lines = ["**实时提示 Live hints** (docs/assist.md)", ""]
    for hint in cls.hints:
        steps = " → ".join(step.message.replace("{message}", "(问题说明)") for step in hint.steps)
        lines.append(f"- {KIND_NAMES[hint.kind]} `{hint.kind.value}` · {hint.clause}: {steps}。"
                     f"何时:{hint.when};{hint.clears}。")
    return lines + [""]


def _acts_line(cls: type[Rule], rulebook: Rulebook) -> list[str]:
    """The meaning stage's acts a rule reads: those whose presence makes a finding, and the
    must-say acts whose absence does."""
    banks = rulebook.semantic.banks

    def named(acts: tuple[str, ...]) -> str:
        return "、".join(f"{banks[a].act or a} (`{a}`)" if a in banks else f"`{a}`" for a in acts)

    found = []
    if cls.acts:
        found.append(f"- 语义判定 Acts found by meaning: {named(cls.acts)}")
    expects = getattr(cls, "expects", ())
    if expects:
        found.append(f"- 须说到的行为 Acts expected (any wording): {named(expects)}")
    return found


def reference_markdown(rulebook: Rulebook) -> str:
    """The whole rule reference: clause → rules table, then every rule, then what is not checkable."""
    rules = all_rules()
    index = clause_index(rules)
    engine = Engine(rulebook)
    out = [
        "# 规则参考 Rule reference",
        "",
        "Generated by `guifan docs` from the rules' declarations and the default rulebook; do not edit by hand.",
        "每条规则的反例与正例同时是测试用例 (tests/test_rule_examples.py)。",
        "",
        "## 条款 → 规则 Clause → rule",
        "",
        "| 条款 Clause | 标题 Title | 规则 Rules |",
        "|---|---|---|",
    ]
    for clause in sorted(set(rulebook.clauses) | set(index) | set(NOT_CHECKABLE), key=_clause_key):
        if clause in index:
            cell = ", ".join(f"[{c.code}](#{c.code.lower()}-{c.name})" for c in index[clause])
        else:
            cell = "不可从文本检查 not checkable (见下文)" if clause in NOT_CHECKABLE else "—"
        out.append(f"| {clause} | {rulebook.clause_title(clause)} | {cell} |")
    out += ["", "## 规则 Rules", ""]
    for cls in rules.values():
        out += [rule_markdown(cls, rulebook, engine), ""]
    out += ["## 不可从文本检查的条款 Clauses not checkable from a transcript", ""]
    out += [f"- **{clause}** {rulebook.clause_title(clause)}: {reason}" for clause, reason in NOT_CHECKABLE.items()]
    return "\n".join(out) + "\n"
