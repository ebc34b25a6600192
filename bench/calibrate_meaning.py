"""How well each act's exemplar bank separates, held out one sentence at a time, and the logistic
curve the meaning stage fitted for it (the curves are fitted when the bank vectors are computed,
and cached with them).

    python bench/calibrate_meaning.py                  # the rulebook's encoder (use)
    python bench/calibrate_meaning.py --backend e5     # needs pip install 'guifan[e5]'
    python bench/calibrate_meaning.py --k 3

Each bank sentence is judged against its act's bank without itself: positives should come out as
the act, negatives (near misses and the shared neutral bank) not.
"""

from __future__ import annotations

import argparse

import numpy as np

from guifan.engine.meaning import MeaningModel
from guifan.rulebook import default_rulebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="use | e5 | ngram (default: the rulebook's)")
    parser.add_argument("--k", type=int, default=None)
    args = parser.parse_args()
    book = default_rulebook()
    update = {"backend": args.backend or book.semantic.backend, **({"k": args.k} if args.k else {})}
    model = MeaningModel(book.model_copy(update={"semantic": book.semantic.model_copy(update=update)}))
    print(f"encoder {model.encoder.name}, k = {model.k}")
    print(f"{'act':20} {'pos':>5} {'neg':>5} {'recall':>7} {'false':>7} {'AUC':>6} {'offset':>8} {'scale':>7}")
    for act in sorted(model.acts):
        margins, labels = model.held_out_margins(act)
        said = np.array([model.probability(act, m) >= 0.5 for m in margins])
        pos, neg = labels == 1, labels == 0
        # AUC: the chance that a positive's margin beats a negative's
        auc = (margins[pos][:, None] > margins[neg][None, :]).mean() if pos.any() and neg.any() else float("nan")
        offset, scale = model._curve(act)
        print(f"{act:20} {int(pos.sum()):5d} {int(neg.sum()):5d} {said[pos].mean():7.2f} {said[neg].mean():7.2f}"
              f" {auc:6.3f} {offset:8.4f} {scale:7.4f}")


if __name__ == "__main__":
    main()
