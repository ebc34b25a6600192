"""The workspace's live sessions: who may do what with them, their limits, keeping them across a
restart, ending them into the workspace, and the background work (timers, writing, idle timeout).

A session lives in memory (``guifan.assist.LiveSession``, the engine's client) while it is open and
is written to ``assist_sessions`` when created, at most ``FLUSH_SECONDS`` after each change (new
turns appended to ``assist_turns``, dismissals, alerts; events to ``assist_events``) and when the
server stops. Ending a session checks
the finished conversation with the full engine and stores it exactly as an import does
(``Workspace.store``), marked live. Routes (``guifan.web.assist.api``) only translate HTTP and
WebSocket messages into these calls.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import delete, insert, select, update

from guifan import model
from guifan.assist import AssistError, LiveSession, Update
from guifan.assist.audio import LiveAudio
from guifan.privacy import mask_value
from guifan.reporters.common import conversation_record
from guifan.web.assist.models import AssistEvent, AssistSession, AssistTurn, SessionStatus
from guifan.web.clock import aware
from guifan.web.models import Conversation, User, UserRole, utcnow
from guifan.web.services import Workspace, audit

log = logging.getLogger("guifan.assist")

IDLE_SECONDS = 30 * 60
MAX_OPEN = 2000
MAX_PER_AGENT = 20
RATE = 20.0  # messages a second per session (bursts of BURST): a client flooding one session
BURST = 40
AUDIO_BYTES_RATE = 2 * 2 * 16000 * 2  # speakers × bytes a sample × 16 kHz × twice real time
USER_RATE = 1000.0  # per user or API token, whatever the sessions (an integration serves many agents)
FLUSH_SECONDS = 1.0
TICK_SECONDS = 0.1
IDLE_CHECK_SECONDS = 5.0
BOARD_SECONDS = 2.0  # a session's turn count goes to the live board at most this often
RESULTS_KEPT = 1000  # ended sessions whose answer stays in memory (the database has them all)
SEES = frozenset({UserRole.ADMIN, UserRole.SUPERVISOR, UserRole.TEAM_LEAD, UserRole.AGENT})
ALL = frozenset({UserRole.ADMIN, UserRole.SUPERVISOR})


class Bucket:
    """A token bucket: ``rate`` a second, ``burst`` at once."""

    clock: Callable[[], float] = staticmethod(time.monotonic)  # tests stop it to count exactly

    def __init__(self, rate: float = RATE, burst: float = BURST):
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, self.clock()

    def take(self, amount: float = 1) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


@dataclass(eq=False)
class Live:
    """An open session: the engine's client and what the workspace knows around it."""

    id: str
    session: LiveSession
    agent_code: str | None
    agent_user: int | None
    agent_name: str
    team_id: int | None
    version: int
    external_id: str
    started_at: datetime | None
    created_at: datetime
    stamp_times: bool
    resumed: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    active_at: float = field(default_factory=time.monotonic)
    updated_at: datetime = field(default_factory=utcnow)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # not yet written
    dirty: bool = True
    saved: int = 0  # turns already written to assist_turns
    board_at: float = 0.0
    sockets: set = field(default_factory=set)  # api.Socket objects attached to it
    bucket: Bucket = field(default_factory=Bucket)
    ended: dict[str, Any] | None = None
    audio: LiveAudio | None = None  # raw call audio, once a client streams it
    audio_shown: list[str] = field(default_factory=list)  # hint ids last pushed for audio
    # PCM bytes a second the session may be sent: both speakers' streams at 16 kHz, twice real time
    audio_bucket: Bucket = field(default_factory=lambda: Bucket(AUDIO_BYTES_RATE, AUDIO_BYTES_RATE * 5))

    def summary(self) -> dict[str, Any]:
        return {
            "session_id": self.id, "status": SessionStatus.ENDED if self.ended else SessionStatus.OPEN,
            "channel": self.session.channel.value, "agent_id": self.agent_code, "agent_name": self.agent_name,
            "team_id": self.team_id, "started_at": self.started_at.isoformat() if self.started_at else None,
            "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "turns": len(self.session.conversation.turns),
            "conversation_id": self.ended["conversation_id"] if self.ended else None,
            "alerts": list(reversed(self.alerts)), "resumed": self.resumed,
        }

    def state(self) -> dict[str, Any]:
        turns = [{"role": t.role.value, "text": t.text, "start": t.start, "end": t.end}
                 for t in self.session.conversation.turns]
        return {**self.summary(), "turn_count": len(turns), "turns": turns, "hints": self.session.hints(),
                "dismissed": sorted(self.session.dismissed), "result": self.ended["result"] if self.ended else None}


class LiveSessions:
    """Every open session of the workspace, and the background task that serves their timers."""

    def __init__(self, workspace: Workspace, *, idle_seconds: float = IDLE_SECONDS, max_open: int = MAX_OPEN,
                 max_per_agent: int = MAX_PER_AGENT, meaning: bool = False, transcriber=None):
        self.workspace = workspace
        self.idle_seconds = idle_seconds
        self.max_open = max_open
        self.max_per_agent = max_per_agent
        self.meaning = meaning
        self.transcriber = transcriber  # live audio's recognizer (guifan serve --assist-asr), or None
        self.open: dict[str, Live] = {}
        self._lock = threading.RLock()
        self._users: dict[int, Bucket] = {}
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.watchers: set = set()  # api.Socket objects watching the live board
        self.tokens: dict[str, tuple[float, User, bool]] = {}  # API token -> (looked up at, user, refreshing): api.assist_user
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.lateness: list[float] = []  # seconds each timer hint came late (bench and tests)

    # -- who may do what ------------------------------------------------------------------------

    @staticmethod
    def sees(user: User, agent_user: int | None, team_id: int | None) -> bool:
        role = UserRole(user.role)
        if role in ALL:
            return True
        if role is UserRole.TEAM_LEAD:
            return user.team_id is not None and team_id == user.team_id
        if role is UserRole.AGENT:
            return agent_user is not None and agent_user == user.id
        return False

    @staticmethod
    def works(user: User, live: Live) -> bool:
        """Whether the user may post turns, drafts, dismissals and the end (team leads only look)."""
        role = UserRole(user.role)
        return role in ALL or (role is UserRole.AGENT and live.agent_user == user.id)

    def rate(self, user: User, live: Live | None = None) -> None:
        with self._lock:
            bucket = self._users.get(user.id)
            if bucket is None:
                if len(self._users) > 10_000:
                    self._users.clear()
                bucket = self._users[user.id] = Bucket(USER_RATE, 2 * USER_RATE)
            ok = bucket.take()
        if not ok or (live is not None and not live.bucket.take()):
            raise AssistError(429, "请求过于频繁,请稍后再试")

    # -- sessions -------------------------------------------------------------------------------

    def create(self, user: User, channel: str, agent_id: str | None = None, metadata: dict | None = None,
               started_at: datetime | None = None, external_id: str | None = None,
               stamp_times: bool = True, dated: bool = True) -> Live:
        """``dated``: the conversation has a start time (``started_at``, now by default); False for
        a replayed transcript without one."""
        role = UserRole(user.role)
        if role is UserRole.AGENT:
            if not user.agent_code:
                raise AssistError(400, "该账号没有坐席工号,不能创建实时会话")
            if agent_id not in (None, "", user.agent_code):
                raise AssistError(403, "坐席只能为自己创建实时会话")
            agent_id = user.agent_code
        elif role not in ALL:
            raise AssistError(403, "没有权限创建实时会话")
        self.rate(user)
        with self._lock:
            if len(self.open) >= self.max_open:
                raise AssistError(429, f"打开的实时会话已达上限 {self.max_open},请先结束一些会话")
            if agent_id and sum(1 for s in self.open.values() if s.agent_code == agent_id) >= self.max_per_agent:
                raise AssistError(429, f"坐席 {agent_id} 打开的实时会话已达上限 {self.max_per_agent}")
        sid = secrets.token_urlsafe(16)
        started = started_at or datetime.now(timezone.utc) if dated else None
        meta = {**(metadata or {}), "live": True, "assist_session": sid}
        with self.workspace.sessions() as db:
            agent = db.scalar(select(User).where(User.agent_code == agent_id)) if agent_id else None
            version = self.workspace.active_rulebook(db)
            db.commit()
            row = AssistSession(
                id=sid, status=SessionStatus.OPEN, channel=channel, agent_code=agent_id,
                agent_id=agent.id if agent else None, team_id=agent.team_id if agent else None, created_by=user.id,
                external_id=external_id or f"live-{sid}", started_at=started, rulebook_version=version.version,
                meta=meta, stamp_times=stamp_times, dismissed=[], alerts=[])
            db.add(row)
            audit(db, user, "assist.create", "assist_session", None, None, {"session": sid, "agent": agent_id})
            db.commit()
            live = self._live(row, agent.display_name if agent else "")
        with self._lock:
            self.open[sid] = live
        self.board(live)
        return live

    def _live(self, row: AssistSession, agent_name: str, turns: tuple[model.Turn, ...] = ()) -> Live:
        engine = self.workspace.checker_for(row.rulebook_version).engine
        conversation = model.Conversation(
            id=row.external_id, turns=turns, channel=model.Channel(row.channel), started_at=aware(row.started_at),
            agent_id=row.agent_code, metadata=dict(row.meta or {}), source=f"live:{row.id}")
        session = LiveSession(engine, conversation, stamp_times=row.stamp_times, meaning=self.meaning,
                              asr_offset=_number(row.meta.get("asr_offset_seconds")))
        return Live(id=row.id, session=session, agent_code=row.agent_code, agent_user=row.agent_id,
                    agent_name=agent_name, team_id=row.team_id, version=row.rulebook_version,
                    external_id=row.external_id, started_at=aware(row.started_at), created_at=aware(row.created_at),
                    stamp_times=row.stamp_times, dirty=False)

    def find(self, user: User, sid: str, *, write: bool = False) -> Live:
        """The session if the user may see it (404 otherwise, as for conversations); ``write``: the
        user must also be allowed to work in it (403) and it must be open (409)."""
        if UserRole(user.role) not in SEES:
            raise AssistError(404, "没有这个实时会话")
        live = self.open.get(sid) or self._load(sid)
        if live is None or not self.sees(user, live.agent_user, live.team_id):
            raise AssistError(404, "没有这个实时会话")
        if write:
            if not self.works(user, live):
                raise AssistError(403, "只能查看这个实时会话")
            if live.ended:
                raise AssistError(409, "实时会话已结束")
        return live

    def _load(self, sid: str) -> Live | None:
        """A session not in memory: an ended one (its stored answer), or an open one a stopped server
        left (resumed from its stored turns)."""
        if len(sid) > 32:
            return None
        with self.workspace.sessions() as db:
            row = db.get(AssistSession, sid)
            if row is None:
                return None
            agent = db.get(User, row.agent_id) if row.agent_id else None
            name = agent.display_name if agent else ""
            if row.status == SessionStatus.ENDED:
                live = self._live(row, name)
                live.ended = {"session_id": sid, "status": SessionStatus.ENDED, "conversation_id": row.conversation_id,
                              "result": row.result}
                live.alerts = list(row.alerts or [])
                return live
            turns = tuple(model.Turn(model.Role(t.role), t.text, t.start, t.end) for t in
                          db.scalars(select(AssistTurn).where(AssistTurn.session_id == sid).order_by(AssistTurn.n)))
            live = self._live(row, name, turns)
            live.saved = len(turns)
        live.resumed = True
        live.session.dismissed.update(row.dismissed or [])
        live.alerts = list(row.alerts or [])
        live.session.alerted.update(a.get("hint_id", "") for a in live.alerts)
        age = (utcnow() - aware(row.updated_at)).total_seconds()
        live.active_at = time.monotonic() - max(0.0, age)
        with self._lock:
            return self.open.setdefault(sid, live)

    def resume_all(self) -> None:
        """At start: every session a stopped server left open (the idle timeout then applies)."""
        with self.workspace.sessions() as db:
            ids = list(db.scalars(select(AssistSession.id).where(AssistSession.status == SessionStatus.OPEN)
                                  .limit(self.max_open)))
        for sid in ids:
            try:
                self._load(sid)
            except Exception:  # one damaged session must not stop the server
                log.exception("live session %s could not be resumed", sid)

    def visible(self, user: User, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
        """Summaries of the sessions the user may see, newest activity first."""
        if UserRole(user.role) not in SEES:
            return []
        found: dict[str, dict[str, Any]] = {}
        if status in ("open", "all"):
            for live in list(self.open.values()):
                if not live.ended and self.sees(user, live.agent_user, live.team_id):
                    found[live.id] = live.summary()
        if status in ("ended", "all"):
            with self.workspace.sessions() as db:
                query = select(AssistSession).where(AssistSession.status == SessionStatus.ENDED)
                role = UserRole(user.role)
                if role is UserRole.AGENT:
                    query = query.where(AssistSession.agent_id == user.id)
                elif role is UserRole.TEAM_LEAD:
                    query = query.where(AssistSession.team_id == user.team_id) if user.team_id else query.where(False)
                names = dict(db.execute(select(User.id, User.display_name)).all())
                for row in db.scalars(query.order_by(AssistSession.updated_at.desc()).limit(limit)):
                    found.setdefault(row.id, _row_summary(row, names.get(row.agent_id, "")))
        return sorted(found.values(), key=lambda s: s["updated_at"], reverse=True)[:limit]

    # -- what agents do ---------------------------------------------------------------------------

    def turn(self, user: User, live: Live, call: Callable[[LiveSession], Update], skip=None) -> Update:
        """A change to the session (a turn, a FunASR message, a dismissal): made under its lock; the
        hints go to the sockets attached to it (``skip``: the one asking, which gets the answer)."""
        self.rate(user, live)
        with live.lock:
            if live.ended:
                raise AssistError(409, "实时会话已结束")
            before = len(live.session.conversation.turns)
            update = call(live.session)
            self._touch(live, update, changed=len(live.session.conversation.turns) != before)
        for event in update.events:
            event.setdefault("user_id", user.id)
        self.push(live, {"type": "hints", "session_id": live.id, **update.to_dict(), "reason": "turn"}, skip=skip)
        return update

    def open_audio(self, user: User, live: Live, role: str, rate: int, words: str | None,
                   offset: float | None) -> dict[str, Any]:
        """Start a speaker's audio stream in the session (guifan.assist.audio)."""
        self.rate(user, live)
        with live.lock:
            if live.ended:
                raise AssistError(409, "实时会话已结束")
            if live.session.channel is not model.Channel.PHONE:
                raise AssistError(422, "只有电话会话(channel=phone)可以发送音频")
            if live.audio is None:
                live.audio = LiveAudio(live.session, self.transcriber)
            return live.audio.open(role, rate, words, offset)

    def audio(self, user: User, live: Live, role: model.Role, pcm: bytes | None) -> list[Update]:
        """PCM of a speaker's stream (None: the stream ends). Its hints go to every socket attached;
        a change of who is speaking goes as a ``voice`` message."""
        if pcm is not None and not live.audio_bucket.take(len(pcm)):
            raise AssistError(429, "音频发送过快(超过实时的两倍),请按实际时间发送")
        with live.lock:
            if live.ended:
                raise AssistError(409, "实时会话已结束")
            if live.audio is None:
                raise AssistError(409, "这个会话还没有音频流(先发送 audio 消息)")
            before = live.audio.state()
            count = len(live.session.conversation.turns)
            updates = live.audio.feed(role, pcm) if pcm is not None else live.audio.close(role)
            for update in updates:
                self._touch(live, update, changed=len(live.session.conversation.turns) != count)
            live.active_at = time.monotonic()
            after = live.audio.state()
        for update in updates:
            for event in update.events:
                event.setdefault("user_id", user.id)
            # Partials come twice a second per speaker: only what changes the hints, or ends a turn, goes out.
            shown = [h["id"] for h in update.hints]
            if update.final or update.cleared or shown != live.audio_shown:
                self.push(live, {"type": "hints", "session_id": live.id, **update.to_dict(), "reason": "audio"})
            live.audio_shown = shown
        if _speaking(after) != _speaking(before):
            self.push(live, {"type": "voice", "session_id": live.id, "state": after})
        return updates

    def draft(self, user: User, live: Live, text: str) -> dict[str, Any]:
        self.rate(user, live)
        with live.lock:
            if live.ended:
                raise AssistError(409, "实时会话已结束")
            live.active_at = time.monotonic()
            return live.session.draft(text)

    def _touch(self, live: Live, update: Update, changed: bool) -> None:
        live.active_at = time.monotonic()
        live.events.extend(update.events)
        if changed or update.events:
            live.updated_at = utcnow()
            live.dirty = True
        if update.alerts:
            live.alerts.extend(update.alerts)
            self.board(live)

    def end(self, live: Live, reason: str = "end", user: User | None = None) -> dict[str, Any]:
        """Check the finished conversation with the full engine and store it as an import would."""
        with live.lock:
            if live.ended:
                return live.ended
            if live.audio is not None:  # the turns still being spoken end with the call
                for role in list(live.audio.sources):
                    live.audio.close(role)
            conversation = live.session.conversation
            checker = self.workspace.checker_for(live.version)
            result = checker.check(conversation)
            record = conversation_record(result, checker.engine.rulebook)
            with self.workspace.sessions() as db:
                mask = bool(self.workspace.setting(db, "mask_personal_data"))
                self.workspace.store(db, result, live.version, mask)
                key = self.workspace.conversation_key(db, conversation.id)
                stored = db.scalar(select(Conversation.id).where(Conversation.external_key == key))
                row = db.get(AssistSession, live.id)
                row.status, row.ended_at, row.ended_reason = SessionStatus.ENDED, utcnow(), reason
                row.updated_at = utcnow()
                db.execute(delete(AssistTurn).where(AssistTurn.session_id == live.id))
                row.dismissed = sorted(live.session.dismissed)
                row.alerts = live.alerts
                row.conversation_id = stored
                row.result = mask_value(record) if mask else record
                self._write_events(db, live)
                audit(db, user, "assist.end", "assist_session", None, None,
                      {"session": live.id, "reason": reason, "conversation": stored})
                db.commit()
            live.ended = {"session_id": live.id, "status": SessionStatus.ENDED, "conversation_id": stored,
                          "result": record}
            live.updated_at = utcnow()
        with self._lock:
            self.open.pop(live.id, None)
            self._results[live.id] = live.ended
            while len(self._results) > RESULTS_KEPT:
                self._results.popitem(last=False)
        self.push(live, {"type": "closed", "session_id": live.id, "reason": reason, "conversation_id": stored})
        self.board(live)
        return live.ended

    # -- writing ------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every changed open session (its new turns, dismissals, alerts, events) in one transaction."""
        dirty = [live for live in list(self.open.values()) if (live.dirty or live.events) and not live.ended]
        if not dirty:
            return
        written: list[tuple[Live, int]] = []
        rows: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for live in dirty:  # what to write, taken under each session's lock; written in bulk after
            with live.lock:
                if live.ended:
                    continue
                said = live.session.conversation.turns
                turns += [{"session_id": live.id, "n": n, "role": t.role.value, "text": t.text, "start": t.start,
                           "end": t.end} for n, t in enumerate(said[live.saved:], live.saved)]
                written.append((live, len(said)))
                rows.append({"id": live.id, "dismissed": sorted(live.session.dismissed), "alerts": list(live.alerts),
                             "updated_at": live.updated_at})
                events += [_event_row(live.id, e) for e in live.events]
                live.events = []
                live.dirty = False
        if not rows:
            return
        with self.workspace.sessions() as db:
            db.execute(update(AssistSession), rows)  # by primary key, one statement for all
            if turns:
                db.execute(insert(AssistTurn), turns)
            if events:
                db.execute(insert(AssistEvent), events)
            db.commit()
            # A session ended while this was written keeps no turns of its own (its conversation has them).
            ended = [live.id for live, _ in written if live.ended]
            if ended:
                db.execute(delete(AssistTurn).where(AssistTurn.session_id.in_(ended)))
                db.commit()
        for live, saved in written:
            live.saved = max(live.saved, saved)

    @staticmethod
    def _write_events(db, live: Live) -> None:
        if live.events:
            db.execute(insert(AssistEvent), [_event_row(live.id, e) for e in live.events])
        live.events = []

    # -- pushing ----------------------------------------------------------------------------------

    def push(self, live: Live, message: dict[str, Any], skip=None) -> None:
        for socket in list(live.sockets):
            if socket is not skip:
                socket.send(message)

    def board(self, live: Live) -> None:
        """The session's summary to the live board watchers who may see it."""
        live.board_at = time.monotonic()
        if not self.watchers:
            return
        summary = live.summary()
        for socket in list(self.watchers):
            if self.sees(socket.user, live.agent_user, live.team_id):
                socket.send({"type": "board_update", "session": summary})

    # -- background -------------------------------------------------------------------------------

    def start(self) -> None:
        """In the server's event loop (the app's lifespan): resume open sessions, serve timers."""
        self._stopping = False
        self.resume_all()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def warm(self) -> None:
        """Build the active rulebook's engine before the first session needs it (``guifan serve``
        does, in a thread), then take the engine's long-lived objects out of the garbage collector's
        full passes (``gc.freeze``): a full pass over them would otherwise pause every session for
        about a tenth of a second now and then."""
        try:
            with self.workspace.sessions() as db:
                version = self.workspace.active_rulebook(db)
                db.commit()
            self.workspace.checker(version)
        except Exception:  # a failure here shows again, with its message, in the first request
            log.exception("live assist: building the rulebook's engine")
            return
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await asyncio.to_thread(self.flush)

    async def _run(self) -> None:
        last_flush = last_idle = time.monotonic()
        while not self._stopping:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            try:
                self.tick()
                if now - last_flush >= FLUSH_SECONDS:
                    last_flush = now
                    await asyncio.to_thread(self.flush)
                    self._board_turns()
                if now - last_idle >= min(IDLE_CHECK_SECONDS, self.idle_seconds / 2):
                    last_idle = now
                    for live in [s for s in list(self.open.values()) if now - s.active_at > self.idle_seconds]:
                        await asyncio.to_thread(self.end, live, "idle")
            except Exception:  # the loop serves every session: one failure must not stop it
                log.exception("live assist background task")

    def tick(self) -> None:
        """Timer hints whose wait has run out, pushed to the session's sockets."""
        now = time.monotonic()
        for live in list(self.open.values()):
            due = live.session.next_timer()
            if due is None or due > now or live.ended:
                continue
            if not live.lock.acquire(timeout=0.05):
                continue  # busy with a request: the next tick
            try:
                update = live.session.tick()
                if update is None:
                    continue
                self.lateness.append(max(0.0, time.monotonic() - due))
                del self.lateness[:-10_000]
                self._touch(live, update, changed=False)
            finally:
                live.lock.release()
            self.push(live, {"type": "hints", "session_id": live.id, **update.to_dict(), "reason": "timer"})

    def _board_turns(self) -> None:
        """Turn counts and activity to the board, at most every ``BOARD_SECONDS`` per session."""
        if not self.watchers:
            return
        now = time.monotonic()
        for live in list(self.open.values()):
            if live.active_at > live.board_at and now - live.board_at >= BOARD_SECONDS:
                self.board(live)


def _speaking(state: dict[str, Any]) -> dict[str, bool]:
    return {role: stream["speaking"] for role, stream in state.items()}


def _event_row(session_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": session_id, "at": datetime.fromisoformat(event["at"]), "kind": event["kind"],
            "hint_id": event.get("hint_id", "")[:100], "rule": event.get("rule", "")[:20],
            "clause": (event.get("clause") or "")[:10], "turn": event.get("turn"), "user_id": event.get("user_id"),
            "detail": event.get("detail") or {}}


def _row_summary(row: AssistSession, agent_name: str) -> dict[str, Any]:
    return {"session_id": row.id, "status": row.status, "channel": row.channel, "agent_id": row.agent_code,
            "agent_name": agent_name, "team_id": row.team_id,
            "started_at": aware(row.started_at).isoformat() if row.started_at else None,
            "created_at": aware(row.created_at).isoformat(), "updated_at": aware(row.updated_at).isoformat(),
            "turns": len((row.result or {}).get("turns", [])) if row.result else 0,
            "conversation_id": row.conversation_id, "alerts": list(reversed(row.alerts or [])), "resumed": False}


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if 0 <= number < 1e7 else 0.0


