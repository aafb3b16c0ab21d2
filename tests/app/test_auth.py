"""The API is closed by default (issue 25): the real server command, ``python -m api.serve``.

Every route but ``/healthz`` and ``/readyz`` needs ``Authorization: Bearer <API_TOKEN>``; without
a token the server refuses to start; ``API_AUTH=none`` opens it on purpose; the docs follow
``API_DOCS``; the token and query strings never reach the log.
"""

from __future__ import annotations

import shutil
import socket

import pytest

from api import auth
from app_support import AUTH, TEST_API_TOKEN, ServerProcess, read_http_response

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory, _migrated_sqlite_template):
    """The server as a deployed task runs it: a token, no docs (a production stack)."""
    tmp = tmp_path_factory.mktemp("closed")
    shutil.copyfile(_migrated_sqlite_template, tmp / "app.db")
    server = ServerProcess(tmp, f"sqlite:///{tmp / 'app.db'}", API_DOCS="off")
    try:  # stopped even when it never turns healthy: no server outlives the tests
        yield server.start()
    finally:
        server.stop()


def url(server: ServerProcess, path: str) -> str:
    return f"{server.base_url}{path}"


def test_a_request_without_the_token_is_401_and_with_it_201(closed_server):
    note = {"title": "closed by default"}
    refused = httpx.post(url(closed_server, "/notes"), json=note, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json() == {"detail": "missing or invalid bearer token"}
    created = httpx.post(url(closed_server, "/notes"), json=note, headers=AUTH, timeout=10)
    assert created.status_code == 201
    # Nothing was created by the refused request: the one note is the authorized one.
    listed = httpx.get(url(closed_server, "/notes"), headers=AUTH, timeout=10).json()
    assert [n["title"] for n in listed if n["title"] == note["title"]] == [note["title"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/notes"), ("GET", "/notes/1"), ("DELETE", "/notes/1"), ("GET", "/no-such-route")],
)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {TEST_API_TOKEN[:-1]}",  # one character short
        f"Bearer {TEST_API_TOKEN}x",
        f"Basic {TEST_API_TOKEN}",
        TEST_API_TOKEN,  # no scheme
        "Bearer",
    ],
    ids=["none", "short", "long", "basic", "no-scheme", "empty"],
)
def test_every_other_route_refuses_a_missing_or_wrong_token(
    closed_server, method, path, authorization
):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = httpx.request(method, url(closed_server, path), headers=headers, timeout=10)
    assert response.status_code == 401


def test_the_scheme_is_case_insensitive_and_two_authorization_headers_are_refused(
    closed_server,
):
    lower = {"Authorization": f"bearer {TEST_API_TOKEN}"}
    assert httpx.get(url(closed_server, "/notes"), headers=lower, timeout=10).status_code == 200
    with socket.create_connection(("127.0.0.1", closed_server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /notes HTTP/1.1\r\nHost: t\r\n"
            + f"Authorization: Bearer {TEST_API_TOKEN}\r\n".encode() * 2
            + b"\r\n"
        )
        status, _, _ = read_http_response(sock)
    assert status == 401


def test_the_health_checks_stay_open(closed_server):
    assert httpx.get(url(closed_server, "/healthz"), timeout=10).status_code == 200
    assert httpx.get(url(closed_server, "/readyz"), timeout=10).status_code == 200


def test_with_docs_off_there_are_no_docs_even_with_the_token(closed_server):
    for path in ("/docs", "/openapi.json", "/redoc", "/docs/static/swagger-ui.css"):
        assert httpx.get(url(closed_server, path), timeout=10).status_code == 401, path
        assert httpx.get(url(closed_server, path), headers=AUTH, timeout=10).status_code == 404


def test_the_token_and_query_strings_never_reach_the_log(closed_server):
    query = "?limit=5&email=someone%40example.com"
    httpx.get(url(closed_server, f"/notes{query}"), headers=AUTH, timeout=10)
    httpx.get(url(closed_server, f"/notes{query}"), timeout=10)
    wrong = "Bearer " + "w" * 40
    httpx.get(url(closed_server, "/notes"), headers={"Authorization": wrong}, timeout=10)
    log = closed_server.log()
    assert '"GET /notes HTTP/1.1" 200' in log and '"GET /notes HTTP/1.1" 401' in log
    assert TEST_API_TOKEN not in log and "w" * 40 not in log
    assert "someone" not in log and "limit=5" not in log


def test_without_a_token_the_server_refuses_to_start_and_says_how_to_fix_it(server_factory):
    server = server_factory("sqlite:///unused.db", API_TOKEN="").start(wait_healthy=False)
    assert server.proc.wait(timeout=30) == 1
    log = server.log()
    assert "API_TOKEN is not set, and the API is closed by default" in log
    assert "pulumi config set --path service.publicApi true" in log


def test_a_weak_token_is_refused_without_being_quoted(server_factory):
    weak = "hunter2-" + "a" * 10
    server = server_factory("sqlite:///unused.db", API_TOKEN=weak).start(wait_healthy=False)
    assert server.proc.wait(timeout=30) == 1
    assert "API_TOKEN must be at least 32 characters" in server.log()
    assert weak not in server.log()


def test_a_deliberately_public_api_needs_no_token_and_says_so(server_factory, migrated_sqlite_url):
    server = server_factory(migrated_sqlite_url, API_AUTH="none", API_TOKEN="").start()
    created = httpx.post(url(server, "/notes"), json={"title": "public"}, timeout=10)
    assert created.status_code == 201
    assert "API_AUTH=none: every route is public" in server.log()


def test_docs_on_are_open_and_declare_the_bearer_scheme(server_factory, migrated_sqlite_url):
    server = server_factory(migrated_sqlite_url, API_DOCS="on").start()
    assert httpx.get(url(server, "/docs"), timeout=10).status_code == 200
    document = httpx.get(url(server, "/openapi.json"), timeout=10).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    create = document["paths"]["/notes"]["post"]
    assert create["security"] == [{"HTTPBearer": []}] and "401" in create["responses"]
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert httpx.get(url(server, "/notes"), timeout=10).status_code == 401


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"API_AUTH": "basic", "API_TOKEN": TEST_API_TOKEN}, "API_AUTH must be bearer"),
        ({"API_DOCS": "maybe", "API_TOKEN": TEST_API_TOKEN}, "API_DOCS must be on or off"),
        ({"API_TOKEN": "a b" * 20}, "API_TOKEN must be at least 32 characters"),
    ],
)
def test_unusable_auth_settings_are_refused_naming_the_variable(environ, message):
    with pytest.raises(auth.AuthConfigError, match=message):
        auth.from_env(environ)


def test_the_token_is_compared_in_constant_time(monkeypatch):
    """``hmac.compare_digest``, never ``==``: what the comparison is called with is the proof."""
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(
        auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b)
    )
    access = auth.from_env({"API_TOKEN": TEST_API_TOKEN})
    assert access.allows([(b"authorization", f"Bearer {TEST_API_TOKEN}".encode())])
    assert not access.allows([(b"authorization", b"Bearer " + b"y" * 43)])
    assert calls == [(TEST_API_TOKEN.encode(),) * 2, (b"y" * 43, TEST_API_TOKEN.encode())]
