"""The ASGI application: ``api.main:app``.

Closed by default: every route but ``/healthz`` and ``/readyz`` needs the bearer token
(``api.auth``, checked in ``api.middleware.RequestGuard``); with the auth settings unusable
(``API_TOKEN`` missing) the startup fails with the reason, and any request that still arrives
is refused. The interactive docs are served only with ``API_DOCS`` on (the default; the stack
turns them off on production stacks).

Swagger UI is served from the ``swagger-ui-bundle-v2`` package under ``/docs/static`` (no CDN:
FastAPI's default page loads it from jsdelivr, which is blank offline and trusts a third
party with the page); ReDoc, which has no packaged copy, is off.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Security
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles

from api import auth, errors, settings
from api.db import create_db_engine, make_db_thread_limiter, make_sessionmaker
from api.middleware import RequestGuard
from api.routes import health, notes

logger = logging.getLogger("api")

DOCS_STATIC = "/docs/static"
BEARER_DOC = (
    "The API_TOKEN of the app's environment (on AWS: `python -m ops STACK secrets get API_TOKEN`)."
)


def _mount_docs(app: FastAPI) -> None:
    import swagger_ui_bundle

    app.mount(
        DOCS_STATIC, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static"
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
        )


def create_app() -> FastAPI:
    try:
        access = auth.from_env()
        problem = None
    except auth.AuthConfigError as error:
        access, problem = auth.fail_closed(), str(error)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if problem is not None:
            # The server stops here (uvicorn: "Application startup failed"), naming the fix.
            raise RuntimeError(problem)
        if not access.required:
            logger.warning("API_AUTH=none: every route is public, no token is checked")
        url = settings.database_url()
        # Creating the engine does not connect: the process starts (and /healthz answers)
        # even while the database is unreachable; /readyz reports that case.
        engine = create_db_engine(url, settings.credentials_secret_arn())
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.db_threads = make_db_thread_limiter()
        logger.info("database: %s", settings.safe_url(url))
        # Everything the worker built to start (modules, models, routes: most of its heap)
        # moves out of the collector's reach. A full collection then scans only what
        # requests allocate: measured under load, 16 ms at most instead of 95-113 ms, and
        # such a pause stalls every request in the worker (the shed answers' 100 ms budget).
        gc.freeze()
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Notes API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if access.docs else None,
    )
    errors.install(app)
    # Pure ASGI, so it wraps every route (and answers 401/413/503 before any of them runs).
    app.add_middleware(RequestGuard, auth=access)
    if access.docs:
        _mount_docs(app)
    app.include_router(health.router)
    if access.required:
        # Documents the scheme (/docs gets an Authorize button, 401 is a declared answer);
        # RequestGuard has refused a request without the token before any route runs.
        app.include_router(
            notes.router,
            dependencies=[Security(HTTPBearer(auto_error=False, description=BEARER_DOC))],
            responses={401: {"description": "missing or invalid bearer token"}},
        )
    else:
        app.include_router(notes.router)
    if settings.env_flag("APP_ENABLE_TEST_ROUTES"):
        # Hooks for the process tests only; never enabled in a deployed task.
        from api.routes import testing

        app.include_router(testing.router)
        logger.warning("APP_ENABLE_TEST_ROUTES is set: test-only routes are enabled")
    return app


app = create_app()
