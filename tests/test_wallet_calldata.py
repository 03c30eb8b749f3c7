"""The wallet encodes its calls with eth_abi from a cached selector (issue 17): byte for byte what web3 encodes."""

from __future__ import annotations

import secrets

from eth_account import Account

from tests.points import PointsSystem
from tests.wallet_support import shared_points
from wallet_api.ledger import Ledger

# the worker's shared chain (no deployment of its own): fresh accounts, no settings changed
points = shared_points


def test_cached_encoding_matches_web3_for_every_call_the_wallet_makes(points: PointsSystem) -> None:
    ledger = Ledger(points.node.url, points.deployments_dir)
    someone, other = Account.create().address, Account.create().address
    calls = [
        ("RegionalPoints", "pay", someone, 1_250, secrets.token_bytes(32)),
        ("RegionalPoints", "refund", secrets.token_bytes(32), 7),
        ("RegionalPoints", "requestSettlement", 10**18, secrets.token_bytes(32)),
        ("RegionalPoints", "thank", other, 30, b"help".ljust(32, b"\0"), b"\0" * 32),
        ("AccountRegistry", "register", someone, 1, secrets.token_bytes(32)),
        ("RewardProgrammes", "attest", 3, someone, 12, secrets.token_bytes(32), 2**255 + 9),
    ]
    for contract, function, *args in calls:
        for _ in range(2):  # the first call fills the cache, the second uses it
            target, data = ledger.calldata(contract, function, *args)
            expected = ledger.contract(contract).encode_abi(function, args=list(args))
            assert target == ledger.contract(contract).address
            assert "0x" + data.hex() == expected, (contract, function)
