"""The FastAPI application: ``create_app`` wires the workspace, authentication, the import worker,
the JSON API (``/api/v1``, OpenAPI at ``/api/docs``) and the server-rendered pages."""

from __future__ import annotations

import secrets
import threading
from contextlib import asynccontextmanager
from http import HTTPStatus
from urllib.parse import urlsplit
from pathlib import Path
from typing import Annotated, Callable, Sequence

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from sqlalchemy.orm import Session

from guifan.web.db import make_engine, migrate
from guifan.web.models import User
from guifan.web.notifications.mail import Mailer, MailSettings
from guifan.web.security import (
    SESSION_COOKIE,
    LoginForms,
    LoginThrottle,
    Permission,
    SecurityHeaders,
    Sessions,
    allowed,
    check_frame_ancestors,
    security_headers,
)
from guifan.web.services import Workspace, WorkspaceError
from guifan.web.uploads import RequestSizeLimit
from guifan.web.validation import chinese_errors

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
UPLOAD_PATHS = frozenset({"/api/v1/imports", "/imports"})  # bounded by max_request_mb
BODY_LIMIT = 16 * 1024 * 1024  # any other request; bigger batches go as file uploads
STATIC = Path(__file__).parent / "static"


class ImportWorker:
    """Runs import jobs one after another in a background thread; on start it resumes the jobs a
    stopped server left unfinished."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="guifan-import", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._wake.set()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.workspace.check_pool.close()  # the processes that checked big imports

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            for job_id in self.workspace.pending_jobs():
                if self._stop.is_set():
                    return
                self.workspace.run_import(job_id)


def create_app(
    db_url: str = "sqlite:///guifan.db",
    *,
    secret: str | None = None,
    secure_cookies: bool = False,
    worker: bool = True,
    max_upload_mb: int = 50,
    max_upload_files: int = 200,
    max_request_mb: int = 200,
    upload_dir: Path | None = None,
    import_jobs: int | None = None,
    frame_ancestors: Sequence[str] = (),
    assist_idle_seconds: float = 30 * 60,
    assist_meaning: bool = False,
    assist_transcriber=None,
    training_idle_seconds: float = 30 * 60,
    training_exam_seconds: float = 15 * 60,
    mail: MailSettings | None = None,
    mail_poll_seconds: float = 60,
) -> FastAPI:
    """``secret`` signs the login form's CSRF cookie (processes serving one workspace share it);
    ``import_jobs``: the processes that check a big import (default: the machine's cores);
    ``frame_ancestors``: origins allowed to embed the pages in a frame (none by default);
    ``assist_idle_seconds``: a live session without a message this long is ended and stored;
    ``assist_meaning``: live hints and drafts use the meaning stage too; ``assist_transcriber``: the
    recognizer of live audio streams (guifan.audio.asr), None for none; ``training_idle_seconds``: a
    practice attempt without an answer this long is stored as abandoned; ``training_exam_seconds``:
    the time of a 考核 attempt; ``mail``: the SMTP server notifications are mailed through (None: not
    mailed), which the mailer also looks at every ``mail_poll_seconds``."""
    frame_ancestors = check_frame_ancestors(frame_ancestors)
    engine = make_engine(db_url)
    migrate(engine)
    workspace = Workspace(engine, upload_dir or default_upload_dir(engine), import_jobs)
    importer = ImportWorker(workspace)
    from guifan.web.assist.service import LiveSessions

    assist = LiveSessions(workspace, idle_seconds=assist_idle_seconds, meaning=assist_meaning,
                          transcriber=assist_transcriber)
    from guifan.web.training.service import Training

    training = Training(workspace, idle_seconds=training_idle_seconds, exam_seconds=training_exam_seconds)
    mailer = Mailer(workspace, mail, poll_seconds=mail_poll_seconds) if mail is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if worker:
            importer.start()
        assist.start()
        if mailer is not None:
            mailer.start()
        yield
        if mailer is not None:
            mailer.stop()
        await assist.stop()
        if worker:
            importer.stop()
        engine.dispose()

    app = FastAPI(
        title="规范 Guifan QA 工作台",
        version="1",
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    app.state.importer = importer
    app.state.assist = assist
    app.state.training = training
    app.state.mailer = mailer
    app.state.sessions = Sessions()
    app.state.login_forms = LoginForms(secret or secrets.token_urlsafe(32))
    app.state.throttle = LoginThrottle()
    app.state.secure_cookies = secure_cookies
    app.state.max_upload_bytes = max_upload_mb * 1024 * 1024
    app.state.max_upload_files = max_upload_files
    app.state.frame_ancestors = frame_ancestors
    upload_limit = max_request_mb * 1024 * 1024
    app.add_middleware(RequestSizeLimit, limit_for=lambda path: upload_limit if path in UPLOAD_PATHS else BODY_LIMIT)
    app.add_middleware(SecurityHeaders, frame_ancestors=frame_ancestors)

    @app.exception_handler(WorkspaceError)
    async def _workspace_error(request: Request, exc: WorkspaceError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # A browser asking for a page without a session is sent to the login page; the API answers 401.
        if exc.status_code == 401 and request.method == "GET" and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", status_code=303)
        if wants_page(request):
            # Starlette's own details ("Not Found") are English; the app's are written in Chinese.
            own = isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase
            return error_page(request, exc.status_code, [exc.detail] if own else [], exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError):
        errors = chinese_errors(exc.errors())
        if wants_page(request):
            return error_page(request, 422, [e["msg"] for e in errors])
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception):
        # Starlette's outermost middleware sends this (outside SecurityHeaders, hence the headers here)
        # and re-raises the exception for the server's log; the client learns nothing of it.
        headers = security_headers(request.url.path, request.app.state.frame_ancestors)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "服务器内部错误"}, status_code=500, headers=headers)
        return error_page(request, 500, [], headers)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    from guifan.web import api, exemplars, pages
    from guifan.web.assist import api as assist_api, pages as assist_pages
    from guifan.web.conversations import api as conversations_api, pages as conversations_pages
    from guifan.web.dashboards import api as dashboards_api, pages as dashboards_pages
    from guifan.web.notifications import api as notifications_api, pages as notifications_pages
    from guifan.web.training import api as training_api, pages as training_pages
    from guifan.web.users import api as users_api, pages as users_pages

    app.include_router(api.router, prefix="/api/v1")
    app.include_router(exemplars.api, prefix="/api/v1")
    app.include_router(assist_api.router, prefix="/api/v1")
    app.include_router(conversations_api.router, prefix="/api/v1")
    app.include_router(dashboards_api.router, prefix="/api/v1")
    app.include_router(notifications_api.router, prefix="/api/v1")
    app.include_router(training_api.router, prefix="/api/v1")
    app.include_router(users_api.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(exemplars.pages)
    app.include_router(assist_pages.router)
    app.include_router(conversations_pages.router)
    app.include_router(dashboards_pages.router)
    app.include_router(notifications_pages.router)
    app.include_router(training_pages.router)
    app.include_router(users_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# -- error pages ---------------------------------------------------------------------------------

ERROR_PAGES = {
    400: ("请求无法处理", "提交的内容有误,请返回修改后重试。"),
    401: ("请先登录", "登录已过期或尚未登录。"),
    403: ("没有权限", "您的账号没有权限访问此页面或执行此操作。"),
    404: ("页面不存在", "您要找的页面或会话不存在,或不在您的查看范围内。"),
    405: ("请求方式不支持", "此地址不支持这种请求方式。"),
    413: ("内容过大", "上传或提交的内容超过了大小上限。"),
    422: ("请求参数有误", "地址或表单中的参数不符合要求:"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "服务器处理请求时出错,请稍后重试;问题持续时请联系管理员。"),
}


def wants_page(request: Request) -> bool:
    """A browser's request for a page (it accepts HTML and is not under /api/): errors as a page."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, details: list[str], headers: dict | None = None) -> Response:
    """The Chinese error page with a way back: the referring page of this site, and the home page."""
    from guifan.web.pages import render

    heading, explanation = ERROR_PAGES.get(status, ERROR_PAGES[500 if status >= 500 else 400])
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.url.netloc and referer.path.startswith("/") and referer.path != request.url.path
    back_url = referer.path + (f"?{referer.query}" if referer.query else "") if same_site else None
    response = render(request, "error.html", None, status_code=status, status=status, heading=heading,
                      explanation=explanation, details=details, back_url=back_url)
    response.headers.update(headers or {})
    return response


def default_upload_dir(engine) -> Path:
    """Uploads wait for their import beside an SQLite database file, else in ./guifan-uploads."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).with_name(Path(database).stem + "-uploads")
    return Path("guifan-uploads")


# -- request dependencies ------------------------------------------------------------------------


def db_session(request: Request):
    with request.app.state.workspace.sessions() as session:
        yield session


DB = Annotated[Session, Depends(db_session)]


def current_user(request: Request, session: DB) -> User | None:
    """The caller: a bearer API token, or a session cookie (then unsafe methods need the CSRF token)."""
    workspace: Workspace = request.app.state.workspace
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = workspace.user_for_token(session, header[7:].strip())
        if user is None:
            raise HTTPException(401, "API 令牌无效或已吊销")
        session.commit()
        request.state.via_token = True
        return user
    found = request.app.state.sessions.find(session, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    user, request.state.user_session = found
    request.state.csrf = request.state.user_session.csrf
    request.state.via_token = False
    return user


async def check_csrf(request: Request, user: User) -> None:
    if request.method not in UNSAFE_METHODS or getattr(request.state, "via_token", False):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf")
    if not sent or not secrets.compare_digest(str(sent), request.state.csrf):
        raise HTTPException(403, "CSRF 校验失败,请刷新页面后重试")


def require(permission: Permission) -> Callable:
    """A dependency: the signed-in user, who must hold ``permission`` (401 / 403 otherwise)."""

    async def dependency(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
        if user is None:
            raise HTTPException(401, "请先登录")
        if not allowed(user.role, permission):
            raise HTTPException(403, "没有权限")
        await check_csrf(request, user)
        return user

    return dependency
