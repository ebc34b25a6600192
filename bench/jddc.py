"""The JDDC-like load of the whole-process benchmarks: chats sampled from the shared corpus.

The corpus (../shared/corpus/jddc-sample.jsonl, 300 JDDC sessions of ~13 turns) is read where it
is and never copied into the project; the sample goes to a temporary file, with new ids, as
shared/tools/measure-check.py samples it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "jddc-sample.jsonl"


def sample(corpus: Path, n: int, path: Path, *, distinct: bool = False) -> None:
    """Write ``n`` chats drawn from ``corpus`` (seeded: the same load every run) to ``path``.
    ``distinct``: every turn's text made unique (its chat's number appended), so that no text
    recurs and no cache of the engine's helps, the worst case of a batch."""
    pool = [json.loads(line) for line in corpus.open(encoding="utf-8")]
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            chat = dict(rng.choice(pool))
            chat["id"] = f"load-{i}"
            chat.pop("source", None)
            if distinct:
                chat["turns"] = [{**turn, "text": f"{turn['text']}(编号{i})"} for turn in chat["turns"]]
            fh.write(json.dumps(chat, ensure_ascii=False) + "\n")
