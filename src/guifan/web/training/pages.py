"""Pages of training (陪练, docs/training.md).

* ``/training``: the scenarios (difficulty, clauses, channel) with 练习 and 考核 buttons, the practice
  assigned to the user, and their attempts.
* ``/training/attempts/{id}``: an attempt in progress is the practice page (its trainee chats with the
  simulated customer through ``static/training-practice.js`` and the API); any other, or one seen by
  a trainer, is its report card (成绩单).
* ``/training/team``: trainers (and team leads, their team) see who is ready, clauses over time and
  every attempt. ``/training/proposals``: scenarios proposed from each agent's QA findings, assigned
  from there. ``/training/scenarios``: a trainer pastes a draft, validates it, plays it, publishes it.

Forms post here with the CSRF token and redirect (they work without script); the scope and every
rule are the service's, as for the API (404 outside it). No inline script or style.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from guifan.web.app import DB, require
from guifan.web.models import User
from guifan.web.pages import back, render
from guifan.web.security import Permission, allowed
from guifan.web.training.api import ScenarioId, Version, Viewer, answering, training_of
from guifan.web.training.models import AttemptStatus, Mode
from guifan.web.training.service import DRAFT_NAME, MAX_DRAFT_CHARS, TrainingError
from guifan.web.validation import DB_INT_MAX, RowId, Text

router = APIRouter(include_in_schema=False)
Practiser = Annotated[User, Depends(require(Permission.PRACTISE))]
Coach = Annotated[User, Depends(require(Permission.COACH))]
Author = Annotated[User, Depends(require(Permission.AUTHOR))]
ScenarioField = Annotated[Text, Form(min_length=1, max_length=64)]


def _rulebook(request: Request, session):
    training = training_of(request)
    return training.checker(training.rulebook_version(session)).engine.rulebook


@router.get("/training", response_class=HTMLResponse)
def training_index(request: Request, session: DB, user: Viewer) -> HTMLResponse:
    training = training_of(request)
    rulebook = _rulebook(request, session)
    return render(request, "training.html", user, scenarios=[o.summary(rulebook) for o in training.offered(session).values()],
                  assignments=[a for a in training.assignments(session, user) if a["user_id"] == user.id],
                  attempts=training.attempts(session, user, person_id=user.id, limit=50),
                  may_practise=allowed(user.role, Permission.PRACTISE), error=request.query_params.get("error"))


@router.post("/training/attempts")
def start_attempt(request: Request, session: DB, user: Practiser, scenario: ScenarioField,
                  mode: Annotated[Text, Form(pattern="^(practice|exam)$")] = Mode.PRACTICE,
                  version: Annotated[int | None, Form(ge=0, le=DB_INT_MAX)] = None) -> Response:
    try:
        row = training_of(request).start(session, user, scenario, mode, None, version)
    except TrainingError as exc:
        if exc.status == 429:
            raise HTTPException(exc.status, exc.message) from None
        return back(f"/training?error={quote(exc.message)}")
    return back(f"/training/attempts/{row.id}")


@router.get("/training/attempts/{attempt_id}", response_class=HTMLResponse)
def attempt_page(attempt_id: RowId, request: Request, session: DB, user: Viewer) -> HTMLResponse:
    training = training_of(request)
    row = answering(lambda: training.attempt(session, user, attempt_id))
    card = training.card(session, row)
    if row.status == AttemptStatus.IN_PROGRESS and row.user_id == user.id:
        offered = training.scenario_version(session, user, row.scenario_id, row.scenario_version or 0,
                                            row.rulebook_version)
        return render(request, "training_practice.html", user, attempt=card,
                      scenario=offered.summary(training.checker(row.rulebook_version).engine.rulebook))
    return render(request, "training_card.html", user, attempt=card)


@router.post("/training/attempts/{attempt_id}/abandon")
def abandon_attempt(attempt_id: RowId, request: Request, session: DB, user: Practiser) -> Response:
    answering(lambda: training_of(request).abandon(session, user, attempt_id))
    return back(f"/training/attempts/{attempt_id}")


@router.get("/training/team", response_class=HTMLResponse)
def team_page(request: Request, session: DB, user: Coach) -> HTMLResponse:
    training = training_of(request)
    return render(request, "training_team.html", user, readiness=training.readiness(session, user),
                  clauses=training.clause_progress(session, user), attempts=training.attempts(session, user, limit=200))


@router.post("/training/threshold")
def set_threshold(request: Request, session: DB, user: Author,
                  score: Annotated[int, Form(ge=0, le=100)]) -> Response:
    training_of(request).set_threshold(session, user, score)
    return back("/training/team")


@router.get("/training/proposals", response_class=HTMLResponse)
def proposals_page(request: Request, session: DB, user: Coach) -> HTMLResponse:
    training = training_of(request)
    return render(request, "training_proposals.html", user, agents=training.proposals(session, user),
                  error=request.query_params.get("error"))


@router.post("/training/assignments")
def assign(request: Request, session: DB, user: Coach, user_id: Annotated[int, Form(ge=1, le=DB_INT_MAX)],
           scenario: ScenarioField) -> Response:
    answering(lambda: training_of(request).assign(session, user, user_id, scenario))
    return back("/training/proposals")


def _scenarios_page(request: Request, session, user: User, status_code: int = 200, **context) -> HTMLResponse:
    return render(request, "training_scenarios.html", user, status_code=status_code,
                  versions=training_of(request).versions(session), draft_name=DRAFT_NAME, **context)


@router.get("/training/scenarios", response_class=HTMLResponse)
def scenarios_page(request: Request, session: DB, user: Author) -> HTMLResponse:
    return _scenarios_page(request, session, user)


@router.post("/training/scenarios", response_class=HTMLResponse)
def check_draft(request: Request, session: DB, user: Author,
                yaml: Annotated[Text, Form(min_length=1, max_length=MAX_DRAFT_CHARS)],
                action: Annotated[Text, Form(pattern="^(validate|save)$")] = "validate") -> Response:
    """校验 (validate and play the examples) or 保存草稿 (keep it as the next version, unpublished)."""
    training = training_of(request)
    try:
        if action == "save":
            return _scenarios_page(request, session, user, yaml=yaml, saved=training.save_draft(session, user, yaml))
        training.rate(user)
        scenario, examples = training.validate(session, yaml)
    except TrainingError as exc:
        return _scenarios_page(request, session, user, exc.status, yaml=yaml, problems=exc.message.splitlines())
    return _scenarios_page(request, session, user, yaml=yaml, checked=scenario, examples=examples)


@router.post("/training/scenarios/{scenario_id}/versions/{version}/publish")
def publish(scenario_id: ScenarioId, version: Version, request: Request, session: DB, user: Author) -> Response:
    answering(lambda: training_of(request).publish(session, user, scenario_id, version))
    return back("/training/scenarios")
