"""The JSON API under ``/api/v1``. Every endpoint names the permission it needs; the conversation
scope (agents: their own, team leads: their team's) is applied in every query, not in the pages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, defer, selectinload
from starlette.concurrency import run_in_threadpool

from guifan.web import clock
from guifan.web.app import DB, require
from guifan.web.models import (
    Appeal,
    AppealStatus,
    Assignment,
    AuditEntry,
    Comment,
    Conversation,
    Finding,
    ImportJob,
    RulebookVersion,
    Team,
    User,
)
from guifan.web.security import SESSION_COOKIE, SESSION_SECONDS, Permission
from guifan.web.validation import IsoWeek, RowId, Text
from guifan.engine import all_rules
from guifan.errors import InputError
from guifan.web.teaching import teaching_effect
from guifan.web.uploads import discard
from guifan.web.services import (
    DEFAULTS,
    Workspace,
    WorkspaceError,
    assign_sample,
    audit,
    calibration,
    can_see,
    rulebook_from_yaml,
    visible,
)

router = APIRouter()
SORTS = {
    "started_at": Conversation.started_at,
    "score": Conversation.auto_score,
    "final_score": Conversation.final_score,
    "imported_at": Conversation.imported_at,
    "agent": Conversation.agent_code,
    "uncertain": Conversation.uncertain,  # open findings the check was unsure of: most first
    "external_id": Conversation.external_id,
    "channel": Conversation.channel,
    "status": Conversation.review_status,
    "findings": Conversation.standing,  # findings that stand (not rejected), as the list's 问题 column counts them
}


def workspace_of(request: Request) -> Workspace:
    return request.app.state.workspace


# -- authentication ------------------------------------------------------------------------------


class Login(BaseModel):
    username: Text = Field(max_length=64)
    password: Text = Field(max_length=256)


def sign_in(request: Request, response: Response, session: Session, username: str, password: str) -> tuple[User, str]:
    """Check the password (throttled), start a session and set its cookie; returns the user and the
    session's CSRF token. The client is the connection's address (see LoginThrottle)."""
    throttle = request.app.state.throttle
    client = request.client.host if request.client else "?"
    if throttle.blocked(username, client):
        raise HTTPException(429, "登录失败次数过多,请 5 分钟后再试")
    user = workspace_of(request).authenticate(session, username, password)
    if user is None:
        throttle.failed(username, client)
        raise HTTPException(401, "用户名或密码错误")
    throttle.succeeded(username, client)
    cookie, csrf = request.app.state.sessions.issue(session, user)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=request.app.state.secure_cookies, path="/")
    audit(session, user, "auth.login", "user", user.id)
    session.commit()
    return user, csrf


def json_only(request: Request) -> None:
    """Refuse bodies that are not JSON: a cross-site HTML form can post text/plain, never JSON."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "请以 Content-Type: application/json 提交")


@router.post("/auth/login", tags=["auth"], dependencies=[Depends(json_only)])
def login(body: Login, request: Request, response: Response, session: DB) -> dict:
    user, csrf = sign_in(request, response, session, body.username, body.password)
    return {"user": user_dict(user), "csrf": csrf}


def end_session(request: Request, response: Response, session: Session) -> None:
    """Delete the caller's browser session (server side) and its cookie."""
    row = getattr(request.state, "user_session", None)
    if row is None:
        raise HTTPException(400, "API 令牌没有会话可退出;不再使用的令牌请吊销")
    session.delete(row)
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/auth/logout", tags=["auth"], dependencies=[Depends(require(Permission.VIEW))])
def logout(request: Request, response: Response, session: DB) -> dict:
    end_session(request, response, session)
    return {"ok": True}


@router.get("/me", tags=["auth"])
def me(user: Annotated[User, Depends(require(Permission.VIEW))]) -> dict:
    return user_dict(user)


class TokenRequest(BaseModel):
    name: Text = Field(min_length=1, max_length=100)


@router.post("/tokens", tags=["auth"])
def create_token(body: TokenRequest, request: Request, session: DB,
                 user: Annotated[User, Depends(require(Permission.IMPORT))]) -> dict:
    secret = workspace_of(request).create_token(session, user, body.name)
    session.commit()
    return {"token": secret, "name": body.name}


def user_dict(user: User) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "team_id": user.team_id, "agent_code": user.agent_code}


# -- import --------------------------------------------------------------------------------------


@router.post("/imports", tags=["import"])
async def upload(request: Request, session: DB, files: Annotated[list[UploadFile], File()],
                 user: Annotated[User, Depends(require(Permission.IMPORT))]) -> dict:
    """Upload conversation files (every format ``guifan check`` reads); checked in the background."""
    job = await start_import(request, session, user, files)
    return job_dict(job)


async def start_import(request: Request, session: Session, user: User, files: list[UploadFile]) -> ImportJob:
    limit, count = request.app.state.max_upload_bytes, request.app.state.max_upload_files
    if not files:
        raise WorkspaceError("没有选择文件")
    if len(files) > count:
        raise WorkspaceError(f"一次最多上传 {count} 个文件,收到 {len(files)} 个")
    workspace = workspace_of(request)
    stored = []
    try:
        for upload_file in files:  # spooled to disk by the form parser; copied on in chunks, off the event loop
            stored.append(await run_in_threadpool(workspace.receive, upload_file.filename, upload_file.file, limit))
    except WorkspaceError:
        for upload in stored:
            discard(str(upload.path))
        raise
    job = workspace.create_import(session, user, stored)
    session.commit()
    request.app.state.importer.kick()
    return job


class ConversationsIn(BaseModel):
    conversations: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


@router.post("/conversations", tags=["import"])
def import_json(body: ConversationsIn, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.IMPORT))]) -> dict:
    """Import conversations in the interchange format (docs/input-formats.md) as one JSONL file."""
    import json

    # ASCII escapes: a lone surrogate in a text is then the reader's field error, not an encoding crash.
    payload = "\n".join(json.dumps(c) for c in body.conversations).encode("ascii")
    workspace = workspace_of(request)
    upload = workspace.receive("api.jsonl", payload, request.app.state.max_upload_bytes)
    job = workspace.create_import(session, user, [upload])
    session.commit()
    request.app.state.importer.kick()
    return job_dict(job)


@router.get("/imports/{job_id}", tags=["import"])
def import_status(job_id: RowId, session: DB, user: Annotated[User, Depends(require(Permission.IMPORT))],
                  details: bool = True) -> dict:
    """The job's progress: ``total`` conversations (counted when it starts; null before),
    ``read`` / ``checked`` / ``failed`` so far, ``eta_seconds`` (the time left at this run's pace;
    null while pending, done or not yet measured); ``details=false`` leaves out the errors and
    outcomes (for polling)."""
    job = session.get(ImportJob, job_id)
    if job is None:
        raise HTTPException(404, "没有这个导入任务")
    return job_dict(job, details)


def job_dict(job: ImportJob, details: bool = True) -> dict:
    from guifan.web.imports.service import eta_seconds

    return {"id": job.id, "status": job.status, "total": job.total, "read": job.read, "checked": job.checked,
            "failed": job.failed, "eta_seconds": eta_seconds(job),
            **({"errors": job.errors, "outcomes": job.outcomes} if details else {}),
            "files": [f.name for f in job.files]}


# -- conversations -------------------------------------------------------------------------------


MAX_PAGE = 10_000_000  # (page - 1) * per_page stays an offset both databases take
MAX_PER_PAGE = 200


class Filters(BaseModel):
    agent: Text | None = Field(default=None, max_length=64)
    team: RowId | None = None
    channel: Literal["phone", "chat"] | None = None
    date_from: date | None = None
    date_to: date | None = None
    score_min: float | None = None
    score_max: float | None = None
    rule: Text | None = Field(default=None, max_length=20)
    clause: Text | None = Field(default=None, max_length=20)
    status: Text | None = Field(default=None, max_length=20)
    uncertain: bool | None = None  # true: with findings awaiting review (待复核); false: without
    queue: Literal["mine"] | None = None  # mine: assigned to the caller for review and not yet reviewed
    sort: Text = Field(default="started_at", max_length=20)  # a key of SORTS (others: started_at)
    descending: bool = True
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)
    # Where the page starts: the previous page's ``next`` (for its sort); without it, ``page`` counts.
    after: Text | None = Field(default=None, max_length=200)

    @property
    def column(self):
        return SORTS.get(self.sort, Conversation.started_at)


def filtered(user: User, filters: Filters):
    """The conversations the user may see, filtered and sorted by the sort's column, then by id in the
    same direction (bound parameters only)."""
    # Lists and exports never need the transcripts and audio: leave them in the database.
    heavy = (Conversation.turns, Conversation.audio, Conversation.meta, Conversation.category_scores)
    query = matching(select(Conversation).options(selectinload(Conversation.findings), *map(defer, heavy)), user, filters)
    order = (filters.column, Conversation.id)
    return query.order_by(*(c.desc() if filters.descending else c.asc() for c in order))


def matching(query, user: User, filters: Filters):
    """``query`` restricted to the conversations the user may see that pass the filters."""
    query = visible(query, user)
    if filters.agent:
        query = query.where(Conversation.agent_code == filters.agent)
    if filters.team is not None:
        query = query.where(Conversation.team_id == filters.team)
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.date_from:  # days as the company reads them (guifan.web.clock)
        query = query.where(Conversation.started_at >= clock.midnight(filters.date_from))
    if filters.date_to:
        query = query.where(Conversation.started_at < clock.midnight(filters.date_to + timedelta(days=1)))
    if filters.queue == "mine":
        query = query.where(Conversation.id.in_(select(Assignment.conversation_id).where(
            Assignment.reviewer_id == user.id, Assignment.done.is_(False))))
    score = func.coalesce(Conversation.final_score, Conversation.auto_score)
    if filters.score_min is not None:
        query = query.where(score >= filters.score_min)
    if filters.score_max is not None:
        query = query.where(score <= filters.score_max)
    if filters.rule or filters.clause:  # a probe of each conversation's findings (not a list of every match)
        having = select(Finding.id).where(Finding.conversation_id == Conversation.id)
        if filters.rule:
            having = having.where(Finding.rule == filters.rule)
        if filters.clause:
            having = having.where(cast(Finding.clauses, String).like(f'%"{_like_escape(filters.clause)}"%', escape="\\"))
        query = query.where(having.exists())
    if filters.status:
        query = query.where(Conversation.review_status == filters.status)
    if filters.uncertain is not None:
        query = query.where(Conversation.uncertain > 0 if filters.uncertain else Conversation.uncertain == 0)
    return query


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/conversations", tags=["conversations"])
def list_conversations(session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
                       filters: Annotated[Filters, Query()]) -> dict:
    """A page of the list. ``total`` counts at most 10,000 (``total_capped``: more match); ``next``
    is where the next page starts: pass it as ``after`` (with ``page`` one more, as the number shown)."""
    pager, rows = page_of(session, user, filters)
    return {"total": pager.total, "total_capped": pager.capped, "page": filters.page, "next": pager.next,
            "items": [summary(c) for c in rows]}


def page_of(session: Session, user: User, filters: Filters):
    """The requested page of the conversations that match, and its pager."""
    from guifan.web.conversations.service import keyset_page

    return keyset_page(session, filtered(user, filters), matching(select(Conversation.id), user, filters),
                       filters.column, filters.sort, filters.descending, filters.page, filters.per_page, filters.after)


EXPORT_HEADERS = ("会话ID", "渠道", "坐席", "开始时间", "自动得分", "复核得分", "问题数", "复核状态", "规则手册版本")


@router.get("/conversations.{kind}", tags=["conversations"])
def export(kind: Literal["csv", "xlsx"], session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
           filters: Annotated[Filters, Query()]) -> Response:
    """The filtered list (every page) as CSV (UTF-8 with BOM, for Excel) or XLSX; cells that would
    start a formula are quoted."""
    import csv
    import io

    from guifan.reporters.xlsx import safe_cell, table_xlsx

    rows = [
        (c.external_id, c.channel, c.agent_code or "", c.started_at.isoformat() if c.started_at else "",
         c.auto_score, c.final_score if c.final_score is not None else "",
         sum(1 for f in c.findings if f.status != "rejected"), c.review_status, c.rulebook_version)
        for c in session.scalars(filtered(user, filters))
    ]
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_HEADERS)
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="conversations.csv"'})
    stream = io.BytesIO()
    table_xlsx("会话", EXPORT_HEADERS, rows, stream)
    return Response(stream.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="conversations.xlsx"'})


def summary(c: Conversation) -> dict:
    return {"id": c.id, "external_id": c.external_id, "channel": c.channel, "agent": c.agent_code,
            "team_id": c.team_id, "started_at": c.started_at.isoformat() if c.started_at else None,
            "auto_score": c.auto_score, "final_score": c.final_score, "review_status": c.review_status,
            "findings": sum(1 for f in c.findings if f.status != "rejected"), "uncertain": c.uncertain,
            "rulebook_version": c.rulebook_version}


def visible_conversation(session: Session, user: User, conversation_id: RowId) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not can_see(user, conversation):
        raise HTTPException(404, "没有这个会话")  # not 403: do not reveal that it exists
    return conversation


@router.get("/conversations/{conversation_id}", tags=["conversations"])
def get_conversation(conversation_id: RowId, session: DB,
                     user: Annotated[User, Depends(require(Permission.VIEW))]) -> dict:
    c = visible_conversation(session, user, conversation_id)
    appeals = session.scalars(select(Appeal).where(Appeal.conversation_id == c.id).order_by(Appeal.id))
    comments = session.scalars(select(Comment).where(Comment.conversation_id == c.id).order_by(Comment.id))
    return {
        **summary(c), "turns": c.turns, "audio": c.audio, "kpis": c.kpis, "category_scores": c.category_scores, "meta": c.meta,
        "findings": [finding_out(f) for f in c.findings],
        "appeals": [appeal_dict(a) for a in appeals],
        "comments": [{"user": m.user.display_name, "text": m.text, "at": m.created_at.isoformat()} for m in comments],
        "version": c.version,
        # Earlier versions that a re-import replaced, newest first, each with its review as it stood.
        "versions": [{**v.snapshot, "replaced_at": v.replaced_at.isoformat(), "import_job_id": v.import_job_id}
                     for v in c.versions],
    }


def finding_out(f: Finding) -> dict:
    return {"id": f.id, "rule": f.rule, "clauses": f.clauses, "severity": f.severity, "category": f.category,
            "turn": f.turn, "span": [f.span_start, f.span_end] if f.span_start is not None else None,
            "quote": f.quote, "message": f.message, "suggestion": f.suggestion, "status": f.status,
            "manual": f.manual, "comment": f.comment, "confidence": f.confidence, "evidence": f.evidence,
            "needs_review": f.needs_review}


def appeal_dict(a: Appeal) -> dict:
    return {"id": a.id, "finding_id": a.finding_id, "conversation_id": a.conversation_id, "reason": a.reason,
            "status": a.status, "decision": a.decision,
            "created_at": a.created_at.isoformat(), "decided_at": a.decided_at.isoformat() if a.decided_at else None}


# -- review (复核) ---------------------------------------------------------------------------------


class VerdictIn(BaseModel):
    confirmed: bool
    comment: Text = Field(default="", max_length=2000)


def visible_finding(session: Session, user: User, finding_id: RowId) -> Finding:
    finding = session.get(Finding, finding_id)
    if finding is None or not can_see(user, finding.conversation):
        raise HTTPException(404, "没有这个问题")
    return finding


@router.post("/findings/{finding_id}/verdict", tags=["review"])
def verdict(finding_id: RowId, body: VerdictIn, request: Request, session: DB,
            user: Annotated[User, Depends(require(Permission.REVIEW))]) -> dict:
    finding = visible_finding(session, user, finding_id)
    workspace_of(request).set_verdict(session, user, finding, body.confirmed, body.comment)
    session.commit()
    return finding_out(finding)


class ManualFinding(BaseModel):
    rule: Text = Field(max_length=20)
    turn: int | None = None
    comment: Text = Field(default="", max_length=2000)
    quote: Text = Field(default="", max_length=200, description="该轮中构成问题的原话 (可选,默认整轮)")


@router.post("/conversations/{conversation_id}/findings", tags=["review"])
def add_finding(conversation_id: RowId, body: ManualFinding, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.REVIEW))]) -> dict:
    conversation = visible_conversation(session, user, conversation_id)
    finding = workspace_of(request).add_manual_finding(session, user, conversation, body.rule, body.turn, body.comment,
                                                       body.quote)
    session.commit()
    return finding_out(finding)


class CommentIn(BaseModel):
    text: Text = Field(min_length=1, max_length=5000)


@router.post("/conversations/{conversation_id}/comments", tags=["review"])
def add_comment(conversation_id: RowId, body: CommentIn, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.REVIEW))]) -> dict:
    conversation = visible_conversation(session, user, conversation_id)
    workspace_of(request).comment(session, user, conversation, body.text)
    session.commit()
    return {"ok": True}


@router.post("/conversations/{conversation_id}/review", tags=["review"])
def complete_review(conversation_id: RowId, request: Request, session: DB,
                    user: Annotated[User, Depends(require(Permission.REVIEW))]) -> dict:
    conversation = visible_conversation(session, user, conversation_id)
    workspace_of(request).complete_review(session, user, conversation)
    session.commit()
    return summary(conversation)


# -- acknowledgement and appeal (申诉) ------------------------------------------------------------


@router.post("/conversations/{conversation_id}/acknowledge", tags=["appeal"])
def acknowledge(conversation_id: RowId, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.APPEAL))]) -> dict:
    conversation = visible_conversation(session, user, conversation_id)
    workspace_of(request).acknowledge(session, user, conversation)
    session.commit()
    return summary(conversation)


class AppealIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=5000)


@router.post("/findings/{finding_id}/appeal", tags=["appeal"])
def appeal(finding_id: RowId, body: AppealIn, request: Request, session: DB,
           user: Annotated[User, Depends(require(Permission.APPEAL))]) -> dict:
    finding = visible_finding(session, user, finding_id)
    row = workspace_of(request).appeal(session, user, finding, body.reason)
    session.commit()
    return appeal_dict(row)


@router.get("/appeals", tags=["appeal"])
def list_appeals(session: DB, user: Annotated[User, Depends(require(Permission.DECIDE))],
                 status: AppealStatus | None = AppealStatus.PENDING) -> list[dict]:
    query = select(Appeal).order_by(Appeal.id)
    if status:
        query = query.where(Appeal.status == status)
    return [appeal_dict(a) for a in session.scalars(query)]


class DecisionIn(BaseModel):
    accept: bool
    decision: Text = Field(default="", max_length=5000)


@router.post("/appeals/{appeal_id}/decision", tags=["appeal"])
def decide(appeal_id: RowId, body: DecisionIn, request: Request, session: DB,
           user: Annotated[User, Depends(require(Permission.DECIDE))]) -> dict:
    row = session.get(Appeal, appeal_id)
    if row is None:
        raise HTTPException(404, "没有这个申诉")
    workspace_of(request).decide(session, user, row, body.accept, body.decision)
    session.commit()
    return appeal_dict(row)


# -- calibration and sampling --------------------------------------------------------------------


@router.get("/calibration", tags=["calibration"])
def calibration_figures(session: DB, user: Annotated[User, Depends(require(Permission.CALIBRATE))]) -> dict:
    return {**calibration(session), "teaching": teaching_effect(session)}


class SamplingIn(BaseModel):
    per_agent: int = Field(ge=1, le=100)
    week: IsoWeek
    seed: int | None = None


@router.post("/sampling", tags=["calibration"])
def sampling(body: SamplingIn, session: DB, user: Annotated[User, Depends(require(Permission.DECIDE))]) -> dict:
    created = assign_sample(session, user, body.per_agent, body.week, body.seed)
    session.commit()
    return {"assigned": [{"conversation_id": a.conversation_id, "reviewer_id": a.reviewer_id} for a in created]}


@router.get("/assignments", tags=["calibration"])
def my_assignments(session: DB, user: Annotated[User, Depends(require(Permission.REVIEW))]) -> list[dict]:
    rows = session.scalars(select(Assignment).where(Assignment.reviewer_id == user.id).order_by(Assignment.id))
    return [{"conversation_id": a.conversation_id, "week": a.week, "done": a.done} for a in rows]


# -- rulebook ------------------------------------------------------------------------------------


@router.get("/rulebook", tags=["rulebook"])
def rulebook_info(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))]) -> dict:
    workspace = workspace_of(request)
    active = workspace.active_rulebook(session)
    session.commit()
    rulebook = workspace.checker(active).engine.rulebook
    versions = session.scalars(select(RulebookVersion).order_by(RulebookVersion.version.desc()))
    return {
        "active": active.version,
        "override_yaml": active.override_yaml,
        "scorecard": {k: {"name": c.name, "weight": c.weight} for k, c in rulebook.scorecard.categories.items()},
        "rules": [{"code": code, "name": cls.name, "clauses": list(cls.clauses), "severity": cls.severity.value,
                   "what": cls.what} for code, cls in all_rules().items()],
        "versions": [{"version": v.version, "origin": v.origin, "active": v.active,
                      "created_at": v.created_at.isoformat()} for v in versions],
    }


# A company override is a few kilobytes; the whole default rulebook is 74 kB. The cap bounds the
# YAML parsing a publish or a try costs.
OVERRIDE_MAX_CHARS = 300_000


class RulebookIn(BaseModel):
    override_yaml: Text = Field(max_length=OVERRIDE_MAX_CHARS)


@router.post("/rulebook", tags=["rulebook"])
def publish_rulebook(body: RulebookIn, request: Request, session: DB,
                     user: Annotated[User, Depends(require(Permission.RULEBOOK))]) -> dict:
    """Validate a company override and make it the active rulebook; new imports use it and record it."""
    row = workspace_of(request).publish_rulebook(session, user, body.override_yaml)
    session.commit()
    return {"version": row.version, "origin": row.origin}


TRANSCRIPT_MAX_CHARS = 20_000  # one sample conversation, not a batch


class TryIn(BaseModel):
    override_yaml: Text = Field(default="", max_length=OVERRIDE_MAX_CHARS)
    transcript: Text = Field(min_length=1, max_length=TRANSCRIPT_MAX_CHARS,
                            description="对话文本,每行「客服: …」或「客户: …」")
    rules: list[Annotated[Text, Field(max_length=40)]] = Field(
        default_factory=list, max_length=50, description="只试这些规则 (代码、前缀、名称或条款)")


@router.post("/rulebook/try", tags=["rulebook"])
def try_rulebook(body: TryIn, user: Annotated[User, Depends(require(Permission.RULEBOOK))]) -> dict:
    """Check a sample conversation with a draft override, without publishing anything. Only for
    those who may publish: the draft's patterns run on the server (bounded, see
    guifan.rulebook.bounded_pattern), and so does the work of building its rule engine."""
    from guifan.engine import Engine as RuleEngine
    from guifan.readers.textlog import parse_chat_log

    rulebook = rulebook_from_yaml(body.override_yaml)
    items = list(parse_chat_log(body.transcript, "sample.txt"))
    if not items or isinstance(items[0], InputError):
        raise WorkspaceError(str(items[0]) if items else "对话为空")
    try:
        engine = RuleEngine(rulebook, select=body.rules or None)
    except KeyError as exc:
        raise WorkspaceError(f"未知的规则或条款: {exc.args[0]}") from None
    return {"findings": [f.to_dict() for f in engine.check(items[0])], "turns": len(items[0].turns)}


# -- settings (admin) ----------------------------------------------------------------------------


@router.get("/settings", tags=["users"])
def get_settings(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.ADMIN))]) -> dict:
    workspace = workspace_of(request)
    return {key: workspace.setting(session, key) for key in DEFAULTS}


MAX_SETTING_DAYS = 3650  # the integer settings count days (appeal_window_days)


class SettingIn(BaseModel):
    value: bool | int


@router.put("/settings/{key}", tags=["users"])
def put_setting(key: str, body: SettingIn, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.ADMIN))]) -> dict:
    """``mask_personal_data`` (true/false) or ``appeal_window_days`` (days)."""
    expected = type(DEFAULTS.get(key, body.value))
    if type(body.value) is not expected:  # True is an int too
        raise WorkspaceError(f"{key} 应是 {'true/false' if expected is bool else '整数'}")
    if expected is int and not 0 <= body.value <= MAX_SETTING_DAYS:  # beyond, appeals' date arithmetic overflows
        raise WorkspaceError(f"{key} 应在 0 到 {MAX_SETTING_DAYS} 之间")
    workspace_of(request).set_setting(session, user, key, body.value)
    session.commit()
    return {key: body.value}


# -- audit ---------------------------------------------------------------------------------------


@router.get("/audit", tags=["audit"])
def audit_trail(session: DB, user: Annotated[User, Depends(require(Permission.AUDIT))],
                entity: Text | None = None, entity_id: RowId | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return [{"id": e.id, "at": e.at.isoformat(), "user_id": e.user_id, "action": e.action, "entity": e.entity,
             "entity_id": e.entity_id, "before": e.before, "after": e.after} for e in session.scalars(query)]


@router.get("/teams", tags=["users"])
def teams(session: DB, user: Annotated[User, Depends(require(Permission.VIEW))]) -> list[dict]:
    return [{"id": t.id, "name": t.name} for t in session.scalars(select(Team).order_by(Team.name))]

