"""Live assist's API (docs/assist.md): REST under ``/api/v1/assist`` and the WebSocket
``/api/v1/assist/ws`` carrying the same messages both ways, plus the hints timers push.

Every call is authenticated as the rest of the workspace (session cookie with CSRF, or API token);
who may see and work in a session is decided in ``guifan.web.assist.service`` (404 outside the
caller's scope). Errors are Chinese: ``{"detail": "…"}`` (REST) or ``{"type": "error", "status",
"detail"}`` (WebSocket, which goes on).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Annotated, Any, Callable, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from guifan.assist import AssistError
from guifan.assist.audio import WORDS
from guifan.assist.live import MAX_TEXT
from guifan.audio.stream import RATES
from guifan.model import Role
from guifan.web.app import check_csrf, current_user
from guifan.web.assist.service import Live, LiveSessions
from guifan.web.models import User
from guifan.web.security import SESSION_COOKIE, Permission, allowed
from guifan.web.validation import Text, chinese_message

router = APIRouter(prefix="/assist", tags=["assist"])
log = logging.getLogger(__name__)
SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
HintId = Annotated[str, Path(min_length=1, max_length=120)]
MAX_METADATA = 64 * 1024  # bytes of JSON
MAX_MESSAGE = 64 * 1024  # characters of one WebSocket message
AUTH_SECONDS = 10.0
OUTBOX = 1000  # messages waiting for a slow socket before it is closed
STRIKES = 100  # refused messages (floods) before a socket is closed
MAX_STREAMS = 256  # audio streams of one socket (a binary message names its stream in one byte)


def live_sessions(request: Request) -> LiveSessions:
    return request.app.state.assist


def answering(call: Callable[[], Any]) -> Any:
    """``call()``, with live assist's refusals as HTTP errors."""
    try:
        return call()
    except AssistError as exc:
        raise HTTPException(exc.status, exc.message) from None


TOKEN_SECONDS = 1.0  # an API token's user is looked up again after this long (revocation takes effect)
STALE_SECONDS = 5.0  # while one call looks it up again, the others go on with what it was, this long at most


async def assist_user(request: Request) -> User:
    """The caller, authenticated as by every endpoint of the workspace (``current_user``, then
    ``check_csrf``): the database is asked in one worker thread, the rest runs on the event loop,
    which also serves the sessions in memory (a turn costs about a millisecond of the engine). An
    integration's API token is looked up at most once a second (it sends many calls a second)."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    known = live_sessions(request).tokens
    if token is not None:
        cached = known.get(token)
        if cached is not None:
            looked_at, user, refreshing = cached
            age = time.monotonic() - looked_at
            # One call looks the token up again; the others meanwhile go on (no stampede on the database).
            if age < TOKEN_SECONDS or (refreshing and age < STALE_SECONDS):
                request.state.via_token = True
                return user
            known[token] = (looked_at, user, True)

    def authenticate() -> User | None:
        with request.app.state.workspace.sessions() as db:
            return current_user(request, db)

    try:
        user = await run_in_threadpool(authenticate)
    except HTTPException:
        known.pop(token, None)  # revoked: every call now learns so
        raise
    if token is not None and user is not None and allowed(user.role, Permission.VIEW):
        if len(known) > 10_000:
            known.clear()
        known[token] = (time.monotonic(), user, False)
    if user is None:
        raise HTTPException(401, "请先登录")
    if not allowed(user.role, Permission.VIEW):
        raise HTTPException(403, "没有权限")
    await check_csrf(request, user)
    return user


Viewer = Annotated[User, Depends(assist_user)]


async def served(request: Request, session_id: str | None, call: Callable[[], Any]) -> JSONResponse:
    """``call()`` on the event loop when it touches only a session in memory, else (the database:
    creating, ending, an ended or resumed session) in a worker thread. The answer is plain JSON
    already, sent as it is."""
    if session_id is not None and session_id in live_sessions(request).open:
        return JSONResponse(answering(call))
    return JSONResponse(await run_in_threadpool(answering, call))


# -- request bodies -------------------------------------------------------------------------------

Seconds = Annotated[float, Field(ge=0, le=10_000_000, allow_inf_nan=False)]


class SessionIn(BaseModel):
    channel: Literal["chat", "phone"]
    agent_id: Text | None = Field(default=None, max_length=64, description="坐席工号;坐席本人创建时可省略")
    metadata: dict[str, Any] = Field(default_factory=dict, description="与导入格式相同的元数据 (ring_seconds, ticket …)")
    started_at: datetime | None = None
    id: Text | None = Field(default=None, min_length=1, max_length=200, description="存入工作台时的对话编号")
    stamp_times: bool = True

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(value, ensure_ascii=False)
        if len(text.encode()) > MAX_METADATA:
            raise ValueError(f"元数据最多 {MAX_METADATA // 1024} KB")
        if "\x00" in text or "\\u0000" in text:
            raise ValueError("不能包含 NUL 字符 (\\x00)")
        return value


class TurnIn(BaseModel):
    role: Literal["agent", "customer", "system"]
    text: Text = Field(max_length=MAX_TEXT)
    start: Seconds | None = None
    end: Seconds | None = None
    final: bool = True


class FunAsrIn(BaseModel):
    role: Literal["agent", "customer"]
    message: dict[str, Any] = Field(description="FunASR WebSocket 服务端消息 (2pass-online / 2pass-offline)")


class DraftIn(BaseModel):
    text: Text = Field(max_length=MAX_TEXT)


class AudioIn(BaseModel):
    """Opens a speaker's raw audio stream on the WebSocket (its PCM follows as binary messages)."""

    role: Literal["agent", "customer"]
    rate: Literal[RATES] = Field(description="采样率 (Hz),16 位小端 PCM 单声道")  # type: ignore[valid-type]
    words: Literal[WORDS] | None = Field(default=None, description="文字从哪来: server / client / none")  # type: ignore[valid-type]
    offset: Seconds | None = Field(default=None, description="第一个采样在通话时钟上的秒数;默认现在")


# -- REST -----------------------------------------------------------------------------------------


def create(sessions: LiveSessions, user: User, body: SessionIn) -> dict[str, Any]:
    dated = body.started_at is not None or "started_at" not in body.model_fields_set  # null: no date
    live = sessions.create(user, body.channel, body.agent_id, body.metadata, body.started_at, body.id,
                           body.stamp_times, dated)
    return {**live.summary(), "hints": live.session.hints()}


@router.post("/sessions")
async def create_session(body: SessionIn, request: Request, user: Viewer) -> dict:
    """Start a live session (agents for themselves; supervisors and admins for any agent code)."""
    return await served(request, None, lambda: create(live_sessions(request), user, body))


@router.get("/sessions")
async def list_sessions(request: Request, user: Viewer, status: Literal["open", "ended", "all"] = "open",
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """The sessions the caller may see, newest activity first, with their alerts (the live board)."""
    return await run_in_threadpool(live_sessions(request).visible, user, status, limit)


def visible_session(request: Request, db, user: User, session_id: str) -> Live:
    """The session if the user may see it, else 404 (for the pages, which take a database session)."""
    return answering(lambda: live_sessions(request).find(user, session_id))


def state(live: Live) -> dict[str, Any]:
    with live.lock:
        return live.state()


@router.get("/sessions/{session_id}")
async def get_session(session_id: SessionId, request: Request, user: Viewer) -> dict:
    return await served(request, session_id, lambda: state(live_sessions(request).find(user, session_id)))


def post_turn(sessions: LiveSessions, user: User, session_id: str, body: TurnIn) -> dict[str, Any]:
    live = sessions.find(user, session_id, write=True)
    return sessions.turn(user, live, lambda s: s.add(body.role, body.text, body.start, body.end, body.final)).to_dict()


@router.post("/sessions/{session_id}/turns")
async def add_turn(session_id: SessionId, body: TurnIn, request: Request, user: Viewer) -> dict:
    """A turn, or a streaming partial (``final: false``); answers the hints due now."""
    return await served(request, session_id, lambda: post_turn(live_sessions(request), user, session_id, body))


def post_funasr(sessions: LiveSessions, user: User, session_id: str, body: FunAsrIn) -> dict[str, Any]:
    live = sessions.find(user, session_id, write=True)
    return sessions.turn(user, live, lambda s: s.funasr(body.role, body.message)).to_dict()


@router.post("/sessions/{session_id}/funasr")
async def add_funasr(session_id: SessionId, body: FunAsrIn, request: Request, user: Viewer) -> dict:
    """A message of FunASR's WebSocket server (2pass) for the speaker's stream."""
    return await served(request, session_id, lambda: post_funasr(live_sessions(request), user, session_id, body))


def post_draft(sessions: LiveSessions, user: User, session_id: str, text: str) -> dict[str, Any]:
    return sessions.draft(user, sessions.find(user, session_id, write=True), text)


@router.post("/sessions/{session_id}/draft")
async def check_draft(session_id: SessionId, body: DraftIn, request: Request, user: Viewer) -> dict:
    """The check before sending: findings with the words' span and, where one exists, the draft
    with them replaced by the standard wording."""
    return await served(request, session_id, lambda: post_draft(live_sessions(request), user, session_id, body.text))


def post_dismiss(sessions: LiveSessions, user: User, session_id: str, hint_id: str) -> dict[str, Any]:
    live = sessions.find(user, session_id, write=True)
    update = sessions.turn(user, live, lambda s: s.dismiss(hint_id))
    return {"dismissed": hint_id, **update.to_dict()}


@router.post("/sessions/{session_id}/hints/{hint_id}/dismiss")
async def dismiss_hint(session_id: SessionId, hint_id: HintId, request: Request, user: Viewer) -> dict:
    """The hint never comes back in this session; the dismissal is recorded (calibration data)."""
    return await served(request, session_id, lambda: post_dismiss(live_sessions(request), user, session_id, hint_id))


def finish(sessions: LiveSessions, user: User, session_id: str) -> dict[str, Any]:
    live = sessions.find(user, session_id)
    if live.ended:
        return live.ended
    live = sessions.find(user, session_id, write=True)
    return sessions.end(live, "end", user)


@router.post("/sessions/{session_id}/end")
async def end_session(session_id: SessionId, request: Request, user: Viewer) -> dict:
    """Store the finished conversation in the workspace as an import would (marked live) and
    answer its QA result, as ``guifan check --format json`` gives it."""
    return await served(request, None, lambda: finish(live_sessions(request), user, session_id))


# -- WebSocket ------------------------------------------------------------------------------------


class Socket:
    """One WebSocket: its user, the sessions attached, and an outbox any thread may fill."""

    def __init__(self, websocket: WebSocket, user: User, loop: asyncio.AbstractEventLoop):
        self.websocket, self.user, self.loop = websocket, user, loop
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.attached: set[Live] = set()
        self.closed = False
        # Audio streams opened on this socket: a binary message's first byte is its index here.
        self.streams: list[tuple[Live, Role]] = []

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(message)
        else:
            self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: dict[str, Any]) -> None:
        if self.outbox.qsize() >= OUTBOX:  # a client that does not read: let it go
            self.closed = True
            self.outbox.put_nowait(None)
            return
        self.outbox.put_nowait(message)

    async def pump(self) -> None:
        while True:
            message = await self.outbox.get()
            if message is None:
                await self.websocket.close(code=1008)
                return
            try:
                text = json.dumps(message, ensure_ascii=False)
            except (TypeError, ValueError):  # a message that cannot be sent must not stop the others
                log.exception("live assist: unsendable message of type %s", message.get("type"))
                continue
            await self.websocket.send_text(text)


def _same_origin(websocket: WebSocket) -> bool:
    """A browser's socket from the workspace's own pages (cross-site pages cannot use the cookie)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def _authenticate(websocket: WebSocket) -> User | None:
    """The caller: an API token (header, or the first message), or the session cookie of a page of
    the workspace. None (and the socket closed) otherwise."""
    workspace = websocket.app.state.workspace

    def by_token(token: str) -> User | None:
        with workspace.sessions() as db:
            user = workspace.user_for_token(db, token)
            db.commit()
            return user

    def by_cookie(cookie: str) -> User | None:
        with workspace.sessions() as db:
            found = websocket.app.state.sessions.find(db, cookie)
            return found[0] if found else None

    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await run_in_threadpool(by_token, header[7:].strip())
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if cookie and _same_origin(websocket):
        user = await run_in_threadpool(by_cookie, cookie)
        if user is not None:
            return user
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_SECONDS)
        message = json.loads(first)
    except (asyncio.TimeoutError, ValueError):
        message = None
    if isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("token"), str):
        user = await run_in_threadpool(by_token, message["token"][:200])
        if user is not None:
            await websocket.send_text(json.dumps({"type": "auth", "ok": True, "user": _user(user),
                                                  "request_id": message.get("request_id")}, ensure_ascii=False))
            return user
    await websocket.send_text(json.dumps({"type": "error", "status": 401, "detail": "请先登录或提供有效的 API 令牌"},
                                         ensure_ascii=False))
    await websocket.close(code=4401 if cookie is None or _same_origin(websocket) else 4403)
    return None


def _user(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role, "agent_code": user.agent_code}


@router.websocket("/ws")
async def assist_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    user = await _authenticate(websocket)
    if user is None:
        return
    sessions: LiveSessions = websocket.app.state.assist
    socket = Socket(websocket, user, asyncio.get_running_loop())
    pump = asyncio.create_task(socket.pump())
    strikes = 0
    try:
        while not socket.closed:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                break
            if received.get("bytes") is not None:
                reply = await _handle_audio(sessions, socket, received["bytes"])
            else:
                reply = await _handle(sessions, socket, received.get("text") or "")
            if reply is not None:
                if reply.get("type") == "error" and reply.get("status") == 429:
                    strikes += 1
                    if strikes > STRIKES:
                        break
                socket.send(reply)
    except WebSocketDisconnect:
        pass
    finally:
        socket.closed = True
        for live in list(socket.attached):
            live.sockets.discard(socket)
        sessions.watchers.discard(socket)
        pump.cancel()
        try:
            await websocket.close()
        except RuntimeError:
            pass


def _error(status: int, detail: str, request_id: Any = None) -> dict[str, Any]:
    return {"type": "error", "status": status, "detail": detail, "request_id": request_id}


async def _handle(sessions: LiveSessions, socket: Socket, raw: str) -> dict[str, Any] | None:
    """One client message; the answer (or None when the answer went through the session's push)."""
    if len(raw) > MAX_MESSAGE:
        return _error(413, f"消息过大(最多 {MAX_MESSAGE} 个字符)")
    try:
        message = json.loads(raw)
    except ValueError:
        return _error(422, "请求体: 不是有效的 JSON")
    if not isinstance(message, dict):
        return _error(422, "请求体: 应为 JSON 对象")
    request_id = message.get("request_id")
    if not isinstance(request_id, (str, int, float, type(None))) or (isinstance(request_id, str) and len(request_id) > 100):
        request_id = None
    kind = message.get("type")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        return _error(422, f"字段 type: 应为 {'、'.join(HANDLERS)} 之一", request_id)
    try:
        if kind in LIGHT and (kind == "ping" or message.get("session_id") in sessions.open):
            reply = handler(sessions, socket, message)  # a session in memory: on the event loop
        else:
            reply = await run_in_threadpool(handler, sessions, socket, message)
    except AssistError as exc:
        return _error(exc.status, exc.message, request_id)
    except ValidationError as exc:
        detail = ";".join(chinese_message({**e, "loc": ("body", *e["loc"])}) for e in exc.errors())
        return _error(422, detail, request_id)
    if reply is not None:
        reply["request_id"] = request_id
    return reply


async def _handle_audio(sessions: LiveSessions, socket: Socket, data: bytes) -> dict[str, Any] | None:
    """A binary message: one byte naming the stream (the ``stream`` of the ``audio`` answer), then
    16-bit little-endian PCM. Nothing is answered; hints and voice states are pushed."""
    if not data or data[0] >= len(socket.streams):
        return _error(422, "音频消息的第一个字节应为 audio 消息返回的 stream 编号")
    live, role = socket.streams[data[0]]
    try:
        await run_in_threadpool(sessions.audio, socket.user, live, role, bytes(data[1:]))
    except AssistError as exc:
        return {**_error(exc.status, exc.message), "session_id": live.id, "stream": data[0]}
    return None


def _session_id(message: dict[str, Any]) -> str:
    sid = message.get("session_id")
    if not isinstance(sid, str) or not 0 < len(sid) <= 64:
        raise AssistError(422, "字段 session_id: 必填")
    return sid


def _attach(socket: Socket, live: Live) -> None:
    live.sockets.add(socket)
    socket.attached.add(live)


def ws_create(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    body = SessionIn.model_validate({k: v for k, v in message.items() if k not in ("type", "request_id")})
    answer = create(sessions, socket.user, body)
    _attach(socket, sessions.find(socket.user, answer["session_id"]))
    return {"type": "created", **answer}


def ws_attach(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    live = sessions.find(socket.user, _session_id(message))
    if not live.ended:
        _attach(socket, live)
    return {"type": "state", **state(live)}


def ws_detach(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    sid = _session_id(message)
    for live in [s for s in socket.attached if s.id == sid]:
        live.sockets.discard(socket)
        socket.attached.discard(live)
    return {"type": "detached", "session_id": sid}


def _changed(sessions: LiveSessions, socket: Socket, message: dict, call: Callable, reason: str = "turn") -> dict:
    """A change to the session: the answer to this socket, the same hints pushed to the others attached."""
    live = sessions.find(socket.user, _session_id(message), write=True)
    _attach(socket, live)
    update = sessions.turn(socket.user, live, call, skip=socket)
    return {"type": "hints", "session_id": live.id, **update.to_dict(), "reason": reason}


def ws_turn(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    body = TurnIn.model_validate({k: message[k] for k in ("role", "text", "start", "end", "final") if k in message})
    return _changed(sessions, socket, message, lambda s: s.add(body.role, body.text, body.start, body.end, body.final))


def ws_funasr(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    body = FunAsrIn.model_validate({"role": message.get("role"), "message": message.get("message")})
    return _changed(sessions, socket, message, lambda s: s.funasr(body.role, body.message))


def ws_audio(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    body = AudioIn.model_validate({k: message[k] for k in ("role", "rate", "words", "offset") if k in message})
    live = sessions.find(socket.user, _session_id(message), write=True)
    _attach(socket, live)
    role = Role(body.role)
    opened = sessions.open_audio(socket.user, live, body.role, body.rate, body.words, body.offset)
    known = [n for n, (s, r) in enumerate(socket.streams) if s is live and r is role]
    if known:
        stream = known[0]
    elif len(socket.streams) >= MAX_STREAMS:
        raise AssistError(429, f"一个连接最多 {MAX_STREAMS} 路音频流")
    else:
        stream = len(socket.streams)
        socket.streams.append((live, role))
    return {"type": "audio", "session_id": live.id, "stream": stream, **opened,
            "state": live.audio.state() if live.audio else {}}


def ws_audio_end(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    live = sessions.find(socket.user, _session_id(message), write=True)
    role = {"agent": Role.AGENT, "customer": Role.CUSTOMER}.get(message.get("role"))
    if role is None:
        raise AssistError(422, "字段 role: 应为 agent 或 customer 之一")
    updates = sessions.audio(socket.user, live, role, None)
    return {"type": "audio_ended", "session_id": live.id, "role": role.value,
            "hints": updates[-1].hints if updates else live.session.hints()}


def ws_draft(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    body = DraftIn.model_validate({"text": message.get("text")})
    sid = _session_id(message)
    return {"type": "draft", "session_id": sid, **post_draft(sessions, socket.user, sid, body.text)}


def ws_dismiss(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    hint_id = message.get("hint_id")
    if not isinstance(hint_id, str) or not 0 < len(hint_id) <= 120:
        raise AssistError(422, "字段 hint_id: 必填")
    return {**_changed(sessions, socket, message, lambda s: s.dismiss(hint_id), "dismiss"), "dismissed": hint_id}


def ws_end(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    return {"type": "ended", **finish(sessions, socket.user, _session_id(message))}


def ws_watch(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    sessions.watchers.add(socket)
    return {"type": "board", "sessions": sessions.visible(socket.user, "open", 500)}


def ws_unwatch(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    sessions.watchers.discard(socket)
    return {"type": "unwatched"}


def ws_ping(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    return {"type": "pong", "at": time.time()}


def ws_auth(sessions: LiveSessions, socket: Socket, message: dict) -> dict:
    return {"type": "auth", "ok": True, "user": _user(socket.user)}


# Messages that touch only a session in memory (the others may use the database).
LIGHT = frozenset({"turn", "funasr", "draft", "dismiss", "detach", "ping"})
HANDLERS: dict[str, Callable[[LiveSessions, Socket, dict], dict | None]] = {
    "auth": ws_auth, "create": ws_create, "attach": ws_attach, "detach": ws_detach, "turn": ws_turn,
    "funasr": ws_funasr, "draft": ws_draft, "dismiss": ws_dismiss, "end": ws_end, "watch": ws_watch,
    "unwatch": ws_unwatch, "ping": ws_ping, "audio": ws_audio, "audio_end": ws_audio_end,
}
