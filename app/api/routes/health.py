"""Health endpoints.

* ``/healthz`` (liveness): answers from the process alone, no database call. The ALB target
  group and the container health check use it. If it touched the database, one database
  blip would fail every task's check at once and ECS would replace the whole fleet, which
  cannot fix a database problem and turns a blip into an outage.
* ``/readyz`` (readiness): runs ``SELECT 1``; 503 when the database is unreachable. For
  humans, smoke tests after a deploy and monitors; not wired to anything that kills tasks.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])
logger = logging.getLogger("api.health")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable"}})
def readyz(request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        # The exception text of a driver error never contains the password.
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "error"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
