"""Who may call the API: a bearer token on every route but the health checks (closed by default).

Settings (environment):

=============== ======== ==================================================================
``API_AUTH``    bearer   ``bearer``: every request needs ``Authorization: Bearer <API_TOKEN>``
                         except ``OPEN_PATHS`` (and the docs, when on); ``none``: a
                         deliberately public API, nothing is checked (the stack sets it only
                         with ``service.publicApi``, and its plan warns)
``API_TOKEN``   (none)   the token; required with ``bearer``: without it (or with a weak one)
                         the server refuses to start, naming the variable. On AWS it is an
                         ECS secret from Secrets Manager; never a plain variable
``API_DOCS``    on       ``on``/``off``: the interactive docs (``/docs``, ``/openapi.json``);
                         the stack sets ``off`` on production stacks unless ``service.apiDocs``
=============== ======== ==================================================================

Why refuse to start instead of answering 503 without a token: a task that starts and then
answers nothing but 503 passes ``/healthz``, so ECS would keep it and the rollout would look
healthy; a process that exits at once fails the rollout (the circuit breaker rolls it back)
with the reason in the task's log, where the operator looks first.

The check runs in ``api.middleware.RequestGuard``, before the request gets a database slot and
before its body is read: a caller without the token costs a comparison, never a database
connection or a buffered body. The comparison is ``hmac.compare_digest`` (constant time, so
the answer's timing does not reveal how much of a guess was right). The token never reaches a
log: the access log writes the request line, not headers, and nothing here logs the header.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Open without a token: the load balancer's and ECS's health checks carry no credentials.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# The interactive docs, open when they are on (they show the API's shape, not its data).
DOCS_PATHS = frozenset({"/docs", "/openapi.json"})
DOCS_PREFIX = "/docs/"

AUTH_MODES = ("bearer", "none")
# 32 characters: a generated token (secrets.token_urlsafe(32): 256 random bits) has 43; a
# shorter, hand-picked value is likely guessable.
MIN_TOKEN_LENGTH = 32
# RFC 6750 section 2.1 b64token: the only characters a bearer token can carry in the header.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_BEARER = re.compile(rb"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *$")

UNAUTHORIZED_BODY = b'{"detail":"missing or invalid bearer token"}'
UNAUTHORIZED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(UNAUTHORIZED_BODY)).encode()),
    # RFC 6750 section 3: a 401 names the scheme the client should use.
    (b"www-authenticate", b'Bearer realm="api"'),
]


class AuthConfigError(ValueError):
    """The auth settings cannot work; the message names the variable and the fix."""


@dataclass(frozen=True)
class Auth:
    """What a request needs: ``token`` None means nothing (a deliberately public API)."""

    token: bytes | None
    docs: bool

    @property
    def required(self) -> bool:
        return self.token is not None

    def is_open(self, path: str) -> bool:
        """Whether ``path`` is served without a token (everything, on a public API)."""
        if self.token is None or path in OPEN_PATHS:
            return True
        return self.docs and (path in DOCS_PATHS or path.startswith(DOCS_PREFIX))

    def allows(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether the request's headers carry the token (exactly one Authorization header)."""
        if self.token is None:
            return True
        values = [value for name, value in headers if name == b"authorization"]
        if len(values) != 1:
            return False
        match = _BEARER.match(values[0])
        # compare_digest's time does not depend on how many leading characters match (a
        # length mismatch can show, the value cannot).
        return match is not None and hmac.compare_digest(match.group(1), self.token)


def fail_closed() -> Auth:
    """What serves while the settings are unusable (the startup then fails): no token opens
    anything but ``OPEN_PATHS``, and no docs."""
    return Auth(token=b"", docs=False)


def docs_enabled(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """``API_DOCS``: on unless ``off`` (or false/0/no); anything else is refused."""
    env = os.environ if environ is None else environ
    raw = env.get("API_DOCS", "").strip().lower()
    if raw in {"", "on", "true", "1", "yes"}:
        return True
    if raw in {"off", "false", "0", "no"}:
        return False
    raise AuthConfigError(f"API_DOCS must be on or off, got {raw!r}")


def from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> Auth:
    """The auth settings from the environment; ``AuthConfigError`` naming the fix if unusable."""
    env = os.environ if environ is None else environ
    mode = env.get("API_AUTH", "").strip().lower() or "bearer"
    if mode not in AUTH_MODES:
        raise AuthConfigError(
            f"API_AUTH must be bearer (every route but /healthz and /readyz needs a token) or "
            f"none (a deliberately public API), got {mode!r}"
        )
    docs = docs_enabled(env)
    if mode == "none":
        return Auth(token=None, docs=docs)
    token = env.get("API_TOKEN", "").strip()
    if not token:
        raise AuthConfigError(
            "API_TOKEN is not set, and the API is closed by default: every route but /healthz "
            "and /readyz needs `Authorization: Bearer <API_TOKEN>`. Set API_TOKEN to a random "
            f"value of {MIN_TOKEN_LENGTH}+ characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'); on AWS the release phase generates it "
            "(`python -m ops STACK secrets get API_TOKEN` prints it). For a deliberately public "
            "API set API_AUTH=none (on AWS: `pulumi config set --path service.publicApi true`)."
        )
    if len(token) < MIN_TOKEN_LENGTH or not _B64TOKEN.match(token):
        # The value itself is never quoted: it is a secret, even a bad one.
        raise AuthConfigError(
            f"API_TOKEN must be at least {MIN_TOKEN_LENGTH} characters of letters, digits and "
            f"-._~+/ (a bearer token, RFC 6750), got {len(token)} characters: generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return Auth(token=token.encode("ascii"), docs=docs)
