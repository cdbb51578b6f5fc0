"""The Graph error table: each code's kind, Twilio code and wait, and the fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.connectors.whatsapp.errors import (
    ERRORS,
    OPERATOR_RETRY_MS,
    Kind,
    graph_error,
    receipt_status,
)


@pytest.mark.parametrize(
    ("code", "kind", "twilio_code"),
    [
        (131026, Kind.REFUSED, 63024),  # not a WhatsApp user: the fallback moves on
        (131047, Kind.REFUSED, 63016),  # outside the 24-hour window
        (100, Kind.REFUSED, 63021),
        (131051, Kind.REFUSED, 63021),
        (131030, Kind.REFUSED, 63024),
        (132001, Kind.REFUSED, 63027),
        (130429, Kind.THROTTLED, 63018),
        (131056, Kind.THROTTLED, 63018),
        (190, Kind.OPERATOR, 63001),
    ],
)
def test_the_documented_codes(code: int, kind: Kind, twilio_code: int) -> None:
    row = graph_error(code, 400)
    assert (row.kind, row.twilio_code) == (kind, twilio_code)


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_row_that_waits_says_how_long_and_no_refusal_waits(code: int) -> None:
    row = ERRORS[code]
    assert (row.retry_after_ms > 0) == (row.kind is not Kind.REFUSED)
    assert row.title
    assert 20000 <= row.twilio_code < 70000


def test_the_pair_rate_waits_about_the_six_seconds_meta_allows_per_user() -> None:
    assert graph_error(131056, 400).retry_after_ms == 6000


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (None, 429, Kind.THROTTLED),
        (None, 503, Kind.THROTTLED),
        (1, 500, Kind.THROTTLED),  # an unknown code on a server error: try again
        (None, 401, Kind.OPERATOR),
        (250, 400, Kind.OPERATOR),  # 200-299: API permission
        (132999, 400, Kind.REFUSED),  # any template error
        (None, 400, Kind.REFUSED),
        (999999, 404, Kind.REFUSED),
    ],
)
def test_codes_not_in_the_table_are_read_by_range_and_http_status(
    code: int | None, status: int, kind: Kind
) -> None:
    assert graph_error(code, status).kind is kind


def test_an_operator_error_waits_a_minute() -> None:
    assert graph_error(190, 401).retry_after_ms == OPERATOR_RETRY_MS == 60_000


@pytest.mark.parametrize(
    ("code", "status"),
    [(131026, "UNDELIVERED"), (131049, "UNDELIVERED"), (131047, "FAILED"), (None, "FAILED")],
)
def test_a_failed_status_is_undelivered_when_the_recipients_side_refused(
    code: int | None, status: str
) -> None:
    assert receipt_status(code) == status


DOCS = Path(__file__).resolve().parents[3] / "docs" / "whatsapp.md"


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_docs_whatsapp_md_lists_every_row_as_the_table_has_it(code: int) -> None:
    row = ERRORS[code]
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith(f"| {code} |")]
    assert len(lines) == 1, f"docs/whatsapp.md lists {code} {len(lines)} times"
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    wait = f"{row.retry_after_ms // 1000} s" if row.retry_after_ms else "—"
    outcome = "REJECTED" if row.kind is Kind.REFUSED else "THROTTLED"
    assert cells[2].startswith(outcome)
    assert (cells[3], cells[4]) == (wait, str(row.twilio_code))
