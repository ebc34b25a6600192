"""Live assist under load (not a test): latency of turn and draft calls, timer lateness, memory.

    python bench/bench_assist.py                       # 1, 50 and 200 sessions, HTTP and WebSocket
    python bench/bench_assist.py --sessions 1 50 --seconds 20 --db postgresql://postgres@127.0.0.1:5432/guifan_bench

Starts ``guifan serve`` in a subprocess on a free port with a fresh database (SQLite in a temporary
folder by default) and a supervisor's API token, then, for each number of concurrent sessions and
each transport (HTTP: one POST per call; WebSocket: one socket per session), replays the example
conversations (examples/*.jsonl) as live sessions: every session sends its next turn after a think
time drawn uniformly from 2-4 s (a lively chat or call), and checks each agent turn as a draft
before sending it; the sessions are spread over a few client processes. Prints p50 and p99 of the turn and draft calls as the client sees them,
the engine's own cost (the same calls in process, no transport), the cost of a 200-turn session's
first and last turns (one session, no other load), how late the
timer hints arrive (the silent-call prompt 5 s after a phone greeting, on WebSocket), and the
server's resident memory per open session. Asserts nothing; targets: p99 <= 20 ms at 200
sessions, timers <= 1 s late.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from guifan.readers import read_path  # noqa: E402
from load_web import free_port, wait_until_up  # noqa: E402

PASSWORD = "bench-assist-password"
API = "/api/v1/assist"
STARTUP = 5.0  # seconds in which the sessions are created and connect: reported apart
THINK = (2.0, 4.0)  # seconds between a session's messages: a lively chat or call (real chats are slower)


def scripts() -> list[list[tuple[str, str]]]:
    """The example conversations' turns (role, text), each a session's script."""
    found = []
    for name in ("chat_sessions.jsonl", "phone_calls.jsonl"):
        for conversation in read_path(ROOT / "examples" / name):
            turns = [(t.role.value, t.text) for t in conversation.turns if t.role.value in ("agent", "customer")]
            if turns:
                found.append(turns)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, db: str | None):
        self.folder = tempfile.mkdtemp()
        self.db = db or f"sqlite:///{self.folder}/bench.db"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        env = {**os.environ, "GUIFAN_PASSWORD": PASSWORD, "GUIFAN_SECRET": "bench"}
        subprocess.run([sys.executable, "-m", "guifan", "user", "add", "boss", "--role", "supervisor", "--db", self.db],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        self.log = Path(self.folder) / "server.log"
        self.process = subprocess.Popen([sys.executable, "-m", "guifan", "serve", "--db", self.db, "--port",
                                         str(self.port)], env=env, stderr=self.log.open("w"))
        wait_until_up(self.base, 600)
        with httpx.Client(base_url=self.base) as client:
            login = client.post("/api/v1/auth/login", json={"username": "boss", "password": PASSWORD}).json()
            token = client.post("/api/v1/tokens", json={"name": "bench"}, headers={"X-CSRF-Token": login["csrf"]})
            self.token = token.json()["token"]
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


# -- HTTP -------------------------------------------------------------------------------------------


def agent_code() -> str:
    """A fresh agent code per session (an agent may have 20 sessions open)."""
    agent_code.count += 1
    return f"B{agent_code.count}"


agent_code.count = 0


class Http:
    """Live assist over HTTP: one POST per call."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def create(self) -> str | None:
        created = await self.client.post(f"{API}/sessions", json={"channel": "chat", "agent_id": agent_code()})
        return created.json()["session_id"] if created.status_code == 200 else None

    async def draft(self, sid: str, text: str) -> str | None:
        response = await self.client.post(f"{API}/sessions/{sid}/draft", json={"text": text})
        return None if response.status_code == 200 else response.text

    async def turn(self, sid: str, role: str, text: str) -> str | None:
        response = await self.client.post(f"{API}/sessions/{sid}/turns", json={"role": role, "text": text})
        return None if response.status_code == 200 else response.text


class Socket:
    """Live assist over one WebSocket: answers matched to calls by request id, timer pushes queued."""

    def __init__(self, connection):
        self.connection = connection
        self.waiting: dict[int, asyncio.Future] = {}
        self.pushed: asyncio.Queue = asyncio.Queue()
        self.counter = 0

    async def reader(self) -> None:
        async for raw in self.connection:
            message = json.loads(raw)
            future = self.waiting.pop(message.get("request_id"), None)
            if future is not None:
                future.set_result(message)
            elif message.get("reason") == "timer":
                await self.pushed.put((time.monotonic(), message))

    async def call(self, message: dict) -> dict:
        self.counter += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.counter] = future
        await self.connection.send(json.dumps({**message, "request_id": self.counter}, ensure_ascii=False))
        return await future

    async def create(self, channel: str = "chat") -> str | None:
        created = await self.call({"type": "create", "channel": channel, "agent_id": agent_code()})
        return created.get("session_id") if created.get("type") == "created" else None

    async def draft(self, sid: str, text: str) -> str | None:
        answer = await self.call({"type": "draft", "session_id": sid, "text": text})
        return str(answer) if answer.get("type") == "error" else None

    async def turn(self, sid: str, role: str, text: str) -> str | None:
        answer = await self.call({"type": "turn", "session_id": sid, "role": role, "text": text})
        return str(answer) if answer.get("type") == "error" else None


async def ws_connect(server) -> tuple[Socket, asyncio.Task]:
    connection = await websockets.connect(f"ws://127.0.0.1:{server.port}{API}/ws", max_size=2**22)
    await connection.send(json.dumps({"type": "auth", "token": server.token}))
    json.loads(await connection.recv())
    sock = Socket(connection)
    return sock, asyncio.create_task(sock.reader())


async def replay(transport, script: list[tuple[str, str]], deadline: float, turns: list, drafts: list,
                 errors: list[str], steady: float) -> None:
    """One session until ``deadline``: each agent turn checked as a draft, then sent; every call timed
    (with whether it fell in the last ``steady`` seconds, after all sessions had started)."""
    try:
        sid = await transport.create()
        if sid is None:
            errors.append("session not created")
            return
        n = 0
        while time.monotonic() < deadline:
            role, text = script[n % len(script)]
            n += 1
            await asyncio.sleep(random.uniform(*THINK))
            for kind, times in ([("draft", drafts)] if role == "agent" else []) + [("turn", turns)]:
                started = time.perf_counter()
                error = await (transport.draft(sid, text) if kind == "draft" else transport.turn(sid, role, text))
                times.append((time.perf_counter() - started, time.monotonic() > deadline - steady))
                if error:
                    errors.append(error)
    except (httpx.HTTPError, OSError, websockets.WebSocketException, asyncio.TimeoutError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    # Not ended: ending runs the full check (meaning stage included) and is not what is measured here.


async def run_http(server, sessions: int, seconds: float) -> dict:
    turns: list[float] = []
    drafts: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=sessions + 5, max_keepalive_connections=sessions + 5)
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {server.token}"},
                                 limits=limits, timeout=60) as client:
        deadline = time.monotonic() + seconds
        all_scripts = scripts()
        await asyncio.gather(*(replay(Http(client), all_scripts[i % len(all_scripts)], deadline, turns, drafts, errors,
                                      seconds - STARTUP) for i in range(sessions)))
    return {"turns": turns, "drafts": drafts, "errors": errors}


async def run_ws(server, sessions: int, seconds: float) -> dict:
    turns: list[float] = []
    drafts: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    all_scripts = scripts()

    async def one(script: list[tuple[str, str]]) -> None:
        try:
            sock, reader = await ws_connect(server)
        except (OSError, websockets.WebSocketException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        try:
            await replay(sock, script, deadline, turns, drafts, errors, seconds - STARTUP)
        finally:
            reader.cancel()
            await sock.connection.close()

    await asyncio.gather(*(one(all_scripts[i % len(all_scripts)]) for i in range(sessions)))
    return {"turns": turns, "drafts": drafts, "errors": errors}


async def timer_lateness(server: Server, sessions: int) -> list[float]:
    """Phone sessions that greet and then hear nothing: the silent-call prompt is due 5 s later."""

    async def one() -> float | None:
        sock, reader = await ws_connect(server)
        try:
            sid = await sock.create("phone")
            await sock.turn(sid, "agent", "您好!请问有什么可以帮助您?")
            said = time.monotonic()
            arrived, _ = await asyncio.wait_for(sock.pushed.get(), 30)
            return arrived - said - 5.0
        except asyncio.TimeoutError:
            return None
        finally:
            reader.cancel()
            await sock.connection.close()

    found = await asyncio.gather(*(one() for _ in range(sessions)))
    return [x for x in found if x is not None]


def engine_only(sessions: int = 200, rounds: int = 20) -> tuple[list[float], list[float]]:
    """The same calls on ``LiveSession`` in this process: what the engine itself costs."""
    from guifan.assist import LiveSession
    from guifan.engine import Engine
    from guifan.model import Channel, Conversation

    engine = Engine()
    all_scripts = scripts()
    live = [LiveSession(engine, Conversation(f"e{n}", (), Channel.CHAT)) for n in range(sessions)]
    turns, drafts = [], []
    for step in range(rounds):
        for n, session in enumerate(live):
            role, text = all_scripts[n % len(all_scripts)][step % len(all_scripts[n % len(all_scripts)])]
            if role == "agent":
                started = time.perf_counter()
                session.draft(text)
                drafts.append(time.perf_counter() - started)
            started = time.perf_counter()
            session.add(role, text)
            turns.append(time.perf_counter() - started)
    return turns, drafts


async def long_session(server: Server, length: int = 200) -> list[float]:
    """One session of ``length`` turns, nothing else running: each turn call's latency by turn."""
    all_turns = [t for script in scripts() for t in script]
    latencies = []
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {server.token}"}) as client:
        sid = (await client.post(f"{API}/sessions", json={"channel": "phone", "agent_id": agent_code()})).json()["session_id"]
        for role, text in all_turns[:length]:
            started = time.perf_counter()
            await client.post(f"{API}/sessions/{sid}/turns", json={"role": role, "text": text})
            latencies.append(time.perf_counter() - started)
    return latencies


async def memory_per_session(server: Server, sessions: int = 200, turns: int = 40) -> float:
    all_turns = [t for script in scripts() for t in script]
    before = rss_kb(server.process.pid)
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {server.token}"},
                                 timeout=60) as client:
        for n in range(sessions):
            sid = (await client.post(f"{API}/sessions", json={"channel": "chat", "agent_id": agent_code()})).json().get("session_id")
            if sid is None:
                break
            for role, text in all_turns[n % 50: n % 50 + turns]:
                await client.post(f"{API}/sessions/{sid}/turns", json={"role": role, "text": text})
    await asyncio.sleep(2)
    return (rss_kb(server.process.pid) - before) / sessions


def _worker(kind: str, base: str, port: int, token: str, sessions: int, seconds: float, first_code: int,
            queue) -> None:
    agent_code.count = first_code
    server = SimpleNamespace(base=base, port=port, token=token)
    try:
        queue.put(asyncio.run((run_http if kind == "http" else run_ws)(server, sessions, seconds)))
    except BaseException as exc:  # the parent waits for every worker's answer
        queue.put({"turns": [], "drafts": [], "errors": [f"client process failed: {exc!r}"]})


async def load(server: Server, kind: str, sessions: int, seconds: float, processes: int) -> dict:
    """``sessions`` sessions spread over client processes (one Python client alone would be slower
    than the server it measures)."""
    count = max(1, min(processes, sessions))
    shares = [sessions // count + (1 if n < sessions % count else 0) for n in range(count)]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=(kind, server.base, server.port, server.token, share, seconds,
                                                      (n + 1) * 100_000 + agent_code.count, queue))
               for n, share in enumerate(shares)]
    agent_code.count += 1000
    for worker in workers:
        worker.start()
    results = [await asyncio.to_thread(queue.get) for _ in workers]
    for worker in workers:
        worker.join()
    return {key: [x for r in results for x in r[key]] for key in ("turns", "drafts", "errors")}


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:7.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--seconds", type=float, default=30, help="how long each load runs")
    parser.add_argument("--transports", nargs="+", choices=["http", "ws"], default=["http", "ws"])
    parser.add_argument("--quick", action="store_true", help="only the loads (no long session, timers, memory)")
    parser.add_argument("--clients", type=int, default=4, help="client processes sharing the sessions")
    args = parser.parse_args()
    random.seed(13)
    with Server(args.db) as server:
        print(f"guifan serve (pid {server.process.pid}) on {server.db.split(':')[0]}; "
              f"think time {THINK[0]}-{THINK[1]} s per message and session; {args.clients} client processes; "
              f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        if not args.quick:
            turns, drafts = engine_only()
            print(f"engine only, 200 sessions x 20 turns in process: turn p50 {ms(turns, 0.5).strip()} ms, "
                  f"p99 {ms(turns, 0.99).strip()} ms; draft p50 {ms(drafts, 0.5).strip()} ms, p99 {ms(drafts, 0.99).strip()} ms")
            lengths = await long_session(server)
            first, last = statistics.median(lengths[:10]), statistics.median(lengths[-10:])
            print(f"200-turn session, turn call: first 10 median {first * 1000:.1f} ms, "
                  f"last 10 median {last * 1000:.1f} ms")
        print()
        print(f"calls: all, or steady (after the first {STARTUP:g} s, when every session has started)")
        print("transport  sessions  calls    count  turn p50  turn p99  draft p50  draft p99  errors")
        for transport, kind in (("HTTP", "http"), ("WebSocket", "ws")):
            if kind not in args.transports:
                continue
            for sessions in args.sessions:
                result = await load(server, kind, sessions, args.seconds, args.clients)
                for label, keep in (("all", lambda x: True), ("steady", lambda x: x[1])):
                    turns = [t for t, *rest in result["turns"] if keep((t, *rest))]
                    drafts = [d for d, *rest in result["drafts"] if keep((d, *rest))]
                    print(f"{transport:9}  {sessions:8}  {label:6}  {len(turns) + len(drafts):6}  {ms(turns, 0.5)}  "
                          f"{ms(turns, 0.99)}   {ms(drafts, 0.5)}   {ms(drafts, 0.99)}  {len(result['errors']):6}")
                if result["errors"]:
                    print("   first error:", result["errors"][0][:200], "(server log:", server.log, ")")
        if args.quick:
            return
        late = await timer_lateness(server, max(args.sessions))
        if late:
            print(f"\ntimer hints ({len(late)} sessions at once): late by p50 {statistics.median(late) * 1000:.0f} ms, "
                  f"max {max(late) * 1000:.0f} ms")
        per = await memory_per_session(server)
        print(f"memory per open session (40 turns each, server RSS growth over 200 sessions): {per:.0f} KB")


if __name__ == "__main__":
    asyncio.run(main())
