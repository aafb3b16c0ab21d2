"""The notes resource."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import get_session
from api.models import Note
from api.schemas import NoteCreate, NoteOut

router = APIRouter(prefix="/notes", tags=["notes"])

SessionDep = Annotated[Session, Depends(get_session)]
MAX_PAGE_SIZE = 100


def _get_or_404(session: Session, note_id: int) -> Note:
    note = session.get(Note, note_id)
    if note is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="note not found")
    return note


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NoteOut)
def create_note(payload: NoteCreate, request: Request, response: Response, session: SessionDep):
    note = Note(title=payload.title, body=payload.body)
    session.add(note)
    session.commit()
    session.refresh(note)  # load the server-side created_at
    # Absolute URL: its scheme and host come from X-Forwarded-Proto/Host behind the ALB.
    response.headers["Location"] = str(request.url_for("get_note", note_id=note.id))
    return note


@router.get("", response_model=list[NoteOut])
def list_notes(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    return session.scalars(select(Note).order_by(Note.id).limit(limit).offset(offset)).all()


@router.get("/{note_id}", response_model=NoteOut, responses={404: {"description": "not found"}})
def get_note(note_id: int, session: SessionDep):
    return _get_or_404(session, note_id)


@router.delete(
    "/{note_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"description": "not found"}},
)
def delete_note(note_id: int, session: SessionDep) -> Response:
    session.delete(_get_or_404(session, note_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
