"""Training's API (陪练, docs/training.md) under ``/api/v1/training``: scenarios, attempts (start,
answer, 放弃, the report card), trainers' views (attempts, clauses over time, readiness),
proposals and assignments, and company scenario drafts and versions.

Authenticated as the rest of the workspace (session cookie with CSRF, or API token); an attempt
outside the caller's scope is a 404. Errors are Chinese: ``{"detail": "…"}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from guifan.assist.live import MAX_TEXT
from guifan.web.app import DB, require
from guifan.web.models import User
from guifan.web.security import Permission, allowed
from guifan.web.training.models import Mode
from guifan.web.training.service import MAX_DRAFT_CHARS, Training, TrainingError
from guifan.web.validation import DB_INT_MAX, RowId, Text

router = APIRouter(prefix="/training", tags=["training"])
Practiser = Annotated[User, Depends(require(Permission.PRACTISE))]
Coach = Annotated[User, Depends(require(Permission.COACH))]
Author = Annotated[User, Depends(require(Permission.AUTHOR))]
ScenarioId = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Version = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


def training_of(request: Request) -> Training:
    return request.app.state.training


def answering(call: Callable[[], Any]) -> Any:
    """``call()``, with training's refusals as HTTP errors."""
    try:
        return call()
    except TrainingError as exc:
        raise HTTPException(exc.status, exc.message) from None


async def viewer(user: Annotated[User, Depends(require(Permission.VIEW))]) -> User:
    """Anyone who practises or coaches (reviewers do neither)."""
    if not (allowed(user.role, Permission.PRACTISE) or allowed(user.role, Permission.COACH)):
        raise HTTPException(403, "没有权限")
    return user


Viewer = Annotated[User, Depends(viewer)]


class AttemptIn(BaseModel):
    scenario: Text = Field(min_length=1, max_length=64, description="场景 id")
    mode: Literal["practice", "exam"] = Field(default=Mode.PRACTICE, description="practice 练习 (显示提示) / exam 考核 (无提示、限时)")
    seed: int | None = Field(default=None, ge=0, le=DB_INT_MAX, description="随机种子;默认随机")
    version: int | None = Field(default=None, ge=0, le=DB_INT_MAX,
                                description="公司场景的版本 (试练草稿);0 为自带场景;默认当前使用的版本")


class AnswerIn(BaseModel):
    text: Text = Field(min_length=1, max_length=MAX_TEXT, description="客服的一句回答;[等待 65] 表示沉默 65 秒")


class DraftIn(BaseModel):
    yaml: Text = Field(min_length=1, max_length=MAX_DRAFT_CHARS, description="场景 YAML")


class AssignmentIn(BaseModel):
    user_id: RowId
    scenario: Text = Field(min_length=1, max_length=64)


class ThresholdIn(BaseModel):
    score: int = Field(ge=0, le=100)


# -- scenarios and attempts -----------------------------------------------------------------------


@router.get("/scenarios")
def list_scenarios(request: Request, session: DB, user: Viewer) -> list[dict]:
    """The scenarios practised now (bundled, and company versions replacing them by id)."""
    training = training_of(request)
    rulebook = training.checker(training.rulebook_version(session)).engine.rulebook
    return [o.summary(rulebook) for o in answering(lambda: training.offered(session)).values()]


def attempt_state(training: Training, session, row) -> dict[str, Any]:
    return {**training.card(session, row), "hints": training.hints(session, row)}


@router.post("/attempts")
def start_attempt(body: AttemptIn, request: Request, session: DB, user: Practiser) -> dict:
    """Start an attempt (the caller's attempt in progress is stored as abandoned): the customer's
    opening lines are in ``transcript``, the hints (练习) in ``hints``."""
    training = training_of(request)
    row = answering(lambda: training.start(session, user, body.scenario, body.mode, body.seed, body.version))
    return attempt_state(training, session, row)


@router.get("/attempts")
def list_attempts(request: Request, session: DB, user: Viewer,
                  user_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """Attempts the caller may see, newest first: their own; a trainer's trainees' (team leads their team's)."""
    training = training_of(request)
    if user_id is not None:
        answering(lambda: training.person(session, user, user_id))
    return training.attempts(session, user, person_id=user_id, limit=limit)


@router.get("/attempts/{attempt_id}")
def get_attempt(attempt_id: RowId, request: Request, session: DB, user: Viewer) -> dict:
    """The attempt and, once graded, its report card (checklist, findings with quotes, score, passed)."""
    training = training_of(request)
    return attempt_state(training, session, answering(lambda: training.attempt(session, user, attempt_id)))


@router.post("/attempts/{attempt_id}/answers")
def post_answer(attempt_id: RowId, body: AnswerIn, request: Request, session: DB, user: Practiser) -> dict:
    """The trainee's next answer: the customer's reply, the hints due now (练习), and the report
    card once the conversation is over (``attempt``)."""
    training = training_of(request)
    row, progress = answering(lambda: training.answer(session, user, attempt_id, body.text))
    return {**progress, "attempt": attempt_state(training, session, row)}


@router.post("/attempts/{attempt_id}/abandon")
def abandon_attempt(attempt_id: RowId, request: Request, session: DB, user: Practiser) -> dict:
    """放弃: the attempt is graded as it stands (中途放弃) and kept."""
    training = training_of(request)
    return attempt_state(training, session, answering(lambda: training.abandon(session, user, attempt_id)))


# -- trainers -------------------------------------------------------------------------------------


@router.get("/clauses")
def clause_progress(request: Request, session: DB, user: Viewer,
                    user_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None) -> list[dict]:
    """Per clause and ISO week: graded attempts, how many handled the clause, their mean score."""
    training = training_of(request)
    if user_id is not None:
        answering(lambda: training.person(session, user, user_id))
    return training.clause_progress(session, user, user_id)


@router.get("/readiness")
def readiness(request: Request, session: DB, user: Coach) -> dict:
    """Who is ready: passed every 考核 scenario in a 考核 attempt at the threshold (``training_ready_score``)."""
    return training_of(request).readiness(session, user)


@router.post("/readiness/threshold")
def set_threshold(body: ThresholdIn, request: Request, session: DB, user: Author) -> dict:
    training_of(request).set_threshold(session, user, body.score)
    return {"threshold": body.score}


@router.get("/proposals")
def proposals(request: Request, session: DB, user: Coach) -> list[dict]:
    """For each agent in scope: the clauses broken in the last 30 days and the scenarios that train them."""
    return training_of(request).proposals(session, user)


@router.get("/assignments")
def list_assignments(request: Request, session: DB, user: Viewer) -> list[dict]:
    return training_of(request).assignments(session, user)


@router.post("/assignments")
def assign(body: AssignmentIn, request: Request, session: DB, user: Coach) -> dict:
    """Assign a scenario to an agent (team leads: their team); shown to the agent."""
    training = training_of(request)
    row = answering(lambda: training.assign(session, user, body.user_id, body.scenario))
    return next(a for a in training.assignments(session, user) if a["id"] == row.id)


# -- authoring ------------------------------------------------------------------------------------


@router.post("/scenarios/validate")
def validate_draft(body: DraftIn, request: Request, session: DB, user: Author) -> dict:
    """Validate a pasted scenario (422 with every problem's line and key) and play its examples."""
    training = training_of(request)
    answering(lambda: training.rate(user))  # playing the examples checks two conversations
    scenario, examples = answering(lambda: training.validate(session, body.yaml))
    return {"valid": True, "id": scenario.id, "title": scenario.title, "examples": examples}


@router.post("/scenarios")
def save_draft(body: DraftIn, request: Request, session: DB, user: Author) -> dict:
    """Keep a valid scenario as the next version of its id, unpublished (play it with ``version``)."""
    training = training_of(request)
    row = answering(lambda: training.save_draft(session, user, body.yaml))
    return {"scenario": row.scenario_id, "version": row.version, "title": row.title, "published": row.published}


@router.get("/scenarios/versions")
def scenario_versions(request: Request, session: DB, user: Author) -> list[dict]:
    return training_of(request).versions(session)


@router.post("/scenarios/{scenario_id}/versions/{version}/publish")
def publish(scenario_id: ScenarioId, version: Version, request: Request, session: DB, user: Author) -> dict:
    """Publish a version: practice uses it from now on (it replaces a bundled scenario of the same id)."""
    training = training_of(request)
    row = answering(lambda: training.publish(session, user, scenario_id, version))
    return {"scenario": row.scenario_id, "version": row.version, "title": row.title, "published": row.published}
