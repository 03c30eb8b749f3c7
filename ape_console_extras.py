"""Loaded by `ape console`: make ape read this chain's proof-of-authority headers, and
put the deployed point contracts in the console's namespace.

ape 0.8 detects PoA chains only through an error its own web3 set-up never raises,
so the seals in extraData (> 32 bytes, as on Besu QBFT and Clique) break every block
read until web3's ExtraDataToPOAMiddleware is added.

The point contracts come from the deployment file that `takasago deploy` (or `takasago
up`) wrote for this chain: `registry`, `token`, `programmes` and `reports` are ape
contract instances at their proxy addresses, with the implementations' ABIs from
contracts/build. The directory is TAKASAGO_DEPLOYMENTS, or .takasago/deployments.
"""

import json
import os
from pathlib import Path
from typing import Any

CONSOLE_NAMES = {
    "registry": "AccountRegistry",
    "token": "RegionalPoints",
    "programmes": "RewardProgrammes",
    "reports": "OracleReports",
}


def deployed_addresses(chain_id: int, directory: Path | None = None) -> dict[str, str]:
    """Console name -> proxy address, from the deployment file of ``chain_id`` (empty if none)."""
    base = directory or Path(os.environ.get("TAKASAGO_DEPLOYMENTS", ".takasago/deployments"))
    try:
        document = json.loads((base / f"{chain_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    contracts = document.get("contracts", {}) if isinstance(document, dict) else {}
    return {
        name: contracts[contract]["address"]
        for name, contract in CONSOLE_NAMES.items()
        if isinstance(contracts.get(contract), dict) and "address" in contracts[contract]
    }


def ape_init_extras(networks: Any, project: Any) -> dict[str, Any]:
    from web3.middleware import ExtraDataToPOAMiddleware

    provider = networks.active_provider
    if provider is None or getattr(provider, "web3", None) is None:
        return {}
    provider.web3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    loaded: dict[str, Any] = {}
    for name, address in deployed_addresses(provider.chain_id).items():
        container = getattr(project, CONSOLE_NAMES[name], None)
        if container is not None:
            loaded[name] = container.at(address)
    if loaded:
        print(f"takasago: {', '.join(sorted(loaded))} loaded from the deployment of chain {provider.chain_id}")
    return loaded
