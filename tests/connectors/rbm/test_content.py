"""The rcs module of a send, as the RBM AgentMessage the connector posts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from opencomms.connectors.rbm.content import ContentError, agent_message, ttl

IMAGE = "https://cdn.example.com/a.png"
REPLY = {"reply": {"text": "Yes", "postbackData": "yes"}}
DIAL = {"action": {"text": "Call", "postbackData": "call", "dial": {"phoneNumber": "+1415"}}}


def card(**fields: Any) -> dict[str, Any]:
    return {"richCard": {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": fields}}}


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ({"text": "Hello"}, {"text": "Hello"}),
        ({"media": [{"url": IMAGE}]}, {"contentInfo": {"fileUrl": IMAGE}}),
        (
            {"text": "Your order", "media": [{"url": IMAGE}]},
            card(
                description="Your order",
                media={"height": "MEDIUM", "contentInfo": {"fileUrl": IMAGE}},
            ),
        ),
        (
            {
                "card": {
                    "title": "T",
                    "media": {"url": IMAGE, "height": "TALL"},
                    "suggestions": [REPLY],
                }
            },
            card(
                title="T",
                suggestions=[REPLY],
                media={"height": "TALL", "contentInfo": {"fileUrl": IMAGE}},
            ),
        ),
        (
            {"text": "Pick one", "suggestions": [REPLY, DIAL]},
            {"text": "Pick one", "suggestions": [REPLY, DIAL]},
        ),
        (
            {
                "carousel": {
                    "cards": [{"title": "A"}, {"description": "B", "media": {"url": IMAGE}}]
                }
            },
            {
                "richCard": {
                    "carouselCard": {
                        "cardWidth": "MEDIUM",
                        "cardContents": [
                            {"title": "A"},
                            {
                                "description": "B",
                                "media": {"height": "MEDIUM", "contentInfo": {"fileUrl": IMAGE}},
                            },
                        ],
                    }
                }
            },
        ),
    ],
    ids=["text", "media", "media with text", "card", "suggestions", "carousel"],
)
def test_each_module_becomes_its_content_message(
    module: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert agent_message(module) == {"contentMessage": expected}


def test_a_carousel_keeps_its_card_width() -> None:
    module = {"carousel": {"cardWidth": "SMALL", "cards": [{"title": "A"}, {"title": "B"}]}}
    assert agent_message(module)["contentMessage"]["richCard"]["carouselCard"]["cardWidth"] == (
        "SMALL"
    )


def test_the_delivery_window_is_the_ttl() -> None:
    assert agent_message({"text": "x"}, 60_000)["ttl"] == "60s"
    assert agent_message({"text": "x"}, 1_500)["ttl"] == "1.500s"
    assert "ttl" not in agent_message({"text": "x"}, 0)
    assert ttl(90_001) == "90.001s"


@pytest.mark.parametrize(
    ("module", "why"),
    [
        ({}, "nothing to send"),
        ({"text": ""}, "nothing to send"),
        ({"text": 5}, "text is not a string"),
        ({"media": [{"url": IMAGE}, {"url": IMAGE}]}, "one media file per message, not 2"),
        ({"media": [{}]}, "media[0] needs a url"),
        ({"card": {}}, "a card needs a title"),
        ({"card": "x"}, "card is not an object"),
        ({"carousel": {"cards": "x"}}, "carousel.cards is not a list"),
        ({"card": {"media": {"height": "TALL"}}}, "a card's media needs a url"),
    ],
)
def test_what_cannot_be_an_rbm_message_is_refused(module: dict[str, Any], why: str) -> None:
    with pytest.raises(ContentError, match=re.escape(why)):
        agent_message(module)
