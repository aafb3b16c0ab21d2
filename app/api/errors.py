"""Error answers that never crash and never echo the request back.

* 422 (validation): FastAPI's own handler echoes each error's full ``input``: a 100 MB field
  came back as a 100 MB answer, and a non-finite number (``NaN``, ``1e999999``) or a lone
  surrogate made rendering the 422 itself fail with a 500. Here every string (input, location,
  message) is cut to ``ECHO_PREFIX`` characters and made encodable, and an input that is not
  a short scalar is left out.
* Database errors: a database that is unreachable, too slow (``statement_timeout``) or locked
  answers 503 with ``Retry-After``; a value it refuses (a ``DataError``) answers 422. The log
  line names the error class only: with ``hide_parameters`` SQLAlchemy leaves out the bound
  values, but the driver's own message can still quote them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

logger = logging.getLogger("api.errors")

# Enough to recognise which value was wrong, too short to reflect a payload.
ECHO_PREFIX = 40
DATABASE_RETRY_AFTER = "5"


def safe_text(value: str, limit: int = ECHO_PREFIX) -> str:
    short = value if len(value) <= limit else value[:limit] + "…"
    # Lone surrogates cannot be encoded as UTF-8: show them escaped instead of failing.
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


def _safe_scalar(value: Any) -> tuple[bool, Any]:
    """(keep, value) for an error's ``input`` or a ``ctx`` entry."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):
        return (True, value) if abs(value) < 2**63 else (True, safe_text(str(value)))
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (True, repr(value))
    if isinstance(value, str):
        return True, safe_text(value)
    return False, None


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for error in list(errors)[:20]:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [
                part if isinstance(part, int) else safe_text(str(part))
                for part in error.get("loc", ())
            ],
            "msg": safe_text(str(error.get("msg", "")), limit=200),
        }
        if "input" in error:
            keep, value = _safe_scalar(error["input"])
            if keep:
                item["input"] = value
        ctx = {}
        for key, value in (error.get("ctx") or {}).items():
            if isinstance(value, Exception):
                keep, safe = True, safe_text(str(value), limit=200)
            else:
                keep, safe = _safe_scalar(value)
            if keep:
                ctx[str(key)] = safe
        if ctx:
            item["ctx"] = ctx
        cleaned.append(item)
    return cleaned


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": safe_errors(exc.errors())})


async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    original = getattr(exc, "orig", None)
    logger.warning(
        "database unavailable: %s%s",
        type(exc).__name__,
        f" ({type(original).__name__})" if original is not None else "",
    )
    return JSONResponse(
        status_code=503,
        content={"detail": "database unavailable, retry shortly"},
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )


async def database_refused_value(_request: Request, exc: Exception) -> JSONResponse:
    original = getattr(exc, "orig", None)
    logger.warning("database refused a value: %s", type(original or exc).__name__)
    return JSONResponse(
        status_code=422, content={"detail": "a value was not accepted by the database"}
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(sa_exc.OperationalError, database_unavailable)
    app.add_exception_handler(sa_exc.TimeoutError, database_unavailable)
    app.add_exception_handler(sa_exc.DataError, database_refused_value)
