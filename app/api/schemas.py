"""Request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.models import TITLE_MAX_LENGTH

BODY_MAX_LENGTH = 10_000

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH)
]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: str = Field(default="", max_length=BODY_MAX_LENGTH)


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _assume_utc(cls, value: datetime) -> datetime:
        # SQLite hands back naive timestamps (CURRENT_TIMESTAMP is UTC); PostgreSQL
        # returns aware ones. Always answer with an explicit offset.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
