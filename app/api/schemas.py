"""Request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from api.models import TITLE_MAX_LENGTH

BODY_MAX_LENGTH = 10_000


def storable_text(value: str) -> str:
    """Text both databases store: PostgreSQL refuses NUL in text, and a lone surrogate (JSON
    allows ``"\\ud800"``) is not encodable as UTF-8 for either driver."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(storable_text),
]
Body = Annotated[str, Field(max_length=BODY_MAX_LENGTH), AfterValidator(storable_text)]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""


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
