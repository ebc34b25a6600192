"""Generalization: recall and false alarms per clause on conversations written apart from the phrase
lists and the exemplar banks (bench/generalization/*.jsonl, by writers who read only STANDARD.md).

    python bench/bench_generalization.py                    # the default rulebook
    python bench/bench_generalization.py --backend off      # phrases only (no meaning stage)
    python bench/bench_generalization.py --explain S-F6     # every miss and false alarm of a clause
    python bench/bench_generalization.py --json             # figures for scripts

A violation case counts as found when a finding names its clause; an ok case is a false alarm when
one does. "found" counts every finding, "scored" only those that count in the score (not 待复核).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from guifan.engine import Engine
from guifan.readers.textlog import parse_chat_log
from guifan.rulebook import default_rulebook
from guifan.scoring import Scorer

CASES = Path(__file__).parent / "generalization"


def load_cases() -> list[dict]:
    cases = []
    for path in sorted(CASES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                cases.append(json.loads(line))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="semantic backend: use | e5 | ngram | off")
    parser.add_argument("--explain", default=None, help="list the misses and false alarms of this clause")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    book = default_rulebook()
    if args.backend:
        book = book.model_copy(update={"semantic": book.semantic.model_copy(update={"backend": args.backend})})
    engine = Engine(book)
    counts = getattr(Scorer(book), "counts", lambda finding: True)  # versions before confidence: all count
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"violation": [0, 0, 0], "ok": [0, 0, 0]})
    explained = []
    for case in load_cases():
        text = f"# channel: {case.get('channel', 'chat')}\n{case['conversation']}"
        (conversation, *_) = parse_chat_log(text, f"{case['id']}.txt")
        findings = [f for f in engine.check(conversation) if case["clause"] in f.clauses]
        row = table[case["clause"]][case["expect"]]
        row[0] += 1
        row[1] += bool(findings)
        row[2] += any(counts(f) for f in findings)
        wrong = bool(findings) != (case["expect"] == "violation")
        if args.explain and case["clause"] == args.explain and wrong:
            explained.append((case, findings))
    figures = {
        clause: {
            "violations": v[0], "recall": v[1] / v[0] if v[0] else None, "recall_scored": v[2] / v[0] if v[0] else None,
            "ok": o[0], "false_alarms": o[1] / o[0] if o[0] else None, "false_alarms_scored": o[2] / o[0] if o[0] else None,
        }
        for clause, rows in sorted(table.items()) for v, o in [(rows["violation"], rows["ok"])]
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print(f"{'clause':8} {'viol':>5} {'recall':>7} {'scored':>7} {'ok':>5} {'false':>7} {'scored':>7}")
    for clause, f in figures.items():
        print(f"{clause:8} {f['violations']:5d} {f['recall']:7.2f} {f['recall_scored']:7.2f} {f['ok']:5d}"
              f" {f['false_alarms']:7.2f} {f['false_alarms_scored']:7.2f}")
    recall = [f["recall"] for f in figures.values() if f["recall"] is not None]
    false = [f["false_alarms"] for f in figures.values() if f["false_alarms"] is not None]
    print(f"{'mean':8} {'':5} {sum(recall) / len(recall):7.2f} {'':7} {'':5} {sum(false) / len(false):7.2f}")
    for case, findings in explained:
        print(f"\n{case['id']} ({case['expect']}): {case.get('note', '')}")
        print("  " + case["conversation"].replace("\n", "\n  "))
        for f in findings:
            print(f"  → {f.rule} {getattr(f, 'evidence', '')} {getattr(f, 'confidence', 1):.2f} {f.message}")


if __name__ == "__main__":
    main()
