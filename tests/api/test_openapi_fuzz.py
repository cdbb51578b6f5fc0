"""Schemathesis over `/v1/openapi.json`: cases generated from the document (valid and
invalid ones, every operation) against a real server on both engines; no answer is a
5xx, and every answer is documented: its status, its content type and its body (checked
against its schema by schemathesis). `FUZZ_CASES` cases per engine (1,000 in the suite;
`make fuzz` runs 10,000)."""

from __future__ import annotations

import contextlib
import math
import os
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from tests.support.server import ThreadServer

CASES = int(os.environ.get("FUZZ_CASES", "1000"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# every answer, valid case or not, has a documented status, content type and body
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _operations(server: ThreadServer) -> list[Any]:
    document = httpx.get(server.url + "/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: Any, mode: GenerationMode, examples: int, run: FuzzRun) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        run.send(case)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid: no case
        one()


class FuzzRun:
    """Sends the cases as the account, counting them and keeping one example per 5xx."""

    def __init__(self, server: ThreadServer, account: tuple[str, str]) -> None:
        self.server = server
        self.account = account
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.server_errors: dict[str, str] = {}
        self.undocumented: dict[str, str] = {}

    def send(self, case: Any) -> None:
        response = case.call(base_url=self.server.url, auth=self.account, timeout=30)
        self.sent += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            key = f"{case.method} {case.path} -> {response.status_code}"
            self.server_errors.setdefault(key, case.as_curl_command())
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except FailureGroup as failure:
            key = f"{case.method} {case.path} -> {response.status_code}"
            self.undocumented.setdefault(key, f"{failure}\n{case.as_curl_command()}")


def test_no_case_of_the_document_is_a_server_error(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    operations = _operations(server)
    # headroom: an operation with few parameters runs out of distinct cases early
    examples = math.ceil(CASES * 1.1 / (len(operations) * len(MODES)))
    run = FuzzRun(server, account)
    for operation in operations:
        for mode in MODES:
            _fuzz(operation, mode, examples, run)
    print(f"{run.sent} cases over {len(operations)} operations: {dict(run.statuses)}")
    assert run.server_errors == {}
    assert run.undocumented == {}
    assert run.sent >= CASES * 0.9
    assert httpx.get(server.url + "/healthz").status_code == 200
