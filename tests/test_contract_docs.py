"""Every external function and event of the point contracts carries NatSpec (what it does, who may call it)."""

from __future__ import annotations

import json

import pytest

from contracts.artifacts import BUILD_DIR

POINT_CONTRACTS = ("AccountRegistry", "RegionalPoints", "RewardProgrammes", "OracleReports")
# Declared by OpenZeppelin without NatSpec of their own.
INHERITED_UNDOCUMENTED = {"DEFAULT_ADMIN_ROLE", "UPGRADE_INTERFACE_VERSION"}


@pytest.mark.parametrize("name", POINT_CONTRACTS)
def test_every_function_and_event_has_natspec(name: str) -> None:
    artifact = json.loads((BUILD_DIR / f"{name}.json").read_text())
    output = json.loads(artifact["metadata"])["output"]
    documented = {
        key.split("(")[0]
        for doc in (output["userdoc"], output["devdoc"])
        for section in ("methods", "events", "stateVariables")
        for key in doc.get(section, {})
    }
    members = {item["name"] for item in artifact["abi"] if item["type"] in ("function", "event")}
    assert sorted(members - documented - INHERITED_UNDOCUMENTED) == []
