"""Test-only hooks, mounted only when ``APP_ENABLE_TEST_ROUTES=1`` (never in a deployed task).

``GET /_test/fail`` raises an unexpected exception whose message quotes request data: what
a 500 looks like (status, ``Connection: close``) and what reaches the log (not the message).

``GET /_test/block/{name}`` is a request that stays in flight until the test says so: it
creates ``$APP_TEST_STATE_DIR/<name>.started`` on arrival and answers 200 once
``<name>.release`` exists. This lets the graceful-shutdown test send SIGTERM while a request
is provably in flight, without guessing with sleeps.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from fastapi import APIRouter, HTTPException

router = APIRouter(prefix="/_test", include_in_schema=False)

MAX_BLOCK_SECONDS = 120
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _state_dir() -> Path:
    value = os.environ.get("APP_TEST_STATE_DIR")
    if not value:
        raise HTTPException(status_code=500, detail="APP_TEST_STATE_DIR is not set")
    return Path(value)


@router.get("/pid")
async def worker_pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@router.get("/block/{name}")
async def block_until_released(name: str) -> dict[str, object]:
    if not _NAME.match(name):
        raise HTTPException(status_code=422, detail="bad name")
    state = _state_dir()
    (state / f"{name}.started").write_text(str(os.getpid()))
    release = state / f"{name}.release"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_BLOCK_SECONDS
    while not release.exists():
        if loop.time() > deadline:
            raise HTTPException(status_code=504, detail="never released")
        await asyncio.sleep(0.05)
    return {"released": name, "pid": os.getpid()}


@router.get("/fail")
async def fail(q: str = "") -> None:
    raise RuntimeError(f"unexpected failure while handling {q!r}")
