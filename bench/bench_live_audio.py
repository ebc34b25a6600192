"""Live audio's cost (not a test): CPU per second of streamed call audio, in process.

    python bench/bench_live_audio.py            # 3 synthesized calls, both speakers, 8 and 16 kHz

Streams synthesized two-speaker calls (tests/audio/synth.py: espeak-ng and sox) into live sessions
20 ms at a time, as a desktop sends them, without recognition (``words="none"``: voice activity,
partial turns twice a second, the engine's hints on each) and prints the CPU seconds (user+sys)
each second of call audio costs, so how many calls one core keeps up with. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "audio"))
import synth  # noqa: E402

from guifan.assist import LiveSession  # noqa: E402
from guifan.assist.audio import LiveAudio  # noqa: E402
from guifan.audio.signal import to_pcm16  # noqa: E402
from guifan.engine import Engine  # noqa: E402
from guifan.model import Channel, Conversation, Role  # noqa: E402

CALL = [
    synth.Utterance("agent", 0.5, "您好,很高兴为您服务,请问有什么可以帮您?"),
    synth.Utterance("customer", 4.5, "我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上"),
    synth.Utterance("agent", 10.5, "非常抱歉给您带来不便,请您提供一下订单号,我帮您查一下物流信息。"),
    synth.Utterance("customer", 17.0, "订单号是一二三四五六七八"),
    synth.Utterance("agent", 20.0, "好的,已经帮您催促配送站,预计明天上午送达,请问还有其他可以帮您的吗?"),
    synth.Utterance("customer", 27.0, "没有了,谢谢"),
    synth.Utterance("agent", 29.0, "感谢您的来电,祝您生活愉快,再见!"),
]


def stream(engine: Engine, path: Path, rate: int) -> tuple[float, float]:
    """One call streamed 20 ms at a time: (seconds of audio, CPU seconds)."""
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    pcm = {Role.AGENT: to_pcm16(data[:, 0]), Role.CUSTOMER: to_pcm16(data[:, 1])}
    session = LiveSession(engine, Conversation("bench", (), Channel.PHONE))
    audio = LiveAudio(session)
    audio.open("agent", rate, offset=0.0)
    audio.open("customer", rate, offset=0.0)
    step = int(rate * 0.02) * 2
    started = time.process_time()
    for at in range(0, len(pcm[Role.AGENT]), step):
        for role in (Role.AGENT, Role.CUSTOMER):
            audio.feed(role, pcm[role][at:at + step])
        session.tick()
    audio.close(Role.AGENT)
    audio.close(Role.CUSTOMER)
    return data.shape[0] / rate, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3, help="times each call is streamed")
    args = parser.parse_args()
    synth.require_tools()
    engine = Engine()
    print("rate    audio s  CPU s  CPU per audio s  calls one core keeps up with")
    with tempfile.TemporaryDirectory() as folder:
        for rate in (8000, 16000):
            path = Path(folder) / f"call{rate}.wav"
            synth.build_call(CALL, path, sample_rate=rate)
            stream(engine, path, rate)  # warm: the engine's first conversation
            seconds = cpu = 0.0
            for _ in range(args.calls):
                heard, spent = stream(engine, path, rate)
                seconds, cpu = seconds + heard, cpu + spent
            print(f"{rate:5d}  {seconds:8.1f}  {cpu:5.2f}  {cpu / seconds:15.4f}  {seconds / cpu:6.0f}")


if __name__ == "__main__":
    main()
