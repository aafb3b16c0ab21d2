"""The notes resource.

Routes are ``async def`` and hand all their database work to ``run_in_session`` (one thread
job per request, session opened and closed inside it; never a ``yield`` session dependency):
why that cannot deadlock is in ``api.db``.

Inputs are bounded by what both databases accept, so bad input is a 422 and never reaches
the driver: ids fit the ``INTEGER`` primary key (int32 on PostgreSQL), offsets fit a
``BIGINT`` (PostgreSQL's ``OFFSET``; SQLite's integers are int64 too); text rules live in
``api.schemas``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import run_in_session
from api.models import Note
from api.schemas import NoteCreate, NoteOut

router = APIRouter(prefix="/notes", tags=["notes"])

MAX_PAGE_SIZE = 100
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

NoteId = Annotated[
    int, Path(ge=1, le=INT32_MAX, description="a note's id (the column is a 32-bit integer)")
]
UNAVAILABLE = {
    503: {"description": "overloaded or database unavailable; retry after `Retry-After` s"}
}


def _get_or_404(session: Session, note_id: int) -> Note:
    note = session.get(Note, note_id)
    if note is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="note not found")
    return note


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteOut,
    responses={413: {"description": "body larger than MAX_BODY_BYTES"}, **UNAVAILABLE},
)
async def create_note(payload: NoteCreate, request: Request, response: Response):
    def create(session: Session) -> Note:
        note = Note(title=payload.title, body=payload.body)
        session.add(note)
        session.commit()
        session.refresh(note)  # load the server-side created_at
        return note

    note = await run_in_session(request, create)
    # Absolute URL: its scheme and host come from X-Forwarded-Proto/Host behind the ALB.
    response.headers["Location"] = str(request.url_for("get_note", note_id=note.id))
    return note


@router.get("", response_model=list[NoteOut], responses=UNAVAILABLE)
async def list_notes(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
):
    query = select(Note).order_by(Note.id).limit(limit).offset(offset)
    return await run_in_session(request, lambda session: session.scalars(query).all())


@router.get(
    "/{note_id}",
    response_model=NoteOut,
    responses={404: {"description": "not found"}, **UNAVAILABLE},
)
async def get_note(note_id: NoteId, request: Request):
    return await run_in_session(request, lambda session: _get_or_404(session, note_id))


@router.delete(
    "/{note_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"description": "not found"}, **UNAVAILABLE},
)
async def delete_note(note_id: NoteId, request: Request) -> Response:
    def delete(session: Session) -> None:
        session.delete(_get_or_404(session, note_id))
        session.commit()

    await run_in_session(request, delete)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
