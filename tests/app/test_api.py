"""The HTTP API, through FastAPI's TestClient (in-process, SQLite migrated with Alembic)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from app_support import AUTH


@pytest.fixture
def client(monkeypatch, migrated_sqlite_url: str) -> Iterator[TestClient]:
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.delenv("APP_ENABLE_TEST_ROUTES", raising=False)
    with TestClient(create_app(), headers=AUTH) as test_client:
        yield test_client


def create(client: TestClient, title: str = "first", body: str = "hello") -> dict:
    response = client.post("/notes", json={"title": title, "body": body})
    assert response.status_code == 201, response.text
    return response.json()


def test_healthz_is_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_is_503_but_healthz_stays_200_when_the_database_is_down(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/app.db")
    with TestClient(create_app()) as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_create_returns_201_with_the_note_and_an_absolute_location(client):
    response = client.post("/notes", json={"title": "  Groceries ", "body": "milk"})
    assert response.status_code == 201
    note = response.json()
    assert note["title"] == "Groceries"  # surrounding whitespace is stripped
    assert note["body"] == "milk"
    assert isinstance(note["id"], int)
    assert note["created_at"].endswith(("Z", "+00:00"))
    assert response.headers["location"] == f"http://testserver/notes/{note['id']}"


def test_body_is_optional(client):
    response = client.post("/notes", json={"title": "t"})
    assert response.status_code == 201
    assert response.json()["body"] == ""


def test_get_returns_the_created_note(client):
    note = create(client)
    response = client.get(f"/notes/{note['id']}")
    assert response.status_code == 200
    assert response.json() == note


def test_list_returns_notes_in_creation_order_with_limit_and_offset(client):
    ids = [create(client, title=f"n{i}")["id"] for i in range(5)]
    assert [n["id"] for n in client.get("/notes").json()] == ids
    page = client.get("/notes", params={"limit": 2, "offset": 1}).json()
    assert [n["id"] for n in page] == ids[1:3]
    assert client.get("/notes", params={"offset": 10}).json() == []


def test_delete_returns_204_then_the_note_is_gone(client):
    note = create(client)
    response = client.delete(f"/notes/{note['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/notes/{note['id']}").status_code == 404


@pytest.mark.parametrize("method", ["get", "delete"])
def test_missing_note_is_404(client, method):
    response = getattr(client, method)("/notes/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "note not found"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": None},
        {"title": 123},
        {"title": "ok", "body": "x" * 10_001},
        {"title": "ok", "unexpected": True},
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "too-long",
        "null",
        "not-a-string",
        "body-too-long",
        "unknown-field",
    ],
)
def test_invalid_note_is_422(client, payload):
    response = client.post("/notes", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_title_of_exactly_200_chars_is_accepted(client):
    assert client.post("/notes", json={"title": "x" * 200}).status_code == 201


def test_malformed_json_is_422(client):
    response = client.post(
        "/notes", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}])
def test_invalid_pagination_is_422(client, params):
    assert client.get("/notes", params=params).status_code == 422


def test_non_integer_id_is_422(client):
    assert client.get("/notes/abc").status_code == 422


def test_test_only_routes_are_not_mounted_by_default(client):
    assert client.get("/_test/pid").status_code == 404
    assert "/_test/pid" not in client.get("/openapi.json").json()["paths"]
