"""Benchmark: `guifan check --ray` on a Ray cluster of this machine, with 1 and then 2 worker nodes.

    python bench/bench_ray.py             # 20,000 JDDC-like chats
    python bench/bench_ray.py -n 5000

Samples N chats from the JDDC sample (../shared/corpus/jddc-sample.jsonl, new ids, as
shared/tools/measure-check.py does) into a temporary JSONL file, never into the project. Starts a
head node that runs no tasks (the driver's node, `--num-cpus 0`) and worker nodes of one CPU each,
added one at a time, and runs the whole job as a user runs it: `guifan check --ray ADDRESS
load.jsonl -f json -o OUT` (the nodes' worker processes start and build their engine, every span
is read on a node, the driver writes the report). Prints conversations per second of wall time
and the driver's CPU time for each cluster size, the ratio of the two measured in the same run,
and plain `guifan check --jobs 1` beside them, with the load average at the start (the ratio means
something only with the cores free), and the CPU time the whole machine used during each run (the
nodes' workers and Ray's own processes: what the cluster costs beyond the check). Asserts nothing.

The figures count the job's start-up: a node's worker processes belong to one job and build their
engine when it starts. On a machine with fewer free cores than worker nodes plus the driver the
nodes share cores, and the ratio says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.jddc import CORPUS, sample  # noqa: E402
from tests.ray_nodes import ENV, LocalCluster  # noqa: E402

def busy_seconds() -> float:
    """CPU seconds every process of this machine has used since boot (/proc/stat: all but idle)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    jiffies = [int(f) for f in fields[:8]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


def run(*args: str) -> tuple[float, float, float]:
    """Wall seconds and CPU seconds (user + sys) of one `guifan check` process (the driver), and
    the CPU seconds the whole machine used meanwhile (the nodes' workers and Ray's own processes)."""
    before, machine = resource.getrusage(resource.RUSAGE_CHILDREN), busy_seconds()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "guifan", "check", *args, "--no-progress"], env=ENV,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after, machine = resource.getrusage(resource.RUSAGE_CHILDREN), busy_seconds() - machine
    if done.returncode != 0:
        raise SystemExit(f"guifan check {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="conversations (default 20,000)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JDDC-like JSONL to sample from")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    data, out = work / "load.jsonl", work / "out.json"
    sample(args.corpus, args.n, data)
    size = data.stat().st_size / 1024 / 1024
    load = os.getloadavg()[0]
    print(f"{args.n} JDDC-like chats ({size:.1f} MB), {os.cpu_count()} CPUs on this machine, load average {load:.1f}")

    wall, cpu, machine = run(str(data), "-f", "json", "-o", str(out), "--jobs", "1")
    print(f"plain guifan check --jobs 1: {wall:.1f} s, {args.n / wall:,.0f} conv/s (CPU {cpu:.1f} s; machine {machine:.1f} s)")

    cluster = LocalCluster(head_cpus=0)
    figures = {}
    try:
        for workers in (1, 2):
            cluster.add_worker(cpus=1)
            wall, cpu, machine = run("--ray", cluster.address, str(data), "-f", "json", "-o", str(out))
            figures[workers] = args.n / wall
            print(f"--ray, {workers} worker node{'s' if workers > 1 else ''} of 1 CPU: {wall:.1f} s, "
                  f"{figures[workers]:,.0f} conv/s (driver CPU {cpu:.1f} s; machine {machine:.1f} s)")
    finally:
        cluster.stop()
    print(f"2 workers / 1 worker: {figures[2] / figures[1]:.2f}x")
    for path in (data, out):
        path.unlink(missing_ok=True)
    work.rmdir()


if __name__ == "__main__":
    main()
