"""Benchmark: recall of the must-say clauses when the agent's text carries homophone errors.

    python bench/bench_homophones.py             # examples/, 5 % and 10 % of characters, 20 seeds
    python bench/bench_homophones.py --rates 0.05 0.1 0.2 --seeds 50

Speech recognition (and pinyin typing) swaps characters for others with the same sound: 请稍登
for 请稍等, 报歉 for 抱歉, 在见 for 再见. This script corrupts the agent turns of the example
conversations: each Chinese character is replaced, with the given probability, by another common
character with exactly the same toned pinyin. It then checks the clean and the corrupted
conversations with exact matching only, with the meaning stage (``semantic``), and with
both it and homophone tolerance (the default rulebook), and prints, for the must-say clauses,

* phrase recall: of the must-say phrases found in the clean agent turns, the share still found;
* clause recall: of the (conversation, clause) pairs the clean text respects by saying the
  wording, the share still judged respected (a drop is a false finding caused by ASR noise).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path

from pypinyin.pinyin_dict import pinyin_dict

from guifan.engine import Engine
from guifan.model import Conversation, Role
from guifan.readers import read_paths
from guifan.rulebook import default_rulebook

ROOT = Path(__file__).resolve().parents[1]
# Clause -> the rulebook categories whose wording satisfies it.
MUST_SAY = {
    "S-A1": ("greeting", "offer_help"),
    "S-A6": ("confirm_need",),
    "S-A9": ("closing_offer", "closing_thanks", "farewell"),
    "S-A11": ("reply_to_thanks",),
    "S-B1": ("hold_request",),
    "S-B2": ("hold_thanks",),
    "S-D1": ("apology", "empathy"),
}


def homophone_groups() -> dict[str, list[str]]:
    """Common CJK characters by their first toned reading."""
    groups: dict[str, list[str]] = {}
    for cp, readings in pinyin_dict.items():
        if 0x4E00 <= cp <= 0x9FFF:
            groups.setdefault(readings.split(",", 1)[0], []).append(chr(cp))
    return groups


def corrupt(conversation: Conversation, rate: float, rng: random.Random, sounds: dict[str, list[str]]) -> Conversation:
    turns = []
    for turn in conversation.turns:
        if turn.role is Role.AGENT:
            chars = []
            for ch in turn.text:
                group = sounds.get(ch)
                if group and len(group) > 1 and rng.random() < rate:
                    ch = rng.choice([c for c in group if c != ch])
                chars.append(ch)
            turn = replace(turn, text="".join(chars))
        turns.append(turn)
    return replace(conversation, turns=tuple(turns))


def judge(engine: Engine, conversation: Conversation) -> tuple[set[tuple[int, str]], set[str]]:
    """One check: the (agent turn, category) pairs where must-say wording is recognized, and the
    clauses with a finding."""
    categories = {c for cats in MUST_SAY.values() for c in cats}
    ctx = engine.context(conversation)
    saying = {(v.index, c) for v in ctx.agent for c in categories if v.says(c)}
    return saying, {clause for f in engine.run(ctx) for clause in f.clauses}


def respected(saying: set[tuple[int, str]], broken: set[str]) -> set[str]:
    """Must-say clauses without a finding whose wording the agent says (in the clean text)."""
    categories = {c for _, c in saying}
    return {clause for clause, cats in MUST_SAY.items() if clause not in broken and categories.intersection(cats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "examples"])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.10])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()

    conversations = [c for c in read_paths(args.paths) if isinstance(c, Conversation)]
    tolerant = Engine()
    book = default_rulebook()
    no_sound = book.model_copy(update={"settings": book.settings.model_copy(update={"homophone_categories": ()})})
    strict = Engine(no_sound.model_copy(update={"semantic": book.semantic.model_copy(update={"backend": "off"})}))
    engines = (("exact", strict), ("+meaning", Engine(no_sound)), ("+homophones", tolerant))
    sounds = {ch: group for group in homophone_groups().values() for ch in group}

    clean = []
    for conversation in conversations:
        saying, broken = judge(strict, conversation)
        clean.append((conversation, saying, respected(saying, broken)))
    phrases = sum(len(s) for _, s, _ in clean)
    clauses = sum(len(r) for _, _, r in clean)
    print(f"{len(conversations)} conversations · {phrases} must-say phrases and {clauses} respected must-say clauses "
          f"in the clean agent text · {args.seeds} seeds per rate")
    print(f"{'corrupted':>10} {'matching':>12} {'phrase recall':>14} {'clause recall':>14}")
    for rate in args.rates:
        for name, engine in engines:
            kept_phrases = kept_clauses = 0
            for seed in range(args.seeds):
                rng = random.Random(seed)
                for conversation, saying, ok in clean:
                    noisy = corrupt(conversation, rate, rng, sounds)
                    heard, broken = judge(engine, noisy)
                    kept_phrases += len(saying & heard)
                    kept_clauses += len(ok & respected(saying, broken))
            print(f"{rate:>10.0%} {name:>12} {kept_phrases / (phrases * args.seeds):>14.3f} "
                  f"{kept_clauses / (clauses * args.seeds):>14.3f}")


if __name__ == "__main__":
    main()
