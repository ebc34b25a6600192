"""Benchmark: `guifan check --jobs 1` against `--jobs 2`, whole processes, in one run.

    python bench/bench_jobs.py                 # 10,000 and 20,000 JDDC-like chats, JSON report
    python bench/bench_jobs.py -n 50000 --format jsonl
    python bench/bench_jobs.py -n 20000 --pairs 5   # paired runs: median and range of the ratio

Samples N and 2N chats from the JDDC sample of the shared corpus (bench/jddc.py: read where it is,
never copied) into temporary files and runs `guifan check FILE --format json -o OUT` on each as a
user would: `--jobs 1` pinned to one core, `--jobs 2` pinned to two. Prints for each run the wall
time (start-up, reading and report writing included), conversations per second, the CPU time of
the process and its workers (user+sys) and the peak resident memory of the largest of them.

Two speed-ups of two jobs over one, measured in the same run:
- whole process on N chats: what a user sees for a batch of that size;
- steady state: N divided by the extra wall time the second N chats take (2N run minus N run),
  which leaves out the fixed costs (start-up; the engine's caches filling: the sample holds 300
  sessions drawn again and again, and every worker computes each session's sentences once for
  itself), i.e. the rate of a big batch.
The figures are only meaningful with both cores free: the load average at the start is printed
beside them. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
    parser.add_argument("-n", type=int, default=10_000, help="conversations of the smaller run (default 10,000)")
    parser.add_argument("--format", default="json", choices=["json", "jsonl", "text", "html", "xlsx"])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSONL of chats to sample")
    parser.add_argument("--distinct", action="store_true", help="every turn's text unique: no cache helps")
    parser.add_argument("--config", type=Path, help="a rulebook override, e.g. semantic: {backend: off}")
    parser.add_argument("--pairs", type=int, default=0, metavar="K",
                        help="instead: K pairs of runs on N chats, --jobs 1 then --jobs 2, and the median and "
                             "range of their ratios (the machine's drift cancels out within a pair)")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs two CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    sizes = (args.n, 2 * args.n)
    for n in sizes:
        sample(args.corpus, n, work / f"load-{n}.jsonl", distinct=args.distinct)
    print(f"JDDC-like chats{', every text distinct' if args.distinct else ''} "
          f"({(work / f'load-{args.n}.jsonl').stat().st_size / 1e6:.1f} MB per {args.n}), "
          f"--format {args.format}{f', --config {args.config.name}' if args.config else ''}; load average at start {os.getloadavg()[0]:.2f} "
          "(meaningful only with both cores free)")
    def check(n: int, jobs: int) -> tuple[float, float, float, int]:
        out = work / f"out-{n}-{jobs}.{args.format}"
        command = ["guifan", "check", str(work / f"load-{n}.jsonl"), "--format", args.format, "-o", str(out),
                   "--jobs", str(jobs), "--no-progress", *(["--config", str(args.config)] if args.config else [])]
        return run(command, {cores[0]} if jobs == 1 else set(cores[:2]))

    if args.pairs:
        ratios = sorted(check(args.n, 1)[0] / check(args.n, 2)[0] for _ in range(args.pairs))
        print(f"speed-up of --jobs 2 over --jobs 1 on {args.n:,} chats, {args.pairs} pairs of runs: median "
              f"{statistics.median(ratios):.2f}x, range {ratios[0]:.2f}-{ratios[-1]:.2f}x")
        return
    walls: dict[tuple[int, int], float] = {}
    for n in sizes:
        for jobs in (1, 2):
            wall, cpu, rss, code = check(n, jobs)
            walls[n, jobs] = wall
            print(f"{n:>9,} chats, --jobs {jobs} on {jobs} core(s): {wall:7.2f} s wall = {n / wall:6,.0f} conv/s;"
                  f" CPU {cpu:7.2f} s; peak RSS {rss:4.0f} MB; exit {code}")
        if args.format != "xlsx":
            same = (work / f"out-{n}-1.{args.format}").read_bytes() == (work / f"out-{n}-2.{args.format}").read_bytes()
            print(f"{'':>9} reports of --jobs 1 and 2 {'identical' if same else 'DIFFER'}")
    small, big = sizes
    steady = {jobs: small / (walls[big, jobs] - walls[small, jobs]) for jobs in (1, 2)}
    print(f"speed-up of --jobs 2 over --jobs 1, whole process: {walls[small, 1] / walls[small, 2]:.2f}x at {small:,}, "
          f"{walls[big, 1] / walls[big, 2]:.2f}x at {big:,}; steady state: {steady[1]:,.0f} against "
          f"{steady[2]:,.0f} conv/s = {steady[2] / steady[1]:.2f}x")


if __name__ == "__main__":
    main()
