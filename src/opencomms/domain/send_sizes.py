"""What counts as a small send: codes, alerts, receipts, one message at a time.

Small operations are fanned out many at a time (engine/fanout_batch.py) and, when an
account floods the server with them faster than it drains them, paced at admission
(api/admission.py)."""

from __future__ import annotations

__all__ = ["SMALL_SEND"]

SMALL_SEND = 100  # recipients: an operation of up to this many is a small send
