"""Benchmark: conversations checked per second on one core, and check time / parse time.

    python bench/bench_check.py            # 10,000 conversations of ~20 turns
    python bench/bench_check.py -n 2000 --keep /tmp/bench.jsonl

Generates realistic phone and chat conversations (greetings, needs, holds with timings,
complaints, the odd forbidden phrase) into a JSONL file, pins this process to one core, then
times (1) parsing the file into Conversations with the real reader and (2) checking them with
the full default rulebook. Prints figures; asserts nothing (speed is measured, not tested).
Targets (issue "Core"): >= 2,000 conversations/s per core, check/parse ratio < 10.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

AGENT_OPENINGS = ["您好,安和电商,很高兴为您服务,请问有什么可以帮到您?", "您好,欢迎致电星河宽带客户服务热线,客服代表1024很高兴为您服务,请问有什么可以帮助您!", "亲,您好,有什么问题我可以帮您处理或解决呢?", "你好,请问有什么事?"]
CUSTOMER_ISSUES = ["我的快递三天了还没到,怎么回事?", "我买的杯子收到的时候碎了", "我想问一下退款什么时候到账", "你们发错货了,我买的是黑色的", "宽带又断了,上次反映过还没处理", "我想改一下收货地址", "发票怎么开?", "会员积分怎么用不了", "我要投诉,你们太慢了!", "这个手机能不能七天无理由退货"]
AGENT_MIDDLES = ["请您提供一下订单号好吗?", "好的,我帮您重复一下:您的订单号是[订单x],对吗?", "请您稍等,正在为您查询。", "感谢您的耐心等待,系统显示您的包裹已经到达站点。", "非常抱歉给您带来了不好的体验,我非常理解您现在的心情。", "我们会在24小时内核实、处理,并给您答复,请您保持电话畅通。", "虽然我们不能直接退款,但我们可以为您申请换货,您看是否可行?", "这个我不知道。", "你先听我说。", "您的意思是需要修改收货地址,对吗?", "退款会在三到五个工作日内原路返回。", "我已经为您提交了加急处理。"]
CUSTOMER_MIDDLES = ["[订单x]", "好的", "嗯嗯", "那要多久?", "可以的", "谢谢", "行吧,那你快点", "我手机号是13812345678", "不好意思,刚才没听清", "没问题"]
AGENT_CLOSINGS = ["请问还有其他可以帮您的吗?", "感谢您的来电,祝您生活愉快,再见!", "请问还有其他还可以帮到您的吗?", "感谢您对京东的支持,祝您生活愉快,再见!"]


def make_conversation(rng: random.Random, index: int, turns: int = 20) -> dict:
    phone = rng.random() < 0.5
    clock = 0.0
    out = []

    def say(role: str, text: str) -> None:
        nonlocal clock
        clock += rng.uniform(0.3, 1.5) if rng.random() > 0.05 else rng.uniform(6, 70)
        duration = max(0.6, len(text) / 4.5)
        out.append({"role": role, "text": text, "start": round(clock, 2), "end": round(clock + duration, 2)})
        clock += duration

    say("agent", rng.choice(AGENT_OPENINGS))
    say("customer", rng.choice(CUSTOMER_ISSUES))
    while len(out) < turns - 3:
        say("agent", rng.choice(AGENT_MIDDLES))
        say("customer", rng.choice(CUSTOMER_MIDDLES))
    for text in rng.sample(AGENT_CLOSINGS, 2):
        say("agent", text)
    say("customer", "没有了,谢谢")
    return {
        "id": f"bench-{index:06d}",
        "channel": "phone" if phone else "chat",
        "started_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00+08:00",
        "agent_id": str(rng.randint(1000, 1099)),
        "metadata": {"ring_seconds": rng.randint(2, 20)},
        "turns": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="conversations to generate (default 10,000)")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="write the generated JSONL here and keep it")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from guifan.engine import Engine
    from guifan.readers import read_paths
    from guifan.scoring import Checker

    rng = random.Random(args.seed)
    path = args.keep or Path(tempfile.mkstemp(suffix=".jsonl")[1])
    with path.open("w", encoding="utf-8") as fh:
        for i in range(args.n):
            fh.write(json.dumps(make_conversation(rng, i, args.turns), ensure_ascii=False) + "\n")

    started = time.perf_counter()
    checker = Checker(Engine())
    setup = time.perf_counter() - started

    started = time.perf_counter()
    conversations = list(read_paths([path]))
    parse = time.perf_counter() - started

    started = time.perf_counter()
    findings = sum(len(checker.check(c).findings) for c in conversations)
    check = time.perf_counter() - started
    if not args.keep:
        path.unlink()

    turns = sum(len(c.turns) for c in conversations)
    print(f"conversations            {len(conversations):,} ({turns:,} turns, {findings:,} findings)")
    print(f"engine setup             {setup:.2f} s (rulebook, {checker.engine.matcher.size:,} phrase keys, {len(checker.engine.rules)} rules)")
    print(f"parse                    {parse:.2f} s  ({len(conversations) / parse:,.0f} conversations/s)")
    print(f"check (engine + score)   {check:.2f} s  ({len(conversations) / check:,.0f} conversations/s on one core)")
    print(f"check / parse ratio      {check / parse:.2f}")


if __name__ == "__main__":
    main()
