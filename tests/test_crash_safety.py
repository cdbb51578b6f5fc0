"""Crash safety: a server killed with SIGKILL after a 202 loses nothing and sends nothing twice."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import database_url
from tests.support.polling import all_messages, operation, send, wait_completed, wait_until
from tests.support.process import ServeProcess

pytestmark = pytest.mark.slow

RECIPIENTS = 10_000


def ordinary_number(index: int) -> str:
    """A unique number whose last four digits avoid the simulator's magic endings."""
    return f"+1415{index // 9000:03d}{1000 + index % 9000:04d}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def test_sigkill_mid_operation_loses_nothing_and_duplicates_nothing(
    backend_url: str, tmp_path: Path
) -> None:
    sid, token = new_account_sid(), new_auth_token()
    submit_log = tmp_path / "submits.jsonl"
    config = tmp_path / "opencomms.toml"
    # A slow carrier keeps batches of submits in flight, so the kill lands among them; slow
    # receipts make the restarted server recover those attempts before any receipt does.
    config.write_text(
        "[simulator]\nsubmit_latency_ms = [20, 150]\nreceipt_latency_ms = [2000, 3000]\n"
    )
    env = {
        "OPENCOMMS_CONFIG": str(config),
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(submit_log),
    }
    server = ServeProcess(backend_url, tmp_path, env).start()
    try:
        api = httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=60)
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(RECIPIENTS)]
        operation_id = send(api, {"to": to, "content": {"text": "Hello {{n}}"}})

        # first crash: right after the 202, while the fan-out is under way
        server.kill()
        server.start()
        # second crash: in the middle of dispatch, with attempts in flight (on PostgreSQL
        # the fan-out the first crash left claimed waits for its lease: another live
        # process could be holding it)
        wait_until(
            lambda: operation(api, operation_id)["stats"]["attempts"] > RECIPIENTS // 4,
            timeout=90,
        )
        server.kill()
        server.start()

        final = wait_completed(api, operation_id, timeout=300)
        messages = all_messages(api, operationId=operation_id)
    finally:
        server.stop()

    assert final["stats"]["recipients"] == RECIPIENTS
    assert final["stats"]["total"] == RECIPIENTS
    per_recipient = collections.Counter(m["to"][0]["address"] for m in messages)
    assert len(messages) == RECIPIENTS
    assert set(per_recipient) == {r["address"] for r in to}
    assert max(per_recipient.values()) == 1
    submits = [json.loads(line) for line in submit_log.read_text().splitlines()]
    per_attempt = collections.Counter(line["attemptId"] for line in submits)
    assert per_attempt, "the simulator recorded no submit"
    duplicated = {attempt: n for attempt, n in per_attempt.items() if n > 1}
    assert duplicated == {}
    assert {line["operationId"] for line in submits} == {operation_id}


def test_a_scheduled_operation_survives_a_restart(backend_url: str, tmp_path: Path) -> None:
    sid, token = new_account_sid(), new_auth_token()
    env = {"OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token}
    server = ServeProcess(backend_url, tmp_path, env).start()
    try:
        api = httpx.Client(base_url=server.url + "/v1", auth=(sid, token), timeout=60)
        # far enough that a restart on a loaded machine (seen: over 4 s) ends before it
        send_at = datetime.now(UTC) + timedelta(seconds=15)
        to = [{"address": ordinary_number(i), "channel": "PHONE"} for i in range(50)]
        operation_id = send(
            api,
            {"to": to, "content": {"text": "Later"}, "schedule": {"sendAt": [send_at.isoformat()]}},
        )
        wait_until(lambda: operation(api, operation_id)["stats"]["scheduled"] == 50)
        server.kill()
        server.start()
        assert operation(api, operation_id)["status"] == "SCHEDULED"

        final = wait_completed(api, operation_id, timeout=60)
    finally:
        server.stop()

    assert datetime.now(UTC) >= send_at
    assert final["stats"]["total"] == 50
    assert final["stats"]["delivered"] + final["stats"]["read"] == 50
