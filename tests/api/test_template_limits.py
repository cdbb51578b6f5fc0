"""A template certain to break the loop bound (`[templates] loop_iterations`, 1,000) for
every recipient is refused at accept: a 400 with the contract's body naming each field,
and nothing is accepted (issue 10, point 3). Before, such a send was accepted and every
recipient failed, or (sibling loops: each was bounded alone) rendered for seconds each.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_errors import assert_error, assert_invalid, assert_nothing_accepted
from tests.support.polling import send, wait_completed

TO = [{"address": "+14155550100", "channel": "PHONE", "variables": {"name": "Ana"}}]
SIBLINGS = "{% for i in (1..600) %}{% endfor %}{% for i in (1..600) %}{{ name }}{% endfor %}"
NESTED = "{% for i in (1..40) %}{% for j in (1..40) %}x{% endfor %}{% endfor %}"
HUGE_RANGE = "{{ (1..100000000) | join: ',' }}"


def body(**fields: Any) -> dict[str, Any]:
    return {"to": TO, "content": {"text": "Hi"}, **fields}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"content": {"text": SIBLINGS}}, "content.text"),
        ({"content": {"text": NESTED}}, "content.text"),
        ({"content": {"text": HUGE_RANGE}}, "content.text"),
        ({"content": {"modules": [{"sms": {"text": NESTED}}]}}, "content.modules[0].sms.text"),
        ({"tags": {"campaign": "{% for i in (1..2000) %}x{% endfor %}"}}, "tags.campaign"),
    ],
    ids=["sibling-loops", "nested-loops", "huge-range", "module", "tag"],
)
def test_a_template_certain_to_break_the_loop_bound_is_a_400(
    api: httpx.Client, fields: dict[str, Any], field: str
) -> None:
    response = api.post("/Messages", json=body(**fields))

    assert_invalid(response, field)
    assert "over the limit of 1000" in response.json()["errors"][0]["message"]
    assert_nothing_accepted(api)


def test_every_such_template_of_a_request_is_listed_in_one_answer(api: httpx.Client) -> None:
    request = body(
        content={"modules": [{"sms": {"text": SIBLINGS}}, {"rcs": {"text": NESTED}}]},
        tags={"a": "{{ (1..5000) | size }}"},
    )

    response = api.post("/Messages", json=request)

    assert assert_error(response, 400) == {
        "content.modules[0].sms.text",
        "content.modules[1].rcs.text",
        "tags.a",
    }
    assert_nothing_accepted(api)


def test_loops_up_to_the_bound_are_accepted_and_rendered(api: httpx.Client) -> None:
    text = "{% for i in (1..500) %}{% endfor %}{% for i in (1..3) %}{{ name }}{% endfor %}"

    operation_id = send(api, body(content={"text": text}))

    wait_completed(api, operation_id)
    messages = api.get("/Messages", params={"operationId": operation_id}).json()["messages"]
    fetched = api.get(f"/Messages/{messages[0]['id']}").json()
    assert fetched["content"] == {"text": "AnaAnaAna"}
