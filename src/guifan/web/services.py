"""What the QA workspace does, independent of HTTP: import and check, review (复核), acknowledgement
and appeal (申诉), rescoring, the rulebook's versions, users, and the audit trail.

Every change that a person makes goes through here and leaves an ``AuditEntry`` (who, when,
before/after). Routes (``guifan.web.api``, ``guifan.web.pages``) only translate HTTP to these calls
and enforce who may call them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from threading import Lock
from typing import Any, BinaryIO, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Engine, Select, delete, func, select
from sqlalchemy.orm import Session

from guifan import model
from guifan.engine import Engine as RuleEngine
from guifan.engine import get_rule
from guifan.errors import GuifanError
from guifan.privacy import mask_personal_data
from guifan.readers.fields import build
from guifan.rulebook import Rulebook, load_rulebook
from guifan.scoring import Checker, CheckResult
from guifan.web import history, uploads
from guifan.web.clock import aware
from guifan.web.db import session_factory
from guifan.web.imports.checking import CheckPool
from guifan.web.imports.records import Record, categories, record
from guifan.web.imports import service as imports
from guifan.web.uploads import StoredUpload
from guifan.web.models import (
    ApiToken,
    Appeal,
    Assignment,
    AppealStatus,
    AuditEntry,
    Comment,
    Conversation,
    Finding,
    FindingStatus,
    ImportFile,
    ImportJob,
    JobStatus,
    ReviewStatus,
    RulebookVersion,
    Setting,
    Team,
    User,
    UserRole,
    UserSession,
    Verdict,
    utcnow,
)

DEFAULTS: dict[str, Any] = {
    "mask_personal_data": True,  # mask mobile, ID-card and bank-card numbers in stored text
    "appeal_window_days": 7,  # an agent may appeal this many days after the review
    "training_ready_score": 80,  # 陪练: ready = every 考核 scenario passed in an exam at this score or more
}
KEY_SETTING = "conversation_key_secret"  # made by migration 0004; see Workspace.conversation_key
_hasher = PasswordHasher()


class WorkspaceError(GuifanError):
    """A request that cannot be carried out (shown to the user as is)."""


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise WorkspaceError("密码至少 8 位")


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
EMAIL_MAX = 254


def check_email(address: str) -> str:
    """An e-mail address as notifications are mailed to it: one address, no spaces or line breaks."""
    if len(address) > EMAIL_MAX or not EMAIL.fullmatch(address):
        raise WorkspaceError(f"邮箱地址格式不正确: {address[:EMAIL_MAX]}")
    return address


def _role(role: UserRole | str) -> UserRole:
    try:
        return UserRole(role)
    except ValueError:
        raise WorkspaceError(f"没有角色 {role},可选: {' / '.join(r.value for r in UserRole)}") from None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(session: Session, user: User | None, action: str, entity: str, entity_id: int | None,
          before: dict | None = None, after: dict | None = None) -> None:
    session.add(AuditEntry(user_id=user.id if user else None, action=action, entity=entity, entity_id=entity_id,
                           before=before, after=after))


def visible(query: Select, user: User) -> Select:
    """Restrict a conversation query to what the user may see: agents (and trainees) their own, team
    leads their team's."""
    if user.role in (UserRole.AGENT, UserRole.TRAINEE):
        return query.where(Conversation.agent_id == user.id)
    if user.role == UserRole.TEAM_LEAD:
        return query.where(Conversation.team_id == user.team_id)
    return query


def can_see(user: User, conversation: Conversation) -> bool:
    if user.role in (UserRole.AGENT, UserRole.TRAINEE):
        return conversation.agent_id == user.id
    if user.role == UserRole.TEAM_LEAD:
        return user.team_id is not None and conversation.team_id == user.team_id
    return True


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {"id": finding.id, "rule": finding.rule, "status": finding.status, "manual": finding.manual,
            "turn": finding.turn, "quote": finding.quote, "comment": finding.comment}


class Workspace:
    """The application's state: the database and a checker per rulebook version."""

    def __init__(self, engine: Engine, upload_dir: Path | None = None, import_jobs: int | None = None):
        self.engine = engine
        self.sessions = session_factory(engine)
        self.upload_dir = upload_dir  # where uploads are streamed to (needed to receive, not to import)
        # Imported recordings, kept for the conversation page's player: beside the upload folder.
        self.recording_dir = recordings_beside(upload_dir) if upload_dir is not None else None
        self._checkers: dict[int, Checker] = {}
        self._lock = Lock()
        self._key_secret: bytes | None = None
        # Worker processes that check big imports (``import_jobs``, default: the machine's cores),
        # used for jobs of ``parallel_from`` conversations and more.
        self.check_pool = CheckPool(import_jobs)
        self.parallel_from = imports.PARALLEL_FROM

    # -- settings -------------------------------------------------------------------------------

    def setting(self, session: Session, key: str) -> Any:
        row = session.get(Setting, key)
        return row.value["value"] if row else DEFAULTS[key]

    def set_setting(self, session: Session, user: User, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise WorkspaceError(f"没有设置项 {key}")
        before = self.setting(session, key)
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value={"value": value}))
        else:
            row.value = {"value": value}
        audit(session, user, "setting.update", "setting", None, {key: before}, {key: value})

    def clean(self, session: Session, text: str) -> str:
        """Text people type (comments, appeal reasons, decisions) as it is stored: masked like the
        transcripts when personal data is masked."""
        return mask_personal_data(text) if self.setting(session, "mask_personal_data") else text

    # -- rulebook versions ----------------------------------------------------------------------

    def active_rulebook(self, session: Session) -> RulebookVersion:
        row = session.scalars(select(RulebookVersion).where(RulebookVersion.active.is_(True))).first()
        if row is None:
            row = RulebookVersion(version=1, override_yaml="", origin="default", active=True)
            session.add(row)
            session.flush()
        return row

    def checker(self, version: RulebookVersion) -> Checker:
        with self._lock:
            found = self._checkers.get(version.version)
            if found is None:
                found = self._checkers[version.version] = Checker(RuleEngine(rulebook_from_yaml(version.override_yaml)))
            return found

    def publish_rulebook(self, session: Session, user: User, override_yaml: str) -> RulebookVersion:
        """Validate a company override and make it the active rulebook (a new version)."""
        rulebook = rulebook_from_yaml(override_yaml)  # raises GuifanError naming line and key
        RuleEngine(rulebook)  # compiles every phrase: an unusable one fails here, not mid-import
        current = self.active_rulebook(session)
        newest = session.scalar(select(RulebookVersion.version).order_by(RulebookVersion.version.desc()).limit(1))
        row = RulebookVersion(version=(newest or 0) + 1, override_yaml=override_yaml, origin=rulebook.origin,
                              created_by=user.id, active=True)
        current.active = False
        session.add(row)
        session.flush()
        audit(session, user, "rulebook.publish", "rulebook", row.id, {"version": current.version},
              {"version": row.version})
        return row

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, session: Session, username: str, password: str, role: UserRole | str, *,
                 team: str | None = None, agent_code: str | None = None, display_name: str = "",
                 by: User | None = None) -> User:
        _check_password(password)
        if session.scalar(select(User).where(User.username == username)):
            raise WorkspaceError(f"用户 {username} 已存在")
        self._agent_code_free(session, agent_code, None)
        team_row = self.team(session, team) if team else None
        user = User(username=username, password_hash=hash_password(password), role=_role(role),
                    team_id=team_row.id if team_row else None, agent_code=agent_code or None,
                    display_name=display_name or username)
        session.add(user)
        session.flush()
        self._link_conversations(session, user)
        audit(session, by, "user.create", "user", user.id, None, {"username": username, "role": user.role})
        return user

    def user_named(self, session: Session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise WorkspaceError(f"没有用户 {username}")
        return user

    def users(self, session: Session) -> list[User]:
        """Every user, disabled ones too, in the order they were created."""
        return list(session.scalars(select(User).order_by(User.id)))

    def update_user(self, session: Session, user: User, *, role: UserRole | str | None = None,
                    team: str | None = None, agent_code: str | None = None, display_name: str | None = None,
                    email: str | None = None, by: User | None = None) -> dict[str, tuple[Any, Any]]:
        """Change a user's role, team (``""``: no team), agent code (``""``: none), display name or
        e-mail address for notifications (``""``: none);
        None leaves a field as it is. Returns what changed, ``{field: (before, after)}``.
        A team change applies to conversations imported from now on: those already imported stay
        with the team the agent was in (the team lead of the time reviewed them)."""
        changes: dict[str, tuple[Any, Any]] = {}
        if role is not None and _role(role) != user.role:
            if user.role == UserRole.ADMIN:
                self._keep_an_admin(session, user)
            changes["role"] = (str(user.role), str(_role(role)))
            user.role = _role(role)
        if team is not None:
            before = user.team.name if user.team else None
            row = self.team(session, team) if team else None
            if (row.name if row else None) != before:
                changes["team"] = (before, row.name if row else None)
                user.team_id, user.team = (row.id, row) if row else (None, None)
        if agent_code is not None and (agent_code or None) != user.agent_code:
            self._agent_code_free(session, agent_code, user)
            changes["agent_code"] = (user.agent_code, agent_code or None)
            for conversation in session.scalars(select(Conversation).where(Conversation.agent_id == user.id)):
                conversation.agent_id = conversation.team_id = None  # the old code's calls are not theirs
            user.agent_code = agent_code or None
            session.flush()
            self._link_conversations(session, user)
        if display_name is not None and display_name != user.display_name:
            changes["display_name"] = (user.display_name, display_name)
            user.display_name = display_name
        if email is not None and (email.strip() or None) != user.email:
            changes["email"] = (user.email, check_email(email.strip()) if email.strip() else None)
            user.email = changes["email"][1]
        if changes:
            session.flush()
            audit(session, by, "user.update", "user", user.id, {k: v[0] for k, v in changes.items()},
                  {k: v[1] for k, v in changes.items()})
        return changes

    def set_active(self, session: Session, user: User, active: bool, by: User | None = None) -> bool:
        """Enable or disable a user; a disabled user is signed out everywhere and cannot sign in or
        use their API tokens. Returns whether anything changed."""
        if user.active == active:
            return False
        if not active and user.role == UserRole.ADMIN:
            self._keep_an_admin(session, user)
        user.active = active
        if not active:
            session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        audit(session, by, "user.enable" if active else "user.disable", "user", user.id,
              {"active": not active}, {"active": active})
        return True

    def set_password(self, session: Session, user: User, password: str, by: User | None = None) -> None:
        """A new password; the user's browser sessions end (API tokens stay valid)."""
        _check_password(password)
        user.password_hash = hash_password(password)
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        audit(session, by, "user.password", "user", user.id)  # the password itself is never recorded

    @staticmethod
    def _keep_an_admin(session: Session, user: User) -> None:
        others = session.scalar(select(func.count(User.id)).where(
            User.role == UserRole.ADMIN, User.active.is_(True), User.id != user.id))
        if not others:
            raise WorkspaceError(f"{user.username} 是唯一启用的管理员:请先指定另一名管理员")

    @staticmethod
    def _agent_code_free(session: Session, agent_code: str | None, user: User | None) -> None:
        if agent_code:
            owner = session.scalar(select(User.id).where(User.agent_code == agent_code))
            if owner is not None and (user is None or owner != user.id):
                raise WorkspaceError(f"坐席工号 {agent_code} 已属于另一个用户")

    @staticmethod
    def _link_conversations(session: Session, user: User) -> None:
        """Conversations imported before the agent had an account (or this code) become theirs."""
        if user.agent_code:
            for conversation in session.scalars(select(Conversation).where(Conversation.agent_code == user.agent_code)):
                conversation.agent_id, conversation.team_id = user.id, user.team_id

    def team(self, session: Session, name: str) -> Team:
        row = session.scalar(select(Team).where(Team.name == name))
        if row is None:
            row = Team(name=name)
            session.add(row)
            session.flush()
        return row

    def authenticate(self, session: Session, username: str, password: str) -> User | None:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            verify_password(_DUMMY_HASH, password)  # same work whether or not the user exists
            return None
        return user if verify_password(user.password_hash, password) else None

    def create_token(self, session: Session, user: User, name: str) -> str:
        """A new API token for integrations; only its digest is stored, the secret is shown once."""
        secret = "gf_" + secrets.token_urlsafe(32)
        row = ApiToken(user_id=user.id, name=name, token_hash=token_digest(secret))
        session.add(row)
        session.flush()
        audit(session, user, "token.create", "api_token", row.id, None, {"name": name})
        return secret

    def user_for_token(self, session: Session, secret: str) -> User | None:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(secret),
                                                    ApiToken.revoked.is_(False)))
        if row is None or not row.user.active:
            return None
        # At most one write a minute per token: a read must not take SQLite's write lock (with an
        # import writing, concurrent requests would fail with "database is locked").
        now = utcnow()
        if row.last_used_at is None or now - aware(row.last_used_at) >= timedelta(minutes=1):
            row.last_used_at = now
        return row.user

    # -- import ---------------------------------------------------------------------------------

    def receive(self, name: str | None, source: BinaryIO | bytes, limit: int) -> StoredUpload:
        """Stream an upload to the upload folder (see ``guifan.web.uploads``)."""
        if self.upload_dir is None:
            raise WorkspaceError("服务器没有配置上传目录")
        try:
            return uploads.store(self.upload_dir, name, source, limit)
        except uploads.UploadTooLarge as exc:
            raise WorkspaceError(str(exc)) from None

    def create_import(self, session: Session, user: User | None, files: Iterable[StoredUpload]) -> ImportJob:
        job = ImportJob(created_by=user.id if user else None)
        for upload in files:
            job.files.append(ImportFile(name=upload.name, path=str(upload.path), size=upload.size))
        session.add(job)
        session.flush()
        audit(session, user, "import.create", "import_job", job.id, None, {"files": [f.name for f in job.files]})
        return job

    def pending_jobs(self) -> list[int]:
        """Jobs not finished: new ones and those a stopped worker left running (to resume)."""
        with self.sessions() as session:
            return list(session.scalars(select(ImportJob.id).where(ImportJob.status != JobStatus.DONE)
                                        .order_by(ImportJob.id)))

    def run_import(self, job_id: int) -> None:
        """Read, check and store every conversation of a job's files (``guifan.web.imports.service``):
        a job interrupted at any point resumes after its last commit."""
        imports.run_import(self, job_id)

    def keep_recording(self, session: Session, conversation_id: str, upload: Path) -> None:
        """Keep a recording's upload as its conversation's audio (named by the row id)."""
        if self.recording_dir is None:
            return
        key = self.conversation_key(session, conversation_id)
        row = session.scalar(select(Conversation).where(Conversation.external_key == key))
        name = uploads.keep_recording(upload, self.recording_dir, str(row.id))
        if row.recording and row.recording != name:  # re-imported in another format
            (self.recording_dir / row.recording).unlink(missing_ok=True)
        row.recording = name

    def recording_path(self, conversation: Conversation) -> Path | None:
        """The conversation's kept recording on disk, None when it has none (or the file is gone)."""
        if not conversation.recording or self.recording_dir is None:
            return None
        path = self.recording_dir / conversation.recording
        return path if path.is_file() else None

    def conversation_key(self, session: Session, conversation_id: str) -> str:
        """The key a conversation is found by on re-import: a keyed hash of its id as imported, so
        that the id people read may be masked and still nothing is stored twice."""
        if self._key_secret is None:
            row = session.get(Setting, KEY_SETTING)
            if row is None:  # a database the 0004 migration did not create the secret in
                row = Setting(key=KEY_SETTING, value={"value": secrets.token_hex(32)})
                session.add(row)
                session.flush()
            self._key_secret = row.value["value"].encode()
        return hmac.new(self._key_secret, conversation_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def store(self, session: Session, result: CheckResult, version: int, mask: bool,
              job_id: int | None = None) -> dict[str, Any] | None:
        """Insert or update a checked conversation with its automatic findings (``store_record``)."""
        return self.store_record(session, record(result, self.checker_for(version), version, mask), job_id)

    def store_record(self, session: Session, checked: Record, job_id: int | None = None) -> dict[str, Any] | None:
        """Insert or update a checked conversation with its automatic findings.

        A conversation imported again gets the new transcript and findings. When it had review work,
        that work is kept (``guifan.web.history``): the earlier state as a version, verdicts and
        appeals of unchanged findings carried over, the rest marked for re-review; the returned
        outcome says which (None for a conversation without review work).
        """
        key = self.conversation_key(session, checked.source_id)
        row = session.scalar(select(Conversation).where(Conversation.external_key == key))
        code = checked.row["agent_code"]
        agent = session.scalar(select(User).where(User.agent_code == code)) if code else None
        if row is None:
            row = Conversation(external_key=key, version=1, findings=[])
        turns = checked.row["turns"]
        fresh = [Finding(**f) for f in checked.findings]
        reviewed = history.has_review_work(session, row)
        merged = history.merge(row.findings, fresh, row.turns or [], turns)
        unchanged = reviewed and not merged.new and not merged.removed and turns == row.turns
        if unchanged:
            return history.outcome(session, row, merged, unchanged=True)
        report = None
        if reviewed:
            history.keep_version(session, row, job_id)
            report = history.outcome(session, row, merged, unchanged=False)  # before the removed findings go
        for column, value in checked.row.items():
            setattr(row, column, value)
        row.final_score = None
        row.agent_id = agent.id if agent else None
        row.team_id = agent.team_id if agent else None
        row.review_status = ReviewStatus.PENDING
        row.reviewed_by = row.reviewed_at = row.acknowledged_at = None
        manual = [f for f in row.findings if f.manual]
        for finding in manual:  # a reviewer's finding stays; on a turn the new transcript lacks, on none
            if finding.turn is not None and finding.turn >= len(turns):
                finding.turn = None
        row.findings = [*merged.kept, *merged.new, *manual]
        self._count(row)
        if any(f.status != FindingStatus.OPEN for f in row.findings):
            self.rescore(row)  # carried verdicts and manual findings count in the final score
        session.add(row)
        session.flush()
        notifications().findings_found(session, row, merged.new)
        return report

    def checker_for(self, version: int) -> Checker:
        """The checker of a rulebook version (cached; results keep the version they were checked with)."""
        found = self._checkers.get(version)
        if found is not None:
            return found
        with self.sessions() as session:
            row = session.scalar(select(RulebookVersion).where(RulebookVersion.version == version))
            if row is None:
                raise WorkspaceError(f"没有规则手册版本 {version}")
            return self.checker(row)

    @staticmethod
    def _apply_final_score(row: Conversation, score) -> None:
        row.final_score = score.total
        row.category_scores = categories(score)

    # -- review (复核) ---------------------------------------------------------------------------

    def rescore(self, conversation: Conversation) -> None:
        """The final score and the count of findings awaiting review. Confirmed findings (manual
        ones included) count, rejected ones do not, open ones as the rulebook counts them unreviewed."""
        scorer = self.checker_for(conversation.rulebook_version).scorer
        kept = []
        for row in conversation.findings:
            finding = as_model_finding(row)
            if row.status == FindingStatus.CONFIRMED or (row.status == FindingStatus.OPEN and scorer.counts(finding)):
                kept.append(finding)
        self._apply_final_score(conversation, scorer.score(kept, reviewed=True))
        self._count(conversation)

    @staticmethod
    def _count(conversation: Conversation) -> None:
        """Findings awaiting review and findings that stand, kept in columns, so that lists sort and
        filter by them."""
        conversation.uncertain = sum(f.awaits_review for f in conversation.findings)
        conversation.standing = sum(f.status != FindingStatus.REJECTED for f in conversation.findings)

    def set_verdict(self, session: Session, user: User, finding: Finding, confirmed: bool, comment: str = "") -> None:
        before = finding_dict(finding)
        verdicts = list(session.scalars(select(Verdict).where(Verdict.finding_id == finding.id)))
        mine = next((v for v in verdicts if v.reviewer_id == user.id), None)
        if mine is None:
            session.add(Verdict(finding_id=finding.id, reviewer_id=user.id, confirmed=confirmed))
        else:
            mine.confirmed = confirmed
        # A second reviewer (calibration sample) is recorded for agreement; the first decides.
        if all(v.reviewer_id == user.id for v in verdicts):
            finding.status = FindingStatus.CONFIRMED if confirmed else FindingStatus.REJECTED
        if comment:
            finding.comment = self.clean(session, comment)
        self.rescore(finding.conversation)
        audit(session, user, "finding.verdict", "finding", finding.id, before, finding_dict(finding))
        if finding.status == FindingStatus.REJECTED and not finding.manual:
            teaching().propose_near_miss(session, user, finding)

    def add_manual_finding(self, session: Session, user: User, conversation: Conversation, rule: str,
                           turn: int | None, comment: str, quote: str = "") -> Finding:
        """A finding the check missed; ``quote``: the words of ``turn`` it is about (else the whole
        turn). Of a rule with meaning-stage acts, they are proposed as an exemplar of each act."""
        try:
            cls = get_rule(rule)
        except KeyError:
            raise WorkspaceError(f"没有规则 {rule}") from None
        if turn is not None and not 0 <= turn < len(conversation.turns):
            raise WorkspaceError(f"没有第 {turn + 1} 轮 (本对话共 {len(conversation.turns)} 轮)")
        quote = quote.strip()
        if quote and (turn is None or quote not in conversation.turns[turn]["text"]):
            raise WorkspaceError("原话应是所选轮次中的文字" if turn is not None else "填写原话时请同时填写轮次")
        checker = self.checker_for(conversation.rulebook_version)
        rulebook, scorer = checker.engine.rulebook, checker.scorer
        words = quote or (conversation.turns[turn]["text"] if turn is not None else "")
        comment = self.clean(session, comment)
        finding = Finding(
            manual=True, rule=cls.code, clauses=list(cls.clauses), severity=cls.severity.value,
            category=scorer.category_of(cls.code), turn=turn, quote=words[:200],
            message=comment or cls.what, suggestion=next(iter(rulebook.wording(cls.clauses[0])), ""),
            status=FindingStatus.CONFIRMED, comment=comment, created_by=user.id,
        )
        conversation.findings.append(finding)
        session.flush()
        self.rescore(conversation)
        audit(session, user, "finding.add", "finding", finding.id, None, finding_dict(finding))
        teaching().propose_missed(session, user, finding, words)
        return finding

    def comment(self, session: Session, user: User, conversation: Conversation, text: str) -> Comment:
        if not text.strip():
            raise WorkspaceError("评论不能为空")
        row = Comment(conversation_id=conversation.id, user_id=user.id, text=self.clean(session, text.strip()))
        session.add(row)
        session.flush()
        audit(session, user, "comment.add", "conversation", conversation.id, None, {"comment": row.text})
        return row

    def complete_review(self, session: Session, user: User, conversation: Conversation) -> None:
        before = {"review_status": conversation.review_status, "final_score": conversation.final_score}
        for finding in conversation.findings:
            if finding.status == FindingStatus.OPEN:
                self.set_verdict(session, user, finding, confirmed=True)
        self.rescore(conversation)
        for assignment in session.scalars(select(Assignment).where(Assignment.conversation_id == conversation.id,
                                                                   Assignment.reviewer_id == user.id)):
            assignment.done = True
        conversation.review_status = ReviewStatus.REVIEWED
        conversation.reviewed_by, conversation.reviewed_at = user.id, utcnow()
        audit(session, user, "review.complete", "conversation", conversation.id, before,
              {"review_status": conversation.review_status, "final_score": conversation.final_score})

    # -- acknowledgement and appeal (申诉) -------------------------------------------------------

    def _reviewed_for_agent(self, session: Session, user: User, conversation: Conversation) -> None:
        if conversation.agent_id != user.id:
            raise WorkspaceError("只能处理自己的会话")
        if conversation.review_status == ReviewStatus.PENDING:
            raise WorkspaceError("会话尚未复核")

    def acknowledge(self, session: Session, user: User, conversation: Conversation) -> None:
        self._reviewed_for_agent(session, user, conversation)
        before = {"review_status": conversation.review_status}
        conversation.acknowledged_at = utcnow()
        if conversation.review_status == ReviewStatus.REVIEWED:
            conversation.review_status = ReviewStatus.ACKNOWLEDGED
        audit(session, user, "review.acknowledge", "conversation", conversation.id, before,
              {"review_status": conversation.review_status})

    def appeal(self, session: Session, user: User, finding: Finding, reason: str) -> Appeal:
        conversation = finding.conversation
        self._reviewed_for_agent(session, user, conversation)
        if not reason.strip():
            raise WorkspaceError("请填写申诉理由")
        if finding.status == FindingStatus.REJECTED:
            raise WorkspaceError("该问题已被驳回,无需申诉")
        window = int(self.setting(session, "appeal_window_days"))
        reviewed_at = aware(conversation.reviewed_at)
        if reviewed_at and utcnow() - reviewed_at > timedelta(days=window):
            raise WorkspaceError(f"已超过申诉期限 (复核后 {window} 天内)")
        if session.scalar(select(Appeal).where(Appeal.finding_id == finding.id, Appeal.status == AppealStatus.PENDING)):
            raise WorkspaceError("该问题已有待处理的申诉")
        row = Appeal(finding_id=finding.id, conversation_id=conversation.id, agent_id=user.id,
                     reason=self.clean(session, reason.strip()))
        session.add(row)
        before = {"review_status": conversation.review_status}
        conversation.review_status = ReviewStatus.APPEALED
        session.flush()
        audit(session, user, "appeal.create", "appeal", row.id, before,
              {"finding": finding.id, "reason": row.reason, "review_status": conversation.review_status})
        return row

    def decide(self, session: Session, user: User, appeal: Appeal, accept: bool, decision: str) -> None:
        if appeal.status != AppealStatus.PENDING:
            raise WorkspaceError("该申诉已处理")
        finding = session.get(Finding, appeal.finding_id)
        conversation = finding.conversation
        before = {"appeal": appeal.status, "finding": finding.status, "final_score": conversation.final_score}
        appeal.status = AppealStatus.ACCEPTED if accept else AppealStatus.DENIED
        appeal.decided_by, appeal.decided_at, appeal.decision = user.id, utcnow(), self.clean(session, decision.strip())
        if accept:
            finding.status = FindingStatus.REJECTED
            self.rescore(conversation)
        open_appeals = session.scalar(select(Appeal.id).where(Appeal.conversation_id == conversation.id,
                                                              Appeal.status == AppealStatus.PENDING, Appeal.id != appeal.id))
        if open_appeals is None:
            conversation.review_status = ReviewStatus.CLOSED
        audit(session, user, "appeal.decide", "appeal", appeal.id, before,
              {"appeal": appeal.status, "finding": finding.status, "final_score": conversation.final_score})
        notifications().appeal_decided(session, appeal)


# -- calibration and sampling ---------------------------------------------------------------------


def calibration(session: Session) -> dict[str, Any]:
    """Per rule: the share of reviewed automatic findings that reviewers rejected (false alarms) and
    the manual findings reviewers had to add (what the rules missed); for findings judged by two
    reviewers, their agreement (Cohen's kappa)."""
    rules: dict[str, dict[str, int]] = {}
    for f in session.scalars(select(Finding)):
        row = rules.setdefault(f.rule, {"automatic": 0, "reviewed": 0, "rejected": 0, "manual": 0})
        if f.manual:
            row["manual"] += 1
            continue
        row["automatic"] += 1
        if f.status != FindingStatus.OPEN:
            row["reviewed"] += 1
            row["rejected"] += f.status == FindingStatus.REJECTED
    manual_total = sum(r["manual"] for r in rules.values())
    table = [
        {"rule": rule, **row,
         "false_alarm_rate": row["rejected"] / row["reviewed"] if row["reviewed"] else None,
         "missed_share": row["manual"] / manual_total if manual_total else None}
        for rule, row in sorted(rules.items())
    ]
    pairs: dict[int, list[bool]] = {}
    for verdict in session.scalars(select(Verdict).order_by(Verdict.id)):
        pairs.setdefault(verdict.finding_id, []).append(verdict.confirmed)
    double = [(v[0], v[1]) for v in pairs.values() if len(v) >= 2]
    return {"rules": table, "double_reviewed": len(double), "kappa": cohen_kappa(double)}


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """Agreement of two raters on yes/no judgements beyond chance; None without data, 1.0 when both
    always give the same single answer."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    yes_a = sum(a for a, _ in pairs) / n
    yes_b = sum(b for _, b in pairs) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1 - expected)


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def assign_sample(session: Session, user: User, per_agent: int, week: str, seed: int | None = None) -> list[Assignment]:
    """A sampling plan: for each agent, ``per_agent`` random conversations of the ISO week, not yet
    assigned, dealt to the reviewers in turn."""
    import random

    reviewers = list(session.scalars(select(User).where(User.role == UserRole.REVIEWER, User.active.is_(True))
                                     .order_by(User.id)))
    if not reviewers:
        raise WorkspaceError("没有质检员可分配")
    year, number = week.split("-W")
    start = datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=7)
    taken = set(session.scalars(select(Assignment.conversation_id)))
    rng = random.Random(seed)
    created: list[Assignment] = []
    by_agent: dict[str | None, list[Conversation]] = {}
    for c in session.scalars(select(Conversation).where(Conversation.started_at >= start, Conversation.started_at < end)
                             .order_by(Conversation.id)):
        if c.id not in taken and c.agent_code:
            by_agent.setdefault(c.agent_code, []).append(c)
    turn = 0
    for agent in sorted(by_agent):
        pool = by_agent[agent]
        for c in rng.sample(pool, min(per_agent, len(pool))):
            row = Assignment(conversation_id=c.id, reviewer_id=reviewers[turn % len(reviewers)].id, week=week)
            session.add(row)
            created.append(row)
            turn += 1
    session.flush()
    notifications().assigned(session, user, created)
    audit(session, user, "sampling.assign", "assignment", None, None,
          {"week": week, "per_agent": per_agent, "assigned": len(created)})
    return created


def as_model(row: Conversation) -> model.Conversation:
    """A stored conversation as the data model again (masked text, voice and audio included),
    for what reads the model: the recording's timeline and voice metrics."""
    return build({
        "id": row.external_id, "channel": row.channel, "turns": row.turns, "audio": row.audio,
        "agent_id": row.agent_code, "metadata": row.meta,
    }, row.source)


def as_model_finding(row: Finding) -> model.Finding:
    span = (row.span_start, row.span_end) if row.span_start is not None and row.span_end is not None else None
    return model.Finding(
        rule=row.rule, clauses=tuple(row.clauses), severity=model.Severity(row.severity), turn=row.turn,
        span=span, quote=row.quote, message=row.message, suggestion=row.suggestion,
        confidence=row.confidence, evidence=model.Evidence(row.evidence),
    )


def teaching():
    """guifan.web.teaching, which builds on this module (imported when first used: a cycle otherwise)."""
    from guifan.web import teaching as module

    return module


def notifications():
    """guifan.web.notifications.service, which builds on this module (imported when first used)."""
    from guifan.web.notifications import service as module

    return module


def rulebook_from_yaml(override_yaml: str) -> Rulebook:
    if not override_yaml.strip():
        return load_rulebook()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "company.yaml"
        path.write_text(override_yaml, encoding="utf-8")
        try:
            return load_rulebook([path])
        except GuifanError as exc:
            raise WorkspaceError(str(exc).replace(str(path), "company.yaml")) from None


def recordings_beside(upload_dir: Path) -> Path:
    """The recordings folder beside an upload folder: guifan-uploads → guifan-recordings, uploads →
    recordings, other → other-recordings."""
    name = upload_dir.name
    return upload_dir.with_name((name.removesuffix("uploads") if name.endswith("uploads") else name + "-") + "recordings")


_DUMMY_HASH = hash_password("timing-equalizer")
