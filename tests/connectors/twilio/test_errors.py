"""The Twilio error table: each code's kind and wait, and docs/twilio.md saying the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.connectors.twilio.errors import ERRORS, OPERATOR_RETRY_MS, Kind, twilio_error

DOCS = Path(__file__).resolve().parents[3] / "docs" / "twilio.md"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (21211, Kind.REFUSED),
        (21610, Kind.REFUSED),
        (21614, Kind.REFUSED),
        (21408, Kind.REFUSED),
        (30003, Kind.REFUSED),
        (30007, Kind.REFUSED),
        (20429, Kind.THROTTLED),
        (21611, Kind.THROTTLED),
        (20003, Kind.OPERATOR),
    ],
)
def test_the_codes_the_issue_names(code: int, kind: Kind) -> None:
    assert twilio_error(code, 400).kind is kind


@pytest.mark.parametrize(
    ("status", "kind", "wait_ms"),
    [(429, Kind.THROTTLED, 1000), (500, Kind.THROTTLED, 5000), (503, Kind.THROTTLED, 5000),
     (401, Kind.OPERATOR, OPERATOR_RETRY_MS), (403, Kind.OPERATOR, OPERATOR_RETRY_MS),
     (400, Kind.REFUSED, 0), (404, Kind.REFUSED, 0)],
)  # fmt: skip
def test_an_unknown_code_is_read_by_its_http_status(status: int, kind: Kind, wait_ms: int) -> None:
    row = twilio_error(99999, status)
    assert (row.kind, row.retry_after_ms) == (kind, wait_ms)
    assert twilio_error(None, status) == row


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_row_that_waits_says_how_long_and_no_refusal_waits(code: int) -> None:
    row = ERRORS[code]
    assert (row.retry_after_ms > 0) == (row.kind is not Kind.REFUSED)


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_docs_twilio_md_lists_every_row_as_the_table_has_it(code: int) -> None:
    row = ERRORS[code]
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith(f"| {code} |")]
    assert len(lines) == 1, f"docs/twilio.md lists {code} {len(lines)} times"
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    wait = f"{row.retry_after_ms // 1000} s" if row.retry_after_ms else "—"
    outcome = {Kind.REFUSED: "REJECTED", Kind.THROTTLED: "THROTTLED",
               Kind.OPERATOR: "THROTTLED, ERROR logged"}[row.kind]  # fmt: skip
    assert cells[2].removesuffix(" (that attempt only)") == outcome
    assert cells[3] == wait
    assert cells[1].startswith(row.title), (cells[1], row.title)


def test_the_docs_table_has_no_row_the_code_lacks() -> None:
    rows = [
        line
        for line in DOCS.read_text().splitlines()
        if line.startswith("| ") and line[2:7].isdigit()
    ]
    assert sorted(int(line[2:7]) for line in rows) == sorted(ERRORS)
