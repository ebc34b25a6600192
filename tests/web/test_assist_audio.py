"""Raw call audio over live assist's WebSocket (docs/assist.md, 实时音频): a synthesized call
streamed as binary messages, the hints and speaking states pushed back, and what is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import soundfile as sf

from guifan.audio.signal import to_pcm16

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audio"))
import synth  # noqa: E402

API = "/api/v1/assist"
CHUNK = 320  # bytes: 20 ms at 8 kHz


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    synth.fail_without_tools()
    path = tmp_path_factory.mktemp("ws") / "call.wav"
    truth = synth.build_call([
        synth.Utterance("agent", 0.5, "您好,很高兴为您服务"),
        synth.Utterance("customer", 2.5, "我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上"),
        synth.Utterance("agent", 4.5, "您提供一下订单号,我帮您查一下物流信息。"),
    ], path, sample_rate=8000, duration=10)
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    cut = int((truth[-1].end - 0.3) * 8000) * 2  # the call is ended while the agent still speaks
    return to_pcm16(data[:, 0])[:cut], to_pcm16(data[:, 1])[:cut]


def until(socket, kind: str) -> tuple[dict, list[dict]]:
    """Messages up to the first of ``kind``: that one, and those before it."""
    seen = []
    while True:
        message = socket.receive_json()
        if message["type"] == kind:
            return message, seen
        seen.append(message)


def test_a_call_streamed_as_pcm(app, people, call):
    agent_pcm, customer_pcm = call
    agent = people["agent1"]
    with agent.client.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "create", "channel": "phone"})
        sid = until(socket, "created")[0]["session_id"]
        streams = {}
        for role in ("agent", "customer"):
            socket.send_json({"type": "audio", "session_id": sid, "role": role, "rate": 8000, "offset": 0})
            opened = until(socket, "audio")[0]
            assert opened["words"] == "none" and opened["role"] == role and opened["offset"] == 0
            streams[role] = opened["stream"]
        assert sorted(streams.values()) == [0, 1]
        for at in range(0, len(agent_pcm), CHUNK):
            socket.send_bytes(bytes([streams["agent"]]) + agent_pcm[at:at + CHUNK])
            socket.send_bytes(bytes([streams["customer"]]) + customer_pcm[at:at + CHUNK])
        socket.send_json({"type": "ping"})
        _, pushed = until(socket, "pong")
        voices = [m for m in pushed if m["type"] == "voice"]
        hints = [m for m in pushed if m["type"] == "hints"]
        assert {m["reason"] for m in hints} == {"audio"}
        # Who is speaking, as it changes: the agent first, then both at once.
        assert voices[0]["state"]["agent"]["speaking"] is True
        assert any(v["state"]["agent"]["speaking"] and v["state"]["customer"]["speaking"] for v in voices)
        warned = next(m for m in hints if any(h["rule"] == "VOC004" for h in m["hints"]))
        assert warned["final"] is False
        # Ended while the agent still speaks (no audio_end): the open turn ends with the call.
        assert not [m for m in pushed if m["type"] == "hints" and m["final"] and m["turn"] == 2]
        socket.send_json({"type": "end", "session_id": sid})
        ended = until(socket, "ended")[0]
    result = ended["result"]
    assert "VOC004" in {f["rule"] for f in result["findings"]}
    turns = result["turns"]
    assert [t["role"] for t in turns] == ["agent", "customer", "agent"]
    assert [int(t["start"]) for t in turns] == [0, 2, 4] and all(t["text"] == "" for t in turns)


def test_bad_audio_is_refused_and_the_socket_goes_on(app, people):
    agent = people["agent1"]
    with agent.client.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "create", "channel": "chat"})
        chat = until(socket, "created")[0]["session_id"]
        socket.send_json({"type": "create", "channel": "phone"})
        phone = until(socket, "created")[0]["session_id"]
        for message, status in [
            ({"type": "audio", "session_id": chat, "role": "agent", "rate": 8000}, 422),  # not a call
            ({"type": "audio", "session_id": phone, "role": "agent", "rate": 44100}, 422),
            ({"type": "audio", "session_id": phone, "role": "agent", "rate": 8000, "words": "server"}, 422),
            ({"type": "audio", "session_id": "missing", "role": "agent", "rate": 8000}, 404),
        ]:
            socket.send_json(message)
            error = until(socket, "error")[0]
            assert error["status"] == status and any("\u4e00" <= c <= "\u9fff" for c in error["detail"]), error
        socket.send_bytes(bytes([7]) + b"\0\0")  # no such stream
        assert until(socket, "error")[0]["status"] == 422
        socket.send_json({"type": "audio", "session_id": phone, "role": "agent", "rate": 8000})
        stream = until(socket, "audio")[0]["stream"]
        socket.send_json({"type": "audio_end", "session_id": phone, "role": "agent"})
        assert until(socket, "audio_ended")[0]["role"] == "agent"
        socket.send_bytes(bytes([stream]) + b"\0")  # half a sample
        assert until(socket, "error")[0]["status"] == 422
        flood = bytes([stream]) + b"\0" * 60_000
        statuses = []
        for _ in range(30):  # 1.8 MB at once: far beyond twice real time
            socket.send_bytes(flood)
        socket.send_json({"type": "ping"})
        _, before = until(socket, "pong")
        statuses = [m["status"] for m in before if m["type"] == "error"]
        assert 429 in statuses
        socket.send_text(json.dumps({"type": "ping"}))
        assert until(socket, "pong")[0]["type"] == "pong"
