"""Schemathesis against the server's own OpenAPI document: a bounded number of generated requests per operation
(with a valid key and without one, on a collection of its own), none answered with a 5xx, every answer as documented."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import KEY, client_for

CASES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
REPORT = Path(__file__).resolve().parents[2] / "tests-artifacts" / "serve" / "schemathesis.json"


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {}], ids=["with-key", "without-key"])
def test_generated_requests_get_no_5xx_and_documented_answers(tmp_path, media_root, headers):
    # schemathesis calls the app as host "testserver"
    with client_for(tmp_path / "c", media_root, tmp_path / "thumbs", allowed_hosts=["testserver"]) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        statuses: Counter = Counter()
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            fuzz(operation, statuses, headers)
    report = REPORT.with_name(f"{REPORT.stem}-{'with' if headers else 'without'}-key.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"operations": len(operations), "cases": sum(statuses.values()),
                                  "by_status": {str(k): v for k, v in sorted(statuses.items())}}, indent=1))
    assert len(operations) >= 14 and not any(status >= 500 for status in statuses)


def fuzz(operation, statuses: Counter, headers: dict) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()
