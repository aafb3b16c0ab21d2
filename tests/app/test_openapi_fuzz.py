"""schemathesis against the app's own OpenAPI document, every check, SQLite and PostgreSQL.

Each operation gets a bounded number of generated requests (positive and negative data,
``HYPOTHESIS_EXAMPLES`` per operation and database) sent in-process through the ASGI app with
its real lifespan (engine, pool) and a database migrated by the real ``python -m api.migrate``.
Every check schemathesis has (``--checks all``) must pass: above all no 5xx, and every status,
header and body is what the document declares.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

from api.main import create_app
from app_support import AUTH

HYPOTHESIS_EXAMPLES = 25
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="module")
def app_schema(migrated_database):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", migrated_database)
        patch.delenv("APP_ENABLE_TEST_ROUTES", raising=False)
        app = create_app()
        with TestClient(app):  # runs the lifespan: the engine schemathesis's requests use
            yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _fuzz(operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        case.call_and_validate(checks=ALL_CHECKS, headers=AUTH)

    run()


# Through the Python API rather than the pytest plugin: the plugin's parametrization does not
# work with this pytest (``'Function' object has no attribute '_nodeid'``).
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_its_openapi_document(app_schema, mode):
    operations = [result.ok() for result in app_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/notes", "/notes/{note_id}", "/healthz"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # /healthz, /readyz: nothing to make invalid
        _fuzz(operation, mode)


def _has_inputs(operation) -> bool:
    return bool(len(operation.body) or operation.path_parameters or operation.query)
