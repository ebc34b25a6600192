"""Benchmark: `guifan check --jobs 1` against `--jobs 2`, whole processes, in one run.

    python bench/bench_jobs.py                 # 10,000 JDDC-like chats, JSON report
    python bench/bench_jobs.py -n 20000 --format jsonl

Builds N conversations by sampling the JDDC chats of the shared corpus (../shared/corpus, read
where it is, never copied) with new ids, then runs `guifan check FILE --format json -o OUT` as a
user would: `--jobs 1` pinned to one core, `--jobs 2` pinned to two. Prints for each the wall time
(start-up, reading and report writing included), conversations per second, the CPU time of the
process and its workers (user+sys) and the peak resident memory of the largest of them; then the
speed-up of two jobs over one. The figure is only meaningful with both cores free: the load
average at the start is printed beside it. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.jddc import CORPUS, sample  # noqa: E402

def run(command: list[str], cores: set[int]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (the process and its workers), peak RSS in MB, exit code."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, cores)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="conversations (default 10,000)")
    parser.add_argument("--format", default="json", choices=["json", "jsonl", "text", "html", "xlsx"])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSONL of chats to sample")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs two CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    data = work / f"load-{args.n}.jsonl"
    sample(args.corpus, args.n, data)
    print(f"{args.n} JDDC-like chats ({data.stat().st_size / 1e6:.1f} MB), --format {args.format}; "
          f"load average at start {os.getloadavg()[0]:.2f} (meaningful only with both cores free)")
    figures = {}
    for jobs, pinned in ((1, {cores[0]}), (2, set(cores[:2]))):
        out = work / f"out-{jobs}.{args.format}"
        command = ["guifan", "check", str(data), "--format", args.format, "-o", str(out), "--jobs", str(jobs),
                   "--no-progress"]
        wall, cpu, rss, code = run(command, pinned)
        figures[jobs] = wall
        print(f"--jobs {jobs} on {len(pinned)} core(s): {wall:.2f} s wall = {args.n / wall:,.0f} conv/s; "
              f"CPU {cpu:.2f} s; peak RSS {rss:.0f} MB; exit {code}")
    same = (work / f"out-1.{args.format}").read_bytes() == (work / f"out-2.{args.format}").read_bytes()
    print(f"speed-up of --jobs 2 over --jobs 1: {figures[1] / figures[2]:.2f}x"
          + ("; reports identical" if same else "; reports differ" if args.format != "xlsx" else ""))


if __name__ == "__main__":
    main()
