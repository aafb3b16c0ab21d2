"""The ASGI application: ``api.main:app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import settings
from api.db import create_db_engine, make_sessionmaker
from api.routes import health, notes

logger = logging.getLogger("api")


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.database_url()
        # Creating the engine does not connect: the process starts (and /healthz answers)
        # even while the database is unreachable; /readyz reports that case.
        engine = create_db_engine(url, settings.credentials_secret_arn())
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        logger.info("database: %s", settings.safe_url(url))
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="Notes API", version="1.0.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(notes.router)
    if settings.env_flag("APP_ENABLE_TEST_ROUTES"):
        # Hooks for the process tests only; never enabled in a deployed task.
        from api.routes import testing

        app.include_router(testing.router)
        logger.warning("APP_ENABLE_TEST_ROUTES is set: test-only routes are enabled")
    return app


app = create_app()
