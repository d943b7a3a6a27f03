"""Schemathesis against the OpenAPI schema: generated requests for every operation, never a 5xx.

The app runs over its own data directory (generated requests create and delete
collections), with a few documents ingested, the session's model reused and
small limits so generated bodies hit the 413/422 paths too.
"""

from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

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


def test_no_server_errors(api_schema):
    """Every operation, positive and negative examples (schemathesis's pytest plugin does not run on pytest 9,
    so the operations are driven through their hypothesis strategies here)."""
    failures: list[str] = []
    labels: list[str] = []
    statuses: Counter = Counter()
    for result in api_schema.get_all_operations():
        op = result.ok()
        labels.append(op.label)

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            r = case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
            statuses[r.status_code] += 1

        try:
            check()
        except Exception as e:  # collect every operation's failure, not just the first
            failures.append(f"{op.label}: {e}")
    print(f"{sum(statuses.values())} requests over {len(labels)} operations: {dict(sorted(statuses.items()))}")
    assert len(labels) >= 12, labels
    assert any(200 <= c < 300 for c in statuses) and any(400 <= c < 500 for c in statuses), statuses
    assert not failures, "\n\n".join(failures)
