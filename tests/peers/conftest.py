"""The real SMPP chain (tests/support/jasmin.py), shared by the tests of this package and
stopped after them: an idle jasmind kept most of a core busy (68 %, seen in CI) for the
rest of the run when it lived as long as the session.

Service-backed tests run in CI and skip locally only when the service is absent and CI is
not set: with `CI` set, a missing Jasmin fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.jasmin import JasminPeer, jasmin_chain, missing_peers


@pytest.fixture(scope="package")
def jasmin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JasminPeer]:
    """Jasmin 0.11.0 in front of the example SMSC, which sends a DELIVRD receipt for
    every submit that asks for one (Jasmin adds an ACCEPTD receipt before it)."""
    reason = missing_peers()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the SMPP peers are missing: {reason}")
        pytest.skip(reason)
    with jasmin_chain(tmp_path_factory.mktemp("jasmin")) as peer:
        yield peer
