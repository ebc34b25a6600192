"""Start-up of `guifan check`: CPU time (user+sys) before the first conversation is checked.

    python3 bench/bench_startup.py            # 5 runs of each, the median
    python3 bench/bench_startup.py --runs 9

Each figure is a fresh process pinned to one core, in one run of this script:

* the interpreter alone (``python3 -c pass``), the floor;
* ``guifan check`` on a one-conversation file, CPU time when the engine starts on its first
  conversation (the process's own count, read in a hook on ``CheckContext``): imports, rulebook,
  phrase automata, meaning banks;
* the same whole process (the first conversation's meaning stage loads the sentence encoder;
  the report is written).

Python's bytecode is cached (in a folder of this run, ``PYTHONPYCACHEPREFIX``), as after ``pip
install``. (With ``PYTHONDONTWRITEBYTECODE=1`` over an editable install, as on the developers'
machines, every start compiles guifan's own modules from source again: about 0.1 s more.)

The issue's goal: at most 0.4 s before the first conversation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

CONVERSATION = {
    "id": "startup-1",
    "channel": "chat",
    "turns": [
        {"role": "customer", "text": "我的订单今天还在南宁,预计今天到的,能到吗"},
        {"role": "agent", "text": "您好,目前是还在送往站点的呢,亲爱的"},
        {"role": "customer", "text": "明天急着用,着急啊"},
        {"role": "agent", "text": "还请您稍加耐心等待一下哦,给您带来不便非常抱歉"},
        {"role": "customer", "text": "好吧,谢谢"},
        {"role": "agent", "text": "不客气,祝您生活愉快,再见"},
    ],
}

# Runs `guifan check` in this process as the command does (guifan.launch) after hooking
# CheckContext: the first context built writes the CPU time so far to the file named by the first
# argument.
HOOKED = """
import os, sys
from guifan import launch
launch.begin()
from guifan.engine import context
first, done, mark = context.CheckContext.__init__, [], sys.argv[1]
def hooked(self, *args, **kwargs):
    if not done:
        done.append(True)
        times = os.times()
        with open(mark, "w") as out:
            out.write(str(times.user + times.system))
    first(self, *args, **kwargs)
context.CheckContext.__init__ = hooked
sys.argv = ["guifan", *sys.argv[2:]]
launch.main()
"""


def cpu(command: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user+sys) of one child process pinned to one core."""
    core = min(os.sched_getaffinity(0))
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {core})
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvpe(command[0], command, env)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    data = work / "one.jsonl"
    data.write_text(json.dumps(CONVERSATION, ensure_ascii=False) + "\n", encoding="utf-8")
    mark = work / "first.txt"
    check = [sys.executable, "-c", HOOKED, str(mark), "check", str(data), "--format", "json",
             "-o", str(work / "out.json"), "--no-progress"]
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    # Once before measuring: the bytecode is written, and the caches of ~/.cache/guifan (the
    # rulebook, the bank vectors) exist from then on, as for every run after a first one.
    cpu(check, cached)

    floor, before, whole = [], [], []
    for _ in range(args.runs):
        floor.append(cpu([sys.executable, "-c", "pass"], cached))
        whole.append(cpu(check, cached))
        before.append(float(mark.read_text()))
    floor_s, before_s, whole_s = (statistics.median(x) for x in (floor, before, whole))
    print(f"guifan check start-up, one core, CPU time (median of {args.runs} runs):")
    print(f"  python3 -c pass                               {floor_s:.3f} s")
    print(f"  before the first conversation is checked      {before_s:.3f} s  ({before_s - floor_s:.3f} s beyond the interpreter)")
    print(f"  whole process, one conversation, JSON report  {whole_s:.3f} s  (the meaning stage's encoder loads for it)")
    print(f"  goal: <= 0.4 s before the first conversation: {'met' if before_s <= 0.4 else 'not met'}")


if __name__ == "__main__":
    main()
