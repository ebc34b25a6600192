"""One Aho-Corasick pass per normalized form finds every rulebook phrase in a text.

All phrase categories (greeting, closing, forbidden S-F1…S-F9, customer triggers …) are compiled
into two automata, one over the ``basic`` form and one over the ``loose`` form (see guifan.text).
A phrase goes into the loose automaton when it keeps at least three characters without fillers:
"什么呀" stays in the basic form, because "什么" alone would match everywhere.

Homophone tolerance: the phrases of the "must say" categories the rulebook names
(``settings.homophone_categories``) also go into a third automaton over the ``sound`` form, so
that 请稍登 still counts as 请稍等. It is not part of the scan: a rule asks for it
(``TurnView.says``) only where exact matching found nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache, partial
from itertools import accumulate
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

import ahocorasick_rs

from guifan import text as textnorm
from guifan.cache import load_pickle, prune, save_pickle
from guifan.rulebook import PhraseEntry

_EDITORIAL = re.compile(r"[((][^))]*[))]")
MIN_LOOSE_CHARS = 3
MIN_SOUND_CHARS = 2  # 抱歉/报歉, 再见/在见
VETOED = "!"  # prefix of the category under which hits cleared by a near-miss guard are kept


NEAR_SOUND_CHARS = 4  # shortest phrase near_sound compares


def max_misheard(length: int) -> int:
    """Characters a sound match may get wrong: one in a short phrase, one per three beyond. A
    whole word that merely sounds alike (钱已 for 歉意, 没事 for 妹是) is another word, not a slip."""
    return max(1, length // 3)


class Phrase(NamedTuple):
    """A compiled phrase: its category, the wording shown to users and its normalized key (a
    tuple: thousands are made at every start, and a frozen dataclass took four times as long)."""

    category: str
    text: str
    key: str
    form: str  # "basic", "loose" or "sound"
    entry: PhraseEntry
    # Near-miss guards in the same normalized form as ``key``.
    not_followed_by: tuple[str, ...] = ()
    not_preceded_by: tuple[str, ...] = ()
    guarded: bool = False  # has near-miss guards (precomputed: checked for every match)
    spelled: str = ""  # sound phrases: the loose key they sound like


class Hit(NamedTuple):
    """A phrase found in a text (a tuple: a scan makes dozens per conversation, and a frozen
    dataclass took three times as long to make)."""

    phrase: Phrase
    start: int  # in the phrase's normalized form of the text
    end: int

    @property
    def category(self) -> str:
        return self.phrase.category


# Hit((phrase, start, end)) without the generated __new__'s Python frame: scans make many.
_new_hit = partial(tuple.__new__, Hit)
_new_phrase = partial(tuple.__new__, Phrase)


def phrase_keys(
    entry: PhraseEntry, aliases: Mapping[str, Sequence[str]] | None = None, vocatives: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """The (form, key) pairs one entry is matched by: its text and variants, '/'-alternatives split,
    and each with the chat aliases of its pronouns (你 → 亲, 我 → 小妹 …)."""
    texts = []
    for raw in (entry.text, *entry.variants):
        texts.extend(part for part in _EDITORIAL.sub("", raw).split("/") if part.strip())
    keys: list[tuple[str, str]] = []
    for t in texts:
        for b in _with_aliases(textnorm.basic(t), aliases or {}, vocatives):
            loose = textnorm.loosen(b)
            pair = ("loose", loose) if len(loose) >= MIN_LOOSE_CHARS else ("basic", b)
            if pair[1] and pair not in keys:
                keys.append(pair)
    return keys


def _with_aliases(key: str, aliases: Mapping[str, Sequence[str]], vocatives: Sequence[str]) -> list[str]:
    """``key`` and, per pronoun it holds, the key with every occurrence replaced by each alias; a
    vocative never replaces a final pronoun ("理解亲" is "理解" said to 亲, not "理解你")."""
    keys = [key]
    for pronoun, words in aliases.items():
        if pronoun in key:
            final = key.endswith(pronoun)
            keys += [k.replace(pronoun, w) for k in keys for w in words if not (final and w in vocatives)]
    return keys


_NORMALIZERS = {
    "basic": textnorm.basic,
    "loose": textnorm.loose,
    "sound": lambda text: textnorm.sound(textnorm.loose(text)),
}


# What compiling a rulebook's phrases yields, as plain data (kept in the cache): per form, per key,
# the phrases it stands for as (category, index of the entry in its category, normalized near-miss
# guards after and before, the loose key a sound phrase sounds like).
Table = dict[str, dict[str, list[tuple[str, int, tuple[str, ...], tuple[str, ...], str]]]]
FORMS = ("basic", "loose", "sound")


def compile_table(
    categories: Mapping[str, Sequence[PhraseEntry]],
    sound_categories: Iterable[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
    vocatives: Sequence[str] = (),
) -> Table:
    table: Table = {form: {} for form in FORMS}
    sound_categories = frozenset(sound_categories)

    def add(category: str, index: int, entry: PhraseEntry, form: str, key: str, spelled: str = "") -> None:
        group = table[form].setdefault(key, [])
        if not any(p[0] == category and p[1] == index for p in group):
            norm = _NORMALIZERS[form]
            group.append((category, index, tuple(norm(x) for x in entry.unless_followed_by),
                          tuple(norm(x) for x in entry.unless_preceded_by), spelled))

    for category, entries in categories.items():
        for index, entry in enumerate(entries):
            for form, key in phrase_keys(entry, aliases, vocatives):
                add(category, index, entry, form, key)
                if category in sound_categories and entry.homophones:
                    spelled = textnorm.loosen(key)
                    if len(spelled) >= MIN_SOUND_CHARS:
                        add(category, index, entry, "sound", textnorm.sound(spelled), spelled)
    return table


def _phrases(table: Table, categories: Mapping[str, Sequence[PhraseEntry]]) -> dict[str, dict[str, list[Phrase]]] | None:
    """The phrases of a compiled table, each with its rulebook entry; None if the table does not fit
    the categories (a damaged cache file)."""
    try:
        by_form: dict[str, dict[str, list[Phrase]]] = {}
        for form in FORMS:
            by_form[form] = found = {}
            for key, group in table[form].items():
                phrases = found[key] = []
                for category, index, followed, preceded, spelled in group:
                    entry = categories[category][index]
                    phrases.append(_new_phrase((category, entry.text, key, form, entry, followed, preceded,
                                                bool(followed or preceded), spelled)))
        return by_form
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None


class PhraseMatcher:
    def __init__(
        self,
        categories: Mapping[str, Iterable[PhraseEntry]],
        sound_categories: Iterable[str] = (),
        aliases: Mapping[str, Sequence[str]] | None = None,
        vocatives: Sequence[str] = (),
        *,
        cache: Path | None = None,
    ):
        """``cache``: a file to keep the compiled table in, named for everything the arguments
        hold (compiling took a sixth of every start-up)."""
        categories = {category: tuple(entries) for category, entries in categories.items()}
        cached = load_pickle(cache) if cache is not None else None
        by_form = _phrases(cached, categories) if isinstance(cached, dict) else None
        if by_form is None:
            table = compile_table(categories, sound_categories, aliases, vocatives)
            by_form = _phrases(table, categories)
            if cache is not None:
                save_pickle(cache, table)
                prune("phrases-*.pickle", keep=16)
        self._keys = {form: list(table) for form, table in by_form.items()}
        # Categories holding phrases that must end a clause; only these need the original-text check.
        self.clause_end_categories = frozenset(
            p.category for table in by_form.values() for group in table.values() for p in group if p.entry.ends_clause
        )
        self._phrases = {form: [table[k] for k in self._keys[form]] for form, table in by_form.items()}
        self._automata = {
            form: ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard)
            for form, keys in self._keys.items()
            if keys
        }
        self._scan_sound = lru_cache(maxsize=10_000)(self._scan_sound_uncached)
        # Turn texts already normalized and scanned (CheckContext.prepared): agents repeat their
        # boilerplate, so most turns of a batch were seen before. Bounded: cleared when full.
        self.prepared: dict[str, tuple[str, str, dict[str, list[Hit]], dict[str, list[int]]]] = {}
        self._near_sound = lru_cache(maxsize=10_000)(self._near_sound_uncached)
        # Sound keys per category, for near_sound (recognized speech that may hide the wording).
        self._sounds: dict[str, list[str]] = {}
        for key, group in zip(self._keys["sound"], self._phrases["sound"]):
            for phrase in group:
                self._sounds.setdefault(phrase.category, []).append(key)

    @property
    def size(self) -> int:
        return sum(len(k) for k in self._keys.values())

    def scan(self, basic: str, loose: str) -> dict[str, list[Hit]]:
        """Every phrase found in a text, grouped by category, in order of position per form."""
        return self.scan_many([basic], [loose])[0]

    def scan_many(self, basics: list[str], looses: list[str]) -> list[dict[str, list[Hit]]]:
        """``scan`` for many texts at once: one automaton pass per form over the texts joined by
        newlines (normalization removes every newline, so no phrase can span two texts)."""
        found: list[dict[str, list[Hit]]] = [{} for _ in basics]
        self._scan("basic", basics, found)
        self._scan("loose", looses, found)
        return found

    def scan_sound(self, loose: str) -> Mapping[str, list[Hit]]:
        """The homophone-tolerant matches of the must-say phrases in one loose-form text, allowing
        at most ``max_misheard`` wrong characters per match. Asked only where exact matching found
        nothing (``TurnView.says``); cached, since agents repeat their boilerplate."""
        return self._scan_sound(loose)

    def near_sound(self, loose: str, categories: Iterable[str]) -> float:
        """``_near_sound_uncached``, cached by text and categories, as ``scan_sound`` is."""
        return self._near_sound(loose, tuple(categories))

    def _near_sound_uncached(self, loose: str, categories: tuple[str, ...]) -> float:
        """For recognized speech: the largest share of one must-say phrase's sounds (toned
        syllables, in order, at one place) that the text holds, 0-1. A recognizer that misheard
        请您稍等 as 请您早等 leaves most of its sounds: the wording may be there, misheard beyond what
        ``scan_sound`` accepts as a slip."""
        heard = textnorm.sound(loose)
        best = 0.0
        for category in categories:
            for key in self._sounds.get(category, ()):
                size = len(key)
                if size < NEAR_SOUND_CHARS:  # two of three sounds is any short word
                    continue
                for start in range(max(1, len(heard) - size + 1)):
                    window = heard[start:start + size]
                    best = max(best, sum(a == b for a, b in zip(window, key)) / size)
        return best

    def _scan_sound_uncached(self, loose: str) -> Mapping[str, list[Hit]]:
        automaton = self._automata.get("sound")
        if automaton is None:
            return {}
        heard = textnorm.sound(loose)
        found: dict[str, list[Hit]] = {}
        for index, start, end in automaton.find_matches_as_indexes(heard, overlapping=True):
            spelled = loose[start:end]
            for phrase in self._phrases["sound"][index]:
                if sum(a != b for a, b in zip(spelled, phrase.spelled)) > max_misheard(end - start):
                    continue
                if phrase.guarded and _vetoed(phrase, heard, start, end):
                    continue
                found.setdefault(phrase.category, []).append(Hit(phrase, start, end))
        return found

    def _scan(self, form: str, texts: list[str], found: list[dict[str, list[Hit]]]) -> None:
        """Add the hits of one form's automaton to ``found`` (one dict per text)."""
        automaton = self._automata.get(form)
        if automaton is None:
            return
        haystack = "\n".join(texts)
        starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
        phrases = self._phrases[form]
        turn, turn_start, text, into = 0, 0, texts[0], found[0]
        next_start = starts[1] if len(starts) > 1 else len(haystack) + 1
        for index, start, end in automaton.find_matches_as_indexes(haystack, overlapping=True):
            if start >= next_start:
                turn = bisect_right(starts, start) - 1
                turn_start, text, into = starts[turn], texts[turn], found[turn]
                next_start = starts[turn + 1] if turn + 1 < len(starts) else len(haystack) + 1
            start -= turn_start
            end -= turn_start
            for phrase in phrases[index]:
                if phrase.guarded and _vetoed(phrase, text, start, end):
                    # Kept apart: the meaning stage must not flag what a near-miss guard cleared.
                    into.setdefault(VETOED + phrase.category, []).append(_new_hit((phrase, start, end)))
                    continue
                hits = into.get(phrase.category)
                if hits is None:
                    into[phrase.category] = [_new_hit((phrase, start, end))]
                else:
                    hits.append(_new_hit((phrase, start, end)))


def _vetoed(phrase: Phrase, haystack: str, start: int, end: int) -> bool:
    """Near-miss guard: "我不知道您是否方便" is not 推卸语, "请您先听我说明" is not 命令语."""
    if phrase.not_followed_by and haystack.startswith(phrase.not_followed_by, end):
        return True
    return bool(phrase.not_preceded_by) and haystack.endswith(phrase.not_preceded_by, 0, start)
