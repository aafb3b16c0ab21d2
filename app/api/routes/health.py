"""Health endpoints.

* ``/healthz`` (liveness): answers from the process alone, no database call. The ALB target
  group and the container health check use it. If it touched the database, one database
  blip would fail every task's check at once and ECS would replace the whole fleet, which
  cannot fix a database problem and turns a blip into an outage.
* ``/readyz`` (readiness): 503 when the database is unreachable, or while its schema is not
  at the Alembic head this build ships (the release phase has not migrated it yet: writes
  would fail on a missing table). Once at head, that answer is kept (``api.schema_state``)
  and the check is one ``SELECT 1``. For humans, smoke tests after a deploy and monitors;
  not wired to anything that kills tasks.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.schema_state import BEHIND, schema_state

router = APIRouter(tags=["health"])
logger = logging.getLogger("api.health")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "database unreachable, or its schema not migrated yet"}},
)
def readyz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    try:
        state = schema_state(engine)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        # The class only: a driver's message can quote the statement or its parameters.
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "error"}, status_code=503)
    if state == BEHIND:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "schema": state}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "schema": state})
