"""Benchmark: peak memory of `guifan check` as the batch grows (issue 16, "Constant memory").

    python bench/bench_memory.py                          # 100,000 and 1,000,000 chats, JSON and JSONL
    python bench/bench_memory.py -n 20000 200000 --format jsonl
    python bench/bench_memory.py -n 3000 12000 --format jsonl --distinct   # text that never recurs

Samples the largest N JDDC-like chats once (bench/jddc.py) and runs, for each N and format,
`guifan check FILE --format F -o OUT --jobs 1` on the first N lines as a user would, pinned to one
core: one process holds the whole batch, the case that a report kept in memory would blow up.
Prints the peak resident memory, the CPU time and the rate; memory that stays flat from N to 10×N
is what the streaming reports promise. ``--distinct``: every turn's text unique, so that the
engine's caches by text fill to their bounds (the worst case of their memory). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_jobs import run  # noqa: E402
from bench.jddc import CORPUS, sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, nargs="+", default=[100_000, 1_000_000], help="batch sizes")
    parser.add_argument("--format", nargs="+", default=["json", "jsonl"], choices=["json", "jsonl", "xlsx", "html"])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--distinct", action="store_true", help="every turn's text unique: the caches fill up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        work = Path(folder)
        everything = work / "all.jsonl"
        sample(args.corpus, max(args.n), everything, distinct=args.distinct)
        print(f"JDDC-like chats{', every text distinct' if args.distinct else ''}, --jobs 1 on one core; load average at start {os.getloadavg()[0]:.2f}", flush=True)
        core = {min(os.sched_getaffinity(0))}
        for n in sorted(args.n):
            data = work / f"chats-{n}.jsonl"
            with everything.open("rb") as source, data.open("wb") as target:
                target.writelines(islice(source, n))
            for fmt in args.format:
                out = work / f"out-{n}.{fmt}"
                _, cpu, rss, code = run(["guifan", "check", str(data), "--format", fmt, "-o", str(out), "--jobs", "1"], core)
                print(f"  {n:>9,} chats, --format {fmt:5s}: peak RSS {rss:5.0f} MB; CPU {cpu:7.1f} s = "
                      f"{n / cpu:5.0f} conv/s; report {out.stat().st_size / 1e6:,.0f} MB; exit {code}", flush=True)
                out.unlink()
            data.unlink()


if __name__ == "__main__":
    main()
