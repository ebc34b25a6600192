"""Calibrate the paraphrase threshold of a semantic backend on labelled data.

    python bench/calibrate_semantic.py                       # ngram backend, JDDC dev labels
    python bench/calibrate_semantic.py --backend use         # needs pip install 'guifan[semantic]'

For each threshold, checks the labelled dialogues with the semantic fallback at that threshold and
prints the per-dialogue F1 of the must-say clauses the labels cover (S-A9 closing, S-A11 reply to
thanks, S-D1 apology) and how many findings of the engine without it ("off") the fallback withdrew, then
the withdrawn findings at the chosen threshold, to read. A paraphrase can only withdraw a
finding, so a threshold too low shows as lost recall. Pick the lowest threshold that loses
nothing on the labels and keep a margin.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from guifan.engine import Engine
from guifan.evaluation import evaluate, read_labels
from guifan.model import Conversation
from guifan.readers import read_paths
from guifan.rulebook import Rulebook, default_rulebook

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MUST_SAY = ("S-A9", "S-A11", "S-D1")


def with_semantic(book: Rulebook, backend: str, threshold: float | None = None) -> Rulebook:
    thresholds = dict(book.semantic.thresholds)
    if threshold is not None:
        thresholds[backend] = threshold
    semantic = book.semantic.model_copy(update={"backend": backend, "thresholds": thresholds})
    return book.model_copy(update={"semantic": semantic})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS / "jddc-sample.jsonl")
    parser.add_argument("--labels", type=Path, default=CORPUS / "jddc-dev-labels.jsonl")
    parser.add_argument("--backend", choices=("ngram", "use"), default="ngram")
    parser.add_argument("--thresholds", type=float, nargs="+",
                        default=[0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.70, 0.80, 0.90])
    parser.add_argument("--show", type=float, help="list the withdrawn findings at this threshold")
    args = parser.parse_args()

    labels = read_labels(args.labels)
    conversations = [c for c in read_paths([args.corpus]) if isinstance(c, Conversation) and c.id in labels]
    book = default_rulebook()
    without = Engine(with_semantic(book, "off"))
    baseline = {c.id: {(f.rule, f.turn) for f in without.check(c) if set(f.clauses) & set(MUST_SAY)} for c in conversations}

    print(f"backend {args.backend} · {len(conversations)} labelled dialogues · F1 per dialogue")
    print(f"{'threshold':>9} " + " ".join(f"{c:>6}" for c in MUST_SAY) + f" {'macro':>6} {'withdrawn':>9}")
    base = evaluate(without, conversations, labels)
    print(f"{'off':>9} " + " ".join(f"{base.dialogue[c].f1 or 0:>6.3f}" for c in MUST_SAY)
          + f" {base.macro_f1:>6.3f} {0:>9}")
    for threshold in args.thresholds:
        engine = Engine(with_semantic(book, args.backend, threshold))
        result = evaluate(engine, conversations, labels)
        withdrawn = []
        for conversation in conversations:
            kept = {(f.rule, f.turn) for f in engine.check(conversation)}
            withdrawn += [(conversation, rule, turn) for rule, turn in baseline[conversation.id] - kept]
        print(f"{threshold:>9.2f} " + " ".join(f"{result.dialogue[c].f1 or 0:>6.3f}" for c in MUST_SAY)
              + f" {result.macro_f1:>6.3f} {len(withdrawn):>9}")
        if args.show is not None and abs(threshold - args.show) < 1e-9:
            for conversation, rule, turn in withdrawn:
                text = conversation.turns[turn].text.strip() if turn is not None else ""
                matched = {
                    category: found for category in sorted(engine.semantic.categories)
                    if (found := engine.semantic.best(text, category)) and found[0] >= threshold
                }
                print(f"    {conversation.id} turn {turn} {rule}: {text[:60]}")
                for category, (score, clause, exemplar) in matched.items():
                    print(f"        {category} {score:.2f}: {clause} ~ {exemplar}")


if __name__ == "__main__":
    main()
