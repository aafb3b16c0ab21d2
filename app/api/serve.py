"""Production server launcher: ``python -m api.serve`` (the container's exec-form CMD).

This process is the container's main process (exec-form CMD, no shell in between; on ECS an
init process is PID 1 and forwards signals to it). It runs uvicorn's multiprocess supervisor even for
a single worker, so that:

* SIGTERM from ECS reaches the supervisor, which forwards it to every worker; each worker
  stops accepting, finishes in-flight requests (up to ``GRACEFUL_SHUTDOWN_TIMEOUT``) and
  exits; the supervisor then exits 0.
* A worker that dies (segfault, OOM kill, SIGKILL) is replaced. The listening socket belongs
  to the supervisor, so connections that arrive meanwhile wait in the backlog instead of
  being refused.

Settings (environment):

=========================== ======= ======================================================
``PORT``                    8000    listening port (the target group's port)
``HOST``                    0.0.0.0 listening address
``WEB_CONCURRENCY``         1       worker processes; size the task's memory to match
``KEEP_ALIVE_TIMEOUT``      65      seconds an idle keep-alive connection stays open; must
                                    exceed the ALB idle timeout (60 s) or the ALB may reuse
                                    a connection we just closed and answer 502
``GRACEFUL_SHUTDOWN_TIMEOUT`` 20    seconds to finish in-flight requests after SIGTERM; the
                                    infrastructure sets the container ``stopTimeout`` (30 s)
                                    above it, so ECS's SIGKILL never cuts a drain short
``FORWARDED_ALLOW_IPS``     127.0.0.1 peers (addresses or CIDRs, comma-separated) whose
                                    X-Forwarded-For/-Proto are trusted; the stack sets the
                                    VPC's CIDR (the ALB's subnets). Never ``*``: a peer that
                                    reaches a task directly could then forge its address
``MAX_HEADER_BYTES``        65536   request head size limit (431 above); ``api.protocol``
``HEADER_READ_TIMEOUT``     10      seconds from a request's first byte to its last header
                                    byte (408 and close above); ``api.protocol``
``MAX_BODY_BYTES``          1048576 request body limit (413 above); ``api.middleware``
``BODY_READ_TIMEOUT``       30      seconds between two chunks of a body (408 above)
``ADMISSION_WAIT_MS``       50      the longest a database request waits for one of the
                                    worker's slots; beyond, or when the queue would not
                                    drain in time, 503 at once; ``api.admission``
``DB_STATEMENT_TIMEOUT_MS`` 5000    PostgreSQL ``statement_timeout`` of the app's connections
``LOG_LEVEL``               info    uvicorn and app log level; access log goes to stdout
``API_AUTH``, ``API_TOKEN``, bearer,  who may call the API (``api.auth``): checked here
``API_DOCS``                on      before the socket is bound, so a missing token stops
                                    the server with the reason and exit code 1
=========================== ======= ======================================================

The access log writes each request's path without its query string (``PathOnly``): a query
can carry what a client should not have put there (a token, an e-mail address), and the log
outlives the request by the log group's retention.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from typing import Any

from uvicorn.config import LOG_LEVELS, STARTUP_FAILURE, Config
from uvicorn.supervisors import Multiprocess

from api import auth
from api.protocol import limits_from_env
from api.settings import env_int

APP = "api.main:app"
# uvicorn's httptools protocol plus a header size limit and a header read timeout.
HTTP_PROTOCOL = "api.protocol:BoundedHttpToolsProtocol"


def forwarded_allow_ips(raw: str | None) -> str:
    """The trusted proxies, checked: addresses or networks only (``*`` is refused)."""
    value = (raw or "").strip() or "127.0.0.1"
    for item in value.split(","):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise SystemExit(
                "FORWARDED_ALLOW_IPS must list IP addresses or CIDR networks (the load "
                f"balancer's subnets, e.g. 10.0.0.0/16), got {item.strip()!r}"
            ) from None
    return value


def _int_env(name: str, default: int, minimum: int = 0) -> int:
    try:
        return env_int(name, default, minimum=minimum)
    except ValueError as error:
        raise SystemExit(str(error)) from None


class PathOnly(logging.Filter):
    """An access-log filter that drops the query string from the logged path.

    uvicorn's access record carries ``(client, method, path with query, http version,
    status)`` as its args (uvicorn 0.54 ``protocols/http/httptools_impl.py``, ``send``;
    ``protocols/utils.py`` ``get_path_with_query_string``); the path is cut at its ``?``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def log_config(level: str) -> dict[str, Any]:
    """Plain (uncoloured) logs, all to stdout, which the awslogs driver ships."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(asctime)s %(levelprefix)s [%(process)d] %(name)s: %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": "%(asctime)s %(levelprefix)s [%(process)d] %(client_addr)s - "
                '"%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        # Shed 503s are not access-logged (the reason: ``api.admission.SkipShedAnswers``).
        "filters": {
            "skip_shed": {"()": "api.admission.SkipShedAnswers"},
            "path_only": {"()": "api.serve.PathOnly"},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stdout",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {
                "handlers": ["access"],
                "filters": ["skip_shed", "path_only"],
                "level": level,
                "propagate": False,
            },
            "api": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def build_config() -> Config:
    level = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
    if level not in LOG_LEVELS:
        raise SystemExit(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    limits_from_env()  # refuse bad header limits here, not on every connection
    try:
        auth.from_env()  # a closed API without its token never starts (why: api.auth)
    except auth.AuthConfigError as error:
        raise SystemExit(str(error)) from None
    return Config(
        APP,
        host=os.environ.get("HOST", "0.0.0.0").strip() or "0.0.0.0",
        port=_int_env("PORT", 8000, minimum=1),
        workers=_int_env("WEB_CONCURRENCY", 1, minimum=1),
        http=HTTP_PROTOCOL,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips(os.environ.get("FORWARDED_ALLOW_IPS")),
        timeout_keep_alive=_int_env("KEEP_ALIVE_TIMEOUT", 65, minimum=1),
        timeout_graceful_shutdown=_int_env("GRACEFUL_SHUTDOWN_TIMEOUT", 20),
        access_log=True,
        log_config=log_config(level),
        log_level=level,
        server_header=False,
        use_colors=False,
    )


def main() -> int:
    config = build_config()
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    # The supervisor stops when a worker fails during startup (bad import, lifespan error),
    # since every restart would fail the same way. Say so with a non-zero exit code.
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        return STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
