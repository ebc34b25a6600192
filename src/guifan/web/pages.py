"""Server-rendered pages (Jinja2, autoescaped). Forms post to these routes with the CSRF token;
permissions and the conversation scope are the API's (the same dependencies and queries)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Callable
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, PackageLoader
from pydantic import ValidationError
from sqlalchemy import select

from guifan.engine import all_rules
from guifan.model import SEVERITY_LABELS
from guifan.readers import SUPPORTED_EXTENSIONS
from guifan.reporters.common import turn_record, valid_span
from guifan.reporters.html import Segment, audio_views, heard_label, highlight
from guifan.web import api, clock
from guifan.web.app import DB, require
from guifan.web.models import Appeal, Comment, Conversation, ImportJob, User
from guifan.web.security import LOGIN_FORM_COOKIE, LOGIN_FORM_SECONDS, Permission, allowed
from guifan.web.services import WorkspaceError, as_model, as_model_finding
from guifan.web.validation import RowId, Text, describe

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The recordings' timeline and voice metrics are the HTML report's (reporters/templates/_audio.*).
templates.env.loader = ChoiceLoader([templates.env.loader, PackageLoader("guifan.reporters", "templates")])
templates.env.globals["allowed"] = allowed
templates.env.globals["Permission"] = Permission

STATUS_NAMES = {"pending": "待复核", "reviewed": "已复核", "acknowledged": "已确认", "appealed": "申诉中",
                "closed": "已结案"}
FINDING_STATUS = {"open": "待确认", "confirmed": "已确认", "rejected": "已驳回"}
ROLE_NAMES = {"admin": "管理员", "supervisor": "质检主管", "reviewer": "质检员", "team_lead": "组长", "agent": "坐席",
              "trainee": "学员"}
EVIDENCE_NAMES = {"phrase": "原话", "sound": "读音", "meaning": "语义", "model": "模型", "timing": "时间", "voice": "语音"}
templates.env.globals.update(STATUS_NAMES=STATUS_NAMES, FINDING_STATUS=FINDING_STATUS, ROLE_NAMES=ROLE_NAMES,
                             EVIDENCE_NAMES=EVIDENCE_NAMES, UPLOAD_ACCEPT=",".join(SUPPORTED_EXTENSIONS))
# Readable JSON for the audit trail, as plain text: autoescaped like every other value.
templates.env.filters["json_text"] = lambda value: json.dumps(value, ensure_ascii=False)
templates.env.filters["when"] = clock.when  # stored UTC, read in the company's time
templates.env.globals["zone_label"] = clock.zone_label


def rule_titles(rulebook) -> dict[str, str]:
    """Every rule's title as people read it (its clauses' titles), by code: for the rule pickers."""
    return {code: rulebook.title_of(cls.clauses) for code, cls in sorted(all_rules().items())}


def active_rule_titles(request: Request, session) -> dict[str, str]:
    """``rule_titles`` of the workspace's active rulebook."""
    workspace = request.app.state.workspace
    return rule_titles(workspace.checker(workspace.active_rulebook(session)).engine.rulebook)


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf": getattr(request.state, "csrf", ""), **context}, status_code=status_code
    )


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_page_response(request: Request, status_code: int = 200, **context) -> HTMLResponse:
    """The login form with a fresh login CSRF token, in the form and in a cookie (double submit)."""
    cookie, field = request.app.state.login_forms.issue()
    response = render(request, "login.html", None, status_code=status_code, login_csrf=field, **context)
    response.set_cookie(LOGIN_FORM_COOKIE, cookie, max_age=LOGIN_FORM_SECONDS, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return login_page_response(request)


@router.post("/login")
def login_form(request: Request, session: DB, username: Annotated[Text, Form(max_length=64)],
               password: Annotated[Text, Form(max_length=256)],
               csrf: Annotated[Text, Form(max_length=100)] = "") -> Response:
    if not request.app.state.login_forms.valid(request.cookies.get(LOGIN_FORM_COOKIE), csrf):
        return login_page_response(request, 403, error="登录页面已过期或来源不明,请重新登录", username=username)
    response = back("/")
    try:
        api.sign_in(request, response, session, username, password)
    except HTTPException as exc:
        return login_page_response(request, exc.status_code, error=exc.detail, username=username)
    response.delete_cookie(LOGIN_FORM_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(require(Permission.VIEW))])
def logout_form(request: Request, session: DB) -> Response:
    response = back("/login")
    api.end_session(request, response, session)
    return response


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(conversation_id: RowId, request: Request, session: DB,
                      user: Annotated[User, Depends(require(Permission.VIEW))]) -> HTMLResponse:
    conversation = api.visible_conversation(session, user, conversation_id)
    appeals = {a.finding_id: a for a in session.scalars(select(Appeal).where(Appeal.conversation_id == conversation.id))}
    comments = list(session.scalars(select(Comment).where(Comment.conversation_id == conversation.id).order_by(Comment.id)))
    workspace = request.app.state.workspace
    rulebook = workspace.checker_for(conversation.rulebook_version).engine.rulebook
    # 待复核 first, then by id: the order of the findings beside each turn and of the review keys.
    findings = sorted(conversation.findings, key=lambda f: not f.awaits_review)
    by_turn: dict[int, list] = {}
    for finding in findings:
        if finding.turn is not None and 0 <= finding.turn < len(conversation.turns):
            by_turn.setdefault(finding.turn, []).append(finding)
    return render(request, "conversation.html", user, c=conversation, appeals=appeals, comments=comments,
                  by_turn=by_turn, loose=[f for f in findings if f.turn not in by_turn],
                  segments=[_segments(t["text"], by_turn.get(i, [])) for i, t in enumerate(conversation.turns)],
                  heard=_heard(conversation, rulebook), clause_title=rulebook.clause_title,
                  wording=rulebook.wording, severity_names={s.value: name for s, name in SEVERITY_LABELS.items()},
                  rules=rule_titles(rulebook), error=request.query_params.get("error"),
                  **_recording(conversation, rulebook))


# The recording's stylesheet is the HTML report's, which inlines it; the pages link it instead, as
# their Content-Security-Policy allows no inline style.
AUDIO_CSS = (resources.files("guifan.reporters") / "templates" / "_audio.css").read_text(encoding="utf-8")


@router.get("/audio.css")
def audio_stylesheet() -> Response:
    return Response(AUDIO_CSS, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})


def _recording(conversation: Conversation, rulebook) -> dict:
    """A recording's timeline and voice metrics, as the HTML report draws them (None for transcripts)."""
    if conversation.audio is None:
        return {"timeline": None, "voice": None, "transcribed": True}
    call = as_model(conversation)
    findings = [as_model_finding(f) for f in conversation.findings]
    anchors = [f"finding-{f.id}" for f in conversation.findings]
    return {**audio_views(call, findings, anchors, rulebook), "transcribed": call.audio.transcribed}


def _heard(conversation: Conversation, rulebook) -> list[dict]:
    """Per turn, what the recognizer made of recognized speech: 未识别, or its confidence and whether
    findings resting on it are in doubt (empty labels for typed text)."""
    records = [turn_record(n, turn, rulebook) for n, turn in enumerate(as_model(conversation).turns)]
    return [{"label": heard_label(r), "doubtful": r.get("asr", {}).get("doubtful", False),
             "unrecognized": r["unrecognized"]} for r in records]


def _segments(text: str, findings: list) -> list[Segment]:
    """The turn's text with the findings' spans marked, nested as the HTML report nests them.
    Escaping is the template's (autoescape): nothing here builds HTML."""
    marks = [(*span, f) for f in findings if (span := valid_span(as_model_finding(f), text))]
    return highlight(text, marks)


def failed(url: str, error: Exception | str) -> RedirectResponse:
    """Back to the page, which shows the error."""
    return back(f"{url}?error={quote(str(error))}")


def _act(session, conversation_id: int, call: Callable, *args) -> Response:
    """Run a workspace call (session first), commit, and go back to the conversation page."""
    try:
        call(session, *args)
        session.commit()
    except WorkspaceError as exc:
        return failed(f"/conversations/{conversation_id}", exc)
    return back(f"/conversations/{conversation_id}")


@router.post("/findings/{finding_id}/verdict")
def verdict_form(finding_id: RowId, request: Request, session: DB, confirmed: Annotated[bool, Form()],
                 user: Annotated[User, Depends(require(Permission.REVIEW))],
                 comment: Annotated[Text, Form(max_length=2000)] = "") -> Response:
    finding = api.visible_finding(session, user, finding_id)
    return _act(session, finding.conversation_id, request.app.state.workspace.set_verdict, user, finding, confirmed,
                comment)


@router.post("/conversations/{conversation_id}/findings")
def manual_finding_form(conversation_id: RowId, request: Request, session: DB, rule: Annotated[Text, Form(max_length=20)],
                        user: Annotated[User, Depends(require(Permission.REVIEW))],
                        turn: Annotated[Text, Form(max_length=6)] = "",
                        comment: Annotated[Text, Form(max_length=2000)] = "",
                        quote: Annotated[Text, Form(max_length=200)] = "") -> Response:
    conversation = api.visible_conversation(session, user, conversation_id)
    # The page numbers turns from 1; isdigit() would take "²", which int() refuses.
    at = int(turn) - 1 if turn.strip().isdecimal() and int(turn) > 0 else None
    return _act(session, conversation_id, request.app.state.workspace.add_manual_finding, user, conversation, rule, at,
                comment, quote)


@router.post("/conversations/{conversation_id}/comments")
def comment_form(conversation_id: RowId, request: Request, session: DB, text: Annotated[Text, Form(max_length=5000)],
                 user: Annotated[User, Depends(require(Permission.REVIEW))]) -> Response:
    conversation = api.visible_conversation(session, user, conversation_id)
    return _act(session, conversation_id, request.app.state.workspace.comment, user, conversation, text)


@router.post("/conversations/{conversation_id}/review")
def review_form(conversation_id: RowId, request: Request, session: DB,
                user: Annotated[User, Depends(require(Permission.REVIEW))]) -> Response:
    conversation = api.visible_conversation(session, user, conversation_id)
    return _act(session, conversation_id, request.app.state.workspace.complete_review, user, conversation)


@router.post("/conversations/{conversation_id}/acknowledge")
def acknowledge_form(conversation_id: RowId, request: Request, session: DB,
                     user: Annotated[User, Depends(require(Permission.APPEAL))]) -> Response:
    conversation = api.visible_conversation(session, user, conversation_id)
    return _act(session, conversation_id, request.app.state.workspace.acknowledge, user, conversation)


@router.post("/findings/{finding_id}/appeal")
def appeal_form(finding_id: RowId, request: Request, session: DB, reason: Annotated[Text, Form(max_length=5000)],
                user: Annotated[User, Depends(require(Permission.APPEAL))]) -> Response:
    finding = api.visible_finding(session, user, finding_id)
    return _act(session, finding.conversation_id, request.app.state.workspace.appeal, user, finding, reason)


@router.post("/appeals/{appeal_id}/decision")
def decision_form(appeal_id: RowId, request: Request, session: DB, accept: Annotated[bool, Form()],
                  user: Annotated[User, Depends(require(Permission.DECIDE))],
                  decision: Annotated[Text, Form(max_length=5000)] = "") -> Response:
    row = session.get(Appeal, appeal_id)
    if row is None:
        raise HTTPException(404, "没有这个申诉")
    request.app.state.workspace.decide(session, user, row, accept, decision)
    session.commit()
    return back("/appeals")


@router.get("/calibration", response_class=HTMLResponse)
def calibration_page(request: Request, session: DB,
                     user: Annotated[User, Depends(require(Permission.CALIBRATE))]) -> HTMLResponse:
    return render(request, "calibration.html", user, cal=api.calibration_figures(session, user),
                  titles=active_rule_titles(request, session),
                  error=request.query_params.get("error"))


@router.post("/sampling")
def sampling_form(request: Request, session: DB, per_agent: Annotated[Text, Form(max_length=10)],
                  week: Annotated[Text, Form(max_length=20)],
                  user: Annotated[User, Depends(require(Permission.DECIDE))]) -> Response:
    """The form's fields are checked by the API's model, so that a wrong one is shown on the page."""
    try:
        body = api.SamplingIn(per_agent=per_agent, week=week)
    except ValidationError as exc:
        return failed("/calibration", describe(exc))
    try:
        api.sampling(body, session, user)
    except WorkspaceError as exc:
        return failed("/calibration", exc)
    return back("/calibration")


@router.get("/rulebook", response_class=HTMLResponse)
def rulebook_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))]) -> HTMLResponse:
    return render(request, "rulebook.html", user, rb=api.rulebook_info(request, session, user),
                  error=request.query_params.get("error"), tried=None)


@router.post("/rulebook")
async def publish_form(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.RULEBOOK))],
                       override_yaml: Annotated[Text, Form(max_length=api.OVERRIDE_MAX_CHARS)] = "",
                       file: Annotated[UploadFile | None, File()] = None) -> Response:
    text = override_yaml
    if file is not None and file.filename:
        text = (await file.read(4 * api.OVERRIDE_MAX_CHARS)).decode("utf-8", errors="replace")  # UTF-8: ≤ 4 bytes a character
        if len(text) > api.OVERRIDE_MAX_CHARS:
            return failed("/rulebook", f"规则文件过大 (最多 {api.OVERRIDE_MAX_CHARS} 个字符)")
    try:
        request.app.state.workspace.publish_rulebook(session, user, text)
        session.commit()
    except WorkspaceError as exc:
        return failed("/rulebook", exc)
    return back("/rulebook")


@router.post("/rulebook/try", response_class=HTMLResponse)
def try_form(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.RULEBOOK))],
             transcript: Annotated[Text, Form(max_length=api.TRANSCRIPT_MAX_CHARS)],
             override_yaml: Annotated[Text, Form(max_length=api.OVERRIDE_MAX_CHARS)] = "",
             rules: Annotated[Text, Form(max_length=500)] = "") -> HTMLResponse:
    info = api.rulebook_info(request, session, user)
    try:
        body = api.TryIn(override_yaml=override_yaml, transcript=transcript,
                         rules=[r.strip() for r in rules.split(",") if r.strip()])
        tried = api.try_rulebook(body, user)
    except (WorkspaceError, ValidationError) as exc:
        error = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        return render(request, "rulebook.html", user, rb=info, error=error, tried=None, transcript=transcript,
                      draft=override_yaml, status_code=400)
    return render(request, "rulebook.html", user, rb=info, tried=tried, transcript=transcript, draft=override_yaml)


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.IMPORT))]) -> HTMLResponse:
    jobs = list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(20)))
    return render(request, "imports.html", user, jobs=jobs, error=request.query_params.get("error"))


@router.post("/imports")
async def import_form(request: Request, session: DB, files: Annotated[list[UploadFile], File()],
                      user: Annotated[User, Depends(require(Permission.IMPORT))]) -> Response:
    try:
        await api.start_import(request, session, user, files)
    except WorkspaceError as exc:
        return failed("/imports", exc)
    return back("/imports")
