"""The JSON API of saved filters, bulk actions and recordings (``/api/v1``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from guifan.web.app import DB, require
from guifan.web.api import visible_conversation, workspace_of
from guifan.web.conversations import service
from guifan.web.models import User
from guifan.web.security import Permission
from guifan.web.services import WorkspaceError
from guifan.web.validation import RowId, Text

router = APIRouter()
ListPage = Literal["conversations", "appeals", "audit"]


class FilterIn(BaseModel):
    page: ListPage
    name: Text = Field(min_length=1, max_length=100)
    query: Text = Field(default="", max_length=service.QUERY_MAX_CHARS)


@router.get("/saved-filters", tags=["lists"])
def list_filters(session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
                 page: ListPage = "conversations") -> list[dict]:
    """The caller's own saved filters of a list page."""
    return [service.filter_dict(f) for f in service.saved_filters(session, user, page)]


@router.post("/saved-filters", tags=["lists"])
def save_filter(body: FilterIn, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))]) -> dict:
    """Save the list's query string under a name (the same name replaces it)."""
    row = service.save_filter(session, user, body.page, body.name, body.query)
    session.commit()
    return service.filter_dict(row)


@router.delete("/saved-filters/{filter_id}", tags=["lists"])
def delete_filter(filter_id: RowId, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))]) -> dict:
    try:
        service.delete_filter(session, user, filter_id)
    except WorkspaceError as exc:
        raise HTTPException(404, str(exc)) from None
    session.commit()
    return {"deleted": filter_id}


class AssignIn(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=service.BULK_MAX)
    reviewer_id: RowId


@router.post("/conversations/assign", tags=["review"])
def assign(body: AssignIn, session: DB, user: Annotated[User, Depends(require(Permission.DECIDE))]) -> dict:
    """Assign conversations to a reviewer (for the current ISO week); already assigned ones are kept."""
    made = service.assign(session, user, body.ids, body.reviewer_id)
    session.commit()
    return {"assigned": [a.conversation_id for a in made]}


class ConfirmIn(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=service.BULK_MAX)


@router.post("/findings/confirm", tags=["review"])
def confirm(body: ConfirmIn, request: Request, session: DB,
            user: Annotated[User, Depends(require(Permission.REVIEW))]) -> dict:
    """Confirm several automatic findings at once (those out of the caller's scope are ignored)."""
    findings = service.confirm_findings(session, workspace_of(request), user, body.ids)
    session.commit()
    return {"confirmed": [f.id for f in findings]}


RECORDING_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg"}
AUDIO_CONTENT = {media: {"schema": {"type": "string", "format": "binary"}} for media in RECORDING_TYPES.values()}


@router.get("/conversations/{conversation_id}/recording", tags=["conversations"], response_class=FileResponse,
            responses={200: {"description": "整个录音文件", "content": AUDIO_CONTENT},
                       206: {"description": "Range 请求的字节范围 (Content-Range)", "content": AUDIO_CONTENT},
                       404: {"description": "没有这个会话,或它没有录音"},
                       416: {"description": "请求的范围超出文件 (Content-Range: bytes */大小)"}})
def recording(conversation_id: RowId, request: Request, session: DB,
              user: Annotated[User, Depends(require(Permission.VIEW))]) -> FileResponse:
    """The conversation's imported call recording (WAV/FLAC/MP3 as uploaded), in the caller's scope.
    Answers ``Range: bytes=…`` requests with 206 and the bytes asked for (``Accept-Ranges: bytes``),
    a range beyond the file with 416."""
    path = workspace_of(request).recording_path(visible_conversation(session, user, conversation_id))
    if path is None:
        raise HTTPException(404, "这通会话没有录音")
    return FileResponse(path, media_type=RECORDING_TYPES[path.suffix], headers={"Cache-Control": "private, max-age=3600"})
