"""Schemathesis against the OpenAPI schema: generated requests for every operation, never a 5xx.

The app runs over its own data directory (generated requests create and delete
collections), with a few documents ingested, the session's model reused and
small limits so generated bodies hit the 413/422 paths too.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.types import Document  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(make_service, tmp_path_factory):
    from rag.api.app import create_app

    data = tmp_path_factory.mktemp("schemathesis")
    svc = make_service(data)
    svc.ingest("sample", [Document(id="w", title="Warranty", text="Frames carry a lifetime warranty. Paint is covered "
                                                                   "for two years."),
                          Document(id="s", title="Shipping", text="Orders ship within two working days.")])
    app = create_app(Settings(data_dir=data, api_keys="", rate_limit_per_minute=0, max_body_bytes=20_000,
                              max_upload_bytes=20_000, default_collection="sample"), service=svc)
    with TestClient(app):  # runs the lifespan: models and indexes loaded, app.state ready
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
