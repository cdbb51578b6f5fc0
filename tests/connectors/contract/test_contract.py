"""Every connector through its declared contract cases, and each declaration checked."""

from __future__ import annotations

import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from tests.connectors.contract.cases import Case, Contract
from tests.connectors.contract.rbm_cases import RBM
from tests.connectors.contract.runner import (
    check_declarations,
    refuse_remote_connections,
    run_case,
)
from tests.connectors.contract.simulator_cases import SIMULATOR
from tests.connectors.contract.smpp_cases import SMPP
from tests.connectors.contract.smtp_cases import SMTP
from tests.connectors.contract.twilio_cases import TWILIO
from tests.connectors.contract.whatsapp_cases import WHATSAPP

# a new connector: its declaration module, and one line here
CONTRACTS = (SIMULATOR, SMPP, RBM, WHATSAPP, SMTP, TWILIO)


def test_every_connector_type_has_a_contract() -> None:
    """A contract is named after its connector's `type` (the tag of its settings)."""
    types = {config.__struct_config__.tag for config in CONNECTOR_TYPES}
    assert types <= {contract.name for contract in CONTRACTS}


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda contract: contract.name)
def test_the_declaration_covers_every_kind_and_status(contract: Contract) -> None:
    assert check_declarations(contract) == []


@pytest.mark.parametrize(
    ("contract", "case"),
    [
        pytest.param(contract, case, id=f"{contract.name}: {case.label}")
        for contract in CONTRACTS
        for case in contract.cases
    ],
)
async def test_case(
    contract: Contract,
    case: Case,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await run_case(contract, case, caplog, refuse_remote_connections(monkeypatch))
