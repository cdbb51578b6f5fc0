"""`GET /v1/Messages/Operations/{id}/Errors`: an operation's failures by code, with
counts and samples, unaddressable recipients included, paged like every list."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.polling import send, wait_completed


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


EMAIL = {"address": "nobody@example.com", "channel": "EMAIL"}


def phone_pool(api: httpx.Client) -> str:
    """A pool of the default pool's phone senders: an email recipient is unaddressable."""
    default = api.get("/SenderPools").json()["senderPools"][0]
    senders = [api.get(f"/Senders/{s}").json() for s in default["senders"]]
    phones = [s["id"] for s in senders if s["channel"] != "EMAIL"]
    response = api.post("/SenderPools", json={"name": "phones", "senders": phones})
    assert response.status_code in (201, 202), response.text
    pool_id: str = response.json()["id"]
    return pool_id


def errors_of(api: httpx.Client, operation_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/Messages/Operations/{operation_id}/Errors", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def failing_operation(api: httpx.Client) -> tuple[str, dict[str, Any]]:
    assert api.post("/OptOuts", json={"address": "+14155550177"}).status_code == 201
    recipients = [phone("0005"), phone("0005"), phone("0001"), phone("0100"), EMAIL, phone("0177")]
    sender = {"senderPoolId": phone_pool(api)}
    operation_id = send(api, {"to": recipients, "content": {"text": "Hi"}, "from": sender})
    return operation_id, wait_completed(api, operation_id)


def test_errors_are_grouped_by_code_with_counts_and_samples(api: httpx.Client) -> None:
    operation_id, operation = failing_operation(api)

    body = errors_of(api, operation_id)

    groups = {group["code"]: group for group in body["errors"]}
    stats = operation["stats"]
    counted = sum(group["count"] for group in groups.values())
    assert counted == stats["failed"] + stats["undelivered"] + stats["unaddressable"] == 4
    assert list(groups) == sorted(groups)
    assert groups[21610]["count"] == 1  # opted out: FAILED with no attempt
    assert groups[21610]["samples"][0]["to"] == [{"address": "+14155550177", "channel": "PHONE"}]
    unaddressable = [s for g in groups.values() for s in g["samples"] if s["messageId"] is None]
    assert [(s["recipientIndex"], s["to"]) for s in unaddressable] == [(4, [EMAIL])]
    failed = {s["messageId"] for g in groups.values() for s in g["samples"] if s["messageId"]}
    for message_id in failed:
        message = api.get(f"/Messages/{message_id}").json()
        assert message["status"] in ("FAILED", "UNDELIVERED")
        assert message["error"]["code"] in groups
    for code, group in groups.items():
        assert group["infoUrl"].endswith(f"/{code}") and group["message"]
        assert 1 <= len(group["samples"]) <= min(group["count"], 3)
        assert all(sample["message"] for sample in group["samples"])
    # 0001 failed on RCS, then was delivered: not an error of the operation
    assert not any(s["to"][0]["address"].endswith("0001") for s in unaddressable)


def test_the_groups_page_by_code(api: httpx.Client) -> None:
    operation_id, _ = failing_operation(api)
    everything = errors_of(api, operation_id)["errors"]

    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": 1}
    while True:
        page = errors_of(api, operation_id, **params)
        assert len(page["errors"]) <= 1
        seen += page["errors"]
        if page["pagination"]["next"] is None:
            break
        params["pageToken"] = page["pagination"]["next"]

    assert len(everything) >= 3
    assert seen == everything


def test_an_operation_without_failures_has_no_errors(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)

    body = errors_of(api, operation_id)

    assert body["errors"] == [] and body["pagination"]["next"] is None


def test_another_accounts_or_an_unknown_operation_is_a_404(api: httpx.Client, server: Any) -> None:
    from tests.support.server import account_client

    operation_id = send(api, {"to": [phone("0005")], "content": {"text": "Hi"}})
    with account_client(server) as other:
        assert other.get(f"/Messages/Operations/{operation_id}/Errors").status_code == 404
    unknown = "comms_operation_01h9krwprkeee8fzqspvwy6nq8"
    assert api.get(f"/Messages/Operations/{unknown}/Errors").status_code == 404
    assert api.get("/Messages/Operations/nope/Errors").status_code == 404


def test_a_filter_is_refused_by_name(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [phone("0005")], "content": {"text": "Hi"}})

    response = api.get(f"/Messages/Operations/{operation_id}/Errors", params={"code": "1"})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["code"]
