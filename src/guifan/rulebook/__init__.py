"""The rulebook: the standard's wording as data (YAML), validated, with company overrides merged in.

``load_rulebook()`` returns the bundled default; ``load_rulebook(["company.yaml"])`` merges a
company file over it. Mappings merge key by key, lists replace, and ``add_phrases`` /
``add_forbidden`` / ``remove_phrases`` edit a phrase category without restating it.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Union, get_args, get_origin

import pydantic
import regex
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from guifan.cache import cache_dir, load_pickle, package_stamp, prune, save_bytes, save_pickle
from guifan.errors import GuifanError, RulebookError, pydantic_text
from guifan.model import Channel, Severity

_TIME_RANGE = re.compile(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseEntry(_Strict):
    """One phrase. ``text`` is matched with editorial parentheses removed; ``variants`` too."""

    text: str
    seed: str | None = None
    variants: tuple[str, ...] = ()
    ends_clause: bool = False
    unless_followed_by: tuple[str, ...] = ()
    unless_preceded_by: tuple[str, ...] = ()
    # Off for a phrase that sounds like an ordinary word (稍候 / 稍后 "later"): no homophone matching.
    homophones: bool = True

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("短语不能为空")
        return v


def _as_entries(value: Any) -> Any:
    if isinstance(value, list):
        # Bare numbers (12315) are phrases too.
        return [v if isinstance(v, dict) else {"text": str(v)} for v in value]
    return value


class ForbiddenCategory(_Strict):
    name: str
    phrases: tuple[PhraseEntry, ...]

    _coerce = field_validator("phrases", mode="before")(classmethod(lambda cls, v: _as_entries(v)))


class Clause(_Strict):
    title: str
    wording: tuple[str, ...] = ()


# company.agent_id_pattern is a regular expression from the rulebook's author, run on every reply to
# 「你工号多少」. It is compiled with ``regex`` (searches with a timeout), at most this long, and
# refused when it backtracks catastrophically on a probe; at run time a search that still runs out
# of time counts as no match (rules/courtesy.py).
PATTERN_MAX_CHARS = 200
PATTERN_PROBE_SECONDS = 0.05
# Long runs of one kind of character and then one that breaks the match: where nested or
# overlapping repetitions explode. The pattern's own letters and digits are probed too.
_PROBE_CHARS = ("a", "1", " ", "工", "-", "_")
_PROBE_RUN = 30


def _probes(pattern: str) -> list[str]:
    chars = dict.fromkeys((*_PROBE_CHARS, *(c for c in pattern if c.isalnum())))
    return [c * _PROBE_RUN + "!" for c in chars] + ["a1 工-" * (_PROBE_RUN // 5) + "!"]


def bounded_pattern(pattern: str) -> regex.Pattern:
    """Compile a rulebook author's pattern, or ValueError (in Chinese) saying why it is refused."""
    if len(pattern) > PATTERN_MAX_CHARS:
        raise ValueError(f"正则表达式过长 ({len(pattern)} 个字符,最多 {PATTERN_MAX_CHARS})")
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"不是有效的正则表达式: {exc}") from exc
    for probe in _probes(pattern):
        try:
            compiled.search(probe, timeout=PATTERN_PROBE_SECONDS)
        except TimeoutError:
            raise ValueError(
                f"正则表达式在 {probe[:12]!r}… 上超时 (嵌套或重叠的重复会回溯爆炸),请简化"
            ) from None
    return compiled


class Company(_Strict):
    name: str = ""
    agent_id_pattern: str = r"\d{3,6}"
    service_hours: tuple[str, ...] = ("08:00-12:00", "14:00-18:00")
    promised_response: str = "24小时"
    escalation_chain: tuple[str, ...] = ()
    holidays: dict[date, str] = Field(default_factory=dict)
    jargon: tuple[str, ...] = ()

    @field_validator("agent_id_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        bounded_pattern(v)
        return v

    @field_validator("service_hours")
    @classmethod
    def _hours(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if not _TIME_RANGE.match(item):
                raise ValueError(f"服务时间 {item!r} 应写成 HH:MM-HH:MM")
        return v


class Settings(_Strict):
    hold_min_seconds: float = 5
    hold_reassure_seconds: float = 60
    dead_air_seconds: float = 10
    silent_call_wait_seconds: dict[Channel, float] = Field(default_factory=lambda: {Channel.PHONE: 5, Channel.CHAT: 3})
    max_ring_seconds: float = 15
    seconds_per_ring: float = 5
    interruption_tolerance_seconds: float = 0.5
    backchannel_max_chars: int = 6
    long_customer_turn_seconds: float = 20
    chat_typing_seconds: float = 20
    # Live assist (docs/assist.md): a chat customer's message unanswered this long is a timer hint.
    chat_response_seconds: float = Field(default=60, gt=0)
    soothing_repeat_limit: int = 3
    closing_window: int = 3
    min_turns_for_confirmation: int = 4
    # "Must say" phrase categories matched tolerant of homophones (请稍登 for 请稍等); [] turns it off.
    homophone_categories: tuple[str, ...] = ()
    # Chat self-reference and address: each phrase holding the pronoun also matches with these words.
    aliases: dict[str, tuple[str, ...]] = {}
    vocatives: tuple[str, ...] = ()


class Bounds(_Strict):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> "Bounds":
        if self.min >= self.max:
            raise ValueError(f"下限 {self.min:g} 应小于上限 {self.max:g}")
        return self


class VoiceLimits(_Strict):
    """Thresholds of the voice clauses S-H1…S-H3, measured from call audio (guifan.audio)."""

    speech_rate_turn: Bounds = Bounds(min=120, max=300)  # 字/分钟 within one agent turn
    speech_rate_call: Bounds = Bounds(min=150, max=260)  # over all the agent's speech in the call
    rate_min_seconds: float = 2.0  # shorter turns are not rated on their own
    rate_window_seconds: float = 30.0  # live audio: the agent's rate over this much of their latest speech
    level_dbfs: Bounds = Bounds(min=-35, max=-8)  # an agent turn's RMS level
    level_swing_db: float = 10  # unsteady: a turn this far from the agent's median level
    quiet_customer_dbfs: float = -35  # a customer turn below this is "quiet"
    level_follow_db: float = 6  # the agent's reply to a quiet customer this far below the agent's median
    final_drop_semitones: float = 3  # S-H3: the end of a turn this far below its median pitch
    pitch_min_seconds: float = 1.5  # shorter turns have no melody to judge


class Bank(_Strict):
    """An act's exemplars for the meaning stage: sentences that perform it and near misses."""

    clause: str | None = None
    act: str = ""  # the act's name, as people read it
    # must_not: an act whose presence makes a finding, itself (forbidden language, shirking …) or by
    # what must follow it (a refusal needs a reason): every must-say act's positives (apologies,
    # thanks, asking to wait …) are then near misses of it too.
    kind: Literal["must_say", "must_not"] = "must_say"
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


class Semantic(_Strict):
    """The meaning stage (guifan.engine.meaning): acts recognized in the agent's own words."""

    backend: Literal["use", "e5", "ngram", "off"] = "off"
    k: int = Field(default=5, ge=1, le=50)  # nearest exemplars averaged on each side
    # Whether meaning alone may create must-not findings (forbidden language …), not only excuse
    # a missing must-say phrase.
    create_findings: bool = True
    # From this probability on, meaning alone makes a must-not finding; the bank curves put 0.5
    # where a held-out exemplar is as likely either way.
    finding_from: float = Field(default=0.8, ge=0.5, le=1)
    # How far such a finding is trusted: its confidence is the probability times this. Measured on
    # conversations written apart from the banks (bench/bench_generalization.py), about half the
    # must-not findings of meaning alone were right, so by default they go to review (待复核).
    trust: float = Field(default=0.7, gt=0, le=1)
    # Must-not act -> acts in the same turn that excuse it (a pointer elsewhere with a follow-up
    # offer is not shirking).
    excused_by: dict[str, tuple[str, ...]] = {}
    # Acts recognized by phrase and sound only, never by meaning: "请不要挂机" (before the rating) or
    # "感谢您的耐心等待" come close to asking to wait, and a missed hold request is a finding.
    phrase_only: tuple[str, ...] = ()
    # Act -> exemplar bank: the defaults from rulebook/meaning/*.yaml, a company's `add_exemplars`.
    banks: dict[str, Bank] = {}

    @field_validator("backend", mode="before")
    @classmethod
    def _unquoted_off(cls, value: object) -> object:
        """YAML reads an unquoted ``backend: off`` as false."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _known_acts(self) -> "Semantic":
        for act, excuses in self.excused_by.items():
            for name in (act, *excuses):
                if name not in self.banks:
                    raise ValueError(f"semantic.excused_by: 没有语义类别 {name!r}")
        return self


class Judge(_Strict):
    """The optional model judge (guifan.engine.judge; the endpoint is given to `guifan check --judge`)."""

    # Must-not acts the judge is asked about: the hardest calls (shirking vs. a polite pointer …).
    acts: tuple[str, ...] = ()
    # Meaning probabilities within this band are asked; from its top, meaning alone decides.
    band: tuple[float, float] = (0.3, 0.8)
    confidence: float = Field(default=0.75, gt=0, le=1)  # of a finding the judge confirms


class Review(_Strict):
    """Findings that are not certain (meaning, sound, a model's judgement)."""

    # A finding with less confidence than this is 待复核 (needs review) and reaches reviewers first.
    confidence_below: float = Field(default=0.8, ge=0, le=1)
    # Whether such a finding counts in the score before a reviewer confirms it.
    count_in_score: bool = False


class Speech(_Strict):
    """How far recognized speech is trusted (calls checked with --asr; docs/audio-asr.md)."""

    # A turn the recognizer is less sure of than this (0-1, e.g. Whisper's exp(avg_logprob)) is
    # heard with doubt: absence findings that rest on it and findings quoting it become 待复核.
    trust_below: float = Field(default=0.55, ge=0, le=1)
    # Standard wording given to the recognizer as context for the agent's channel with
    # `guifan check --asr-prompt` (Whisper's initial prompt). Off by default: measured, Whisper base
    # copies prompt words into turns where they were not said.
    agent_prompt: str = ""


class Privacy(_Strict):
    """Personal data in what Guifan writes (guifan.privacy)."""

    # Mask phone, ID-card and bank-card numbers and e-mail addresses in every report of `guifan check`.
    mask_reports: bool = False


class ScoreCategory(_Strict):
    name: str
    weight: float = Field(ge=0)


class Scorecard(_Strict):
    deductions: dict[Severity, float]
    categories: dict[str, ScoreCategory]

    @model_validator(mode="after")
    def _weights(self) -> "Scorecard":
        total = sum(c.weight for c in self.categories.values())
        if abs(total - 100) > 1e-6:
            raise ValueError(f"评分表各类别权重之和应为 100,实际为 {total:g}")
        return self


class RuleOverride(_Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    category: str | None = None
    deduction: float | None = Field(default=None, ge=0)
    channels: tuple[Channel, ...] | None = None


class Rulebook(_Strict):
    version: int = 1
    name: str
    company: Company = Company()
    settings: Settings = Settings()
    semantic: Semantic = Semantic()
    review: Review = Review()
    judge: Judge = Judge()
    speech: Speech = Speech()
    voice: VoiceLimits = VoiceLimits()
    privacy: Privacy = Privacy()
    clauses: dict[str, Clause]
    phrases: dict[str, tuple[PhraseEntry, ...]]
    forbidden: dict[str, ForbiddenCategory]
    profanity: tuple[PhraseEntry, ...] = ()
    scorecard: Scorecard
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    # Where this rulebook came from, e.g. "default + company.yaml"; recorded with every result.
    origin: str = "default"
    # What it was loaded from (files, code), when it came from files: names what is cached from it.
    _fingerprint: str | None = PrivateAttr(default=None)

    @property
    def fingerprint(self) -> str | None:
        return self._fingerprint

    @field_validator("phrases", mode="before")
    @classmethod
    def _coerce_phrases(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: _as_entries(items or []) for k, items in v.items()}
        return v

    _coerce_profanity = field_validator("profanity", mode="before")(classmethod(lambda cls, v: _as_entries(v)))

    @model_validator(mode="after")
    def _categories_exist(self) -> "Rulebook":
        for code, override in self.rules.items():
            if override.category and override.category not in self.scorecard.categories:
                raise ValueError(f"rules.{code}.category: 评分表中没有类别 {override.category!r}")
        for category in self.settings.homophone_categories:
            if category not in self.phrases:
                raise ValueError(f"settings.homophone_categories: 没有短语类别 {category!r}")
        return self

    def clause_title(self, clause: str) -> str:
        found = self.clauses.get(clause)
        return found.title if found else clause

    def title_of(self, clauses: Iterable[str]) -> str:
        """A rule's title as people read it: the titles of the clauses it checks (``推卸语``); a
        rule's ``name`` is an English identifier."""
        return "、".join(self.clause_title(c) for c in clauses)

    def wording(self, clause: str) -> tuple[str, ...]:
        """The standard wording for a clause, with company placeholders filled in."""
        found = self.clauses.get(clause)
        return tuple(self.fill(w) for w in found.wording) if found else ()

    def fill(self, text: str) -> str:
        chain = self.company.escalation_chain
        values = {
            "[公司]": self.company.name or "[公司]",
            "[承诺时限]": self.company.promised_response,
            "[升级第一级]": chain[0] if chain else "值班长",
        }
        for key, value in values.items():
            text = text.replace(key, value)
        return text

    def phrase_list(self, category: str) -> tuple[PhraseEntry, ...]:
        try:
            return self.phrases[category]
        except KeyError:
            raise RulebookError(f"规则手册缺少短语类别 phrases.{category}") from None


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return copy.deepcopy(override)


def _apply_edits(data: dict, edits: dict, source: str, lines: dict[tuple, int] | None = None) -> None:
    """Apply ``add_phrases``, ``remove_phrases`` and ``add_forbidden`` of a company file."""
    lines = lines or {}

    def at(*path: str) -> str:
        return f"{source}:{lines[path]}" if path in lines else source

    def text_of(entry: Any) -> str:
        return entry if isinstance(entry, str) else entry.get("text", "")

    for category, items in (edits.get("add_phrases") or {}).items():
        data.setdefault("phrases", {}).setdefault(category, [])
        data["phrases"][category] = list(data["phrases"][category]) + list(items or [])
    for category, items in (edits.get("remove_phrases") or {}).items():
        if category not in data.get("phrases", {}):
            raise RulebookError(f"{at('remove_phrases', category)}: remove_phrases.{category}: 没有这个短语类别")
        drop = set(items or [])
        data["phrases"][category] = [e for e in data["phrases"][category] if text_of(e) not in drop]
    for act, bank in (edits.get("add_exemplars") or {}).items():
        if not isinstance(bank, dict):
            raise RulebookError(f"{at('add_exemplars', act)}: add_exemplars.{act}: 应为 {{positive: [...], negative: [...]}}")
        banks = data.setdefault("semantic", {}).setdefault("banks", {})
        target = banks.setdefault(act, {})
        for side in ("positive", "negative"):
            target[side] = list(target.get(side) or []) + list(bank.get(side) or [])
    for clause, items in (edits.get("add_forbidden") or {}).items():
        if clause not in data.get("forbidden", {}):
            raise RulebookError(f"{at('add_forbidden', clause)}: add_forbidden.{clause}: 没有这个忌语类别 (应为 S-F1…S-F9)")
        data["forbidden"][clause]["phrases"] = list(data["forbidden"][clause]["phrases"]) + list(items or [])


_EDIT_KEYS = ("add_phrases", "remove_phrases", "add_forbidden", "add_exemplars")


def _key_lines(node: Any, path: tuple = ()) -> Iterable[tuple[tuple, int]]:
    """(key path, 1-based line) of every key and list item under a composed YAML node."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, key.value)
            yield here, key.start_mark.line + 1
            yield from _key_lines(value, here)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item.start_mark.line + 1
            yield from _key_lines(item, (*path, index))


def read_yaml_lines(
    path: Path | str, text: str | None = None, error: type[GuifanError] = RulebookError,
) -> tuple[dict, dict[tuple, int]]:
    """A YAML file's data (a mapping) and the line of each key in it, for messages that name the
    line; unreadable files raise ``error`` (the rulebook's, or another data file's, such as a
    training scenario)."""
    name = str(path)
    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8-sig")
        data = yaml.safe_load(text)
    except (FileNotFoundError, IsADirectoryError):
        raise error(f"{name}: 文件不存在") from None
    except UnicodeDecodeError:
        raise error(f"{name}: 文件须为 UTF-8 编码") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise error(f"{name}{where}: YAML 格式错误: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise error(f"{name}: 顶层应为映射 (key: value)")
    return data, dict(_key_lines(yaml.compose(text, Loader=yaml.SafeLoader)))


@lru_cache(maxsize=1)
def _default_data() -> dict:
    """default.yaml, with the exemplar banks of rulebook/meaning/*.yaml as ``semantic.banks``.

    Parsed once per version of the files and kept as JSON in ``cache_dir()``: reading 460 KB of
    YAML took a tenth of every start-up's CPU time."""
    folder = resources.files("guifan.rulebook")
    parts = sorted((p for p in folder.joinpath("meaning").iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    texts = [folder.joinpath("default.yaml").read_text(encoding="utf-8"), *(p.read_text(encoding="utf-8") for p in parts)]
    cached = cache_dir() / f"rulebook-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:16]}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    data = _parse_default(texts)
    encoded = json.dumps(data, ensure_ascii=False)
    if json.loads(encoded) == data:  # only plain data keeps (no dates, no number keys)
        save_bytes(cached, encoded.encode("utf-8"))
    return data


def _parse_default(texts: list[str]) -> dict:
    """default.yaml's text, then each of meaning/*.yaml's: one mapping. libyaml's parser where PyYAML
    has it (known-good files: neither a line map nor friendly errors)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(texts[0], Loader=loader) or {}
    banks = data.setdefault("semantic", {}).setdefault("banks", {})
    for text in texts[1:]:
        for act, bank in (yaml.load(text, Loader=loader) or {}).items():
            merged = banks.setdefault(act, {})  # several files may feed one act
            for key, value in bank.items():
                merged[key] = [*merged.get(key, []), *value] if key in ("positive", "negative") else value
    return data


def _model_keys(loc: tuple, root: type[BaseModel]) -> list[str]:
    """The keys ``root`` (the rulebook, a scenario …) allows at ``loc`` (a path of keys), from the
    models' fields."""

    def unwrap(annotation: Any) -> Any:
        if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
            return next((a for a in get_args(annotation) if a is not type(None)), annotation)
        return annotation

    annotation: Any = root
    for part in loc:
        annotation = unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is tuple and isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            return []
    annotation = unwrap(annotation)
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return []
    # Not the fields the loader sets itself (where a file came from).
    keys = [key for key, field in annotation.model_fields.items() if key != "origin" and not field.exclude]
    return keys + list(_EDIT_KEYS) if annotation is Rulebook else keys


def _unknown_key(loc: tuple, root: type[BaseModel]) -> str:
    allowed = _model_keys(loc[:-1], root)
    like = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f";是否要写 {like[0]}?" if like else ""
    return f"未知的键{hint}" + (f" (此处可用: {', '.join(allowed)})" if allowed else "")


# The rules there are (code -> name), to check an override's ``rules:`` against. The rulebook knows
# no rules: the rule registry (guifan.engine.registry) sets this when it is imported.
rule_catalogue: Callable[[], dict[str, str]] | None = None

Problem = tuple[tuple[int, int], str]  # ((file index, line), text): problems sorted as they appear


def _unknown_rules(extra: dict, file: int, name: str, lines: dict[tuple, int]) -> list[Problem]:
    """``rules:`` entries that name no rule (a typo, a rule's name instead of its code)."""
    rules = extra.get("rules")
    if not isinstance(rules, dict) or rule_catalogue is None:
        return []
    known = rule_catalogue()
    by_name = {name: code for code, name in known.items()}
    problems = []
    for code in rules:
        if code in known:
            continue
        like = by_name.get(code) or (str(code).upper() if str(code).upper() in known else None)
        like = like or next(iter(difflib.get_close_matches(str(code), known, n=1)), None)
        line = lines.get(("rules", code))
        where = f"{name}:{line}" if line else name
        problems.append(((file, line or 0), f"  {where} rules.{code}: 没有这条规则" + (f";是否要写 {like}?" if like else "")))
    return problems


def key_problem(loc: tuple, message: str, files: list[tuple[str, dict[tuple, int]]]) -> Problem:
    """A problem at key path ``loc``, with the file and line of the key (of the last file that
    sets it, or of the nearest key above it)."""
    path = ".".join(str(p) for p in loc)
    order, where = (len(files), 0), ""
    for index in range(len(files) - 1, -1, -1):
        name, key_lines = files[index]
        known = next((loc[:n] for n in range(len(loc), 0, -1) if loc[:n] in key_lines), None)
        if known is not None:
            order, where = (index, key_lines[known]), f"{name}:{key_lines[known]} "
            break
    return order, f"  {where}{path}: {message}"


def validation_problems(error: ValidationError, files: list[tuple[str, dict[tuple, int]]],
                        root: type[BaseModel] = Rulebook) -> list[Problem]:
    """Each problem of validating ``root`` with the file and line of its key; an unknown key says
    which keys are allowed there."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = _unknown_key(loc, root) if item["type"] == "extra_forbidden" else pydantic_text(item)
        problems.append(key_problem(loc, message, files))
    return problems


def load_rulebook(overrides: Iterable[Path | str] = ()) -> Rulebook:
    """The default rulebook with each override file merged over it, in order. A file's problems
    (unknown keys, unknown rule codes, bad values) are reported together, each with its line.

    A rulebook once validated is kept, pickled, in ``cache_dir()`` under its fingerprint (the
    files' contents, the code that reads them): merging and validating took 40 ms of every start."""
    overrides = list(overrides)
    origin = " + ".join(["default", *(Path(path).name for path in overrides)])
    fingerprint = _fingerprint(overrides)
    snapshot = cache_dir() / f"rulebook-{fingerprint}.pickle" if fingerprint else None
    found = load_pickle(snapshot) if snapshot else None
    if isinstance(found, Rulebook) and found.fingerprint == fingerprint:
        return found if found.origin == origin else found.model_copy(update={"origin": origin})
    rulebook = _merged(overrides)
    if snapshot is not None:
        rulebook._fingerprint = fingerprint
        save_pickle(snapshot, rulebook)
        prune("rulebook-*.pickle", keep=16)
    return rulebook


def _fingerprint(overrides: list[Path | str]) -> str | None:
    """A digest of what a rulebook is made of: the bundled files and the code that reads them
    (their sizes and times), each override's content; None when an override cannot be read (its
    error is reported on loading)."""
    digest = hashlib.sha256(f"{package_stamp()}|{pydantic.VERSION}|{rule_catalogue is not None}".encode())
    for path in overrides:
        try:
            content = Path(path).read_bytes()
        except OSError:
            return None
        digest.update(b"\0%d\0" % len(content) + content)
    return digest.hexdigest()[:24]


def _merged(overrides: list[Path | str]) -> Rulebook:
    """``load_rulebook`` without its cache."""
    # The cached default is shared: an override merges into a copy of it (a deep one, 20 ms of a
    # start-up; without overrides only the top level changes).
    data = copy.deepcopy(_default_data()) if overrides else dict(_default_data())
    origin = ["default"]
    files: list[tuple[str, dict[tuple, int]]] = []
    problems: list[Problem] = []
    for path in overrides:
        extra, lines = read_yaml_lines(path)
        problems += _unknown_rules(extra, len(files), str(path), lines)
        files.append((str(path), lines))
        edits = {k: extra.pop(k) for k in _EDIT_KEYS if k in extra}
        data = _merge(data, extra)
        _apply_edits(data, edits, str(path), lines)
        origin.append(Path(path).name)
    data["origin"] = " + ".join(origin)
    rulebook = None
    try:
        rulebook = Rulebook.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, files)
    if problems:
        lines = [f"{' + '.join(origin[1:]) or 'default.yaml'}: 规则手册校验失败"]
        lines += [text for _, text in sorted(problems, key=lambda p: p[0])]
        if any("没有这条规则" in text for _, text in problems):
            lines.append("  (rules 下写规则代码,如 FBD006;运行 guifan rules 查看全部规则)")
        raise RulebookError("\n".join(lines))
    return rulebook


@lru_cache(maxsize=1)
def default_rulebook() -> Rulebook:
    return load_rulebook()
