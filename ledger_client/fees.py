"""The one fee policy and the one gas headroom for every transaction this project signs.

Before, the CLI asked the node for a price and the wallet signed legacy transactions
with ``gasPrice: 0``; the oracle added 20 % to the estimate, the wallet 25 %, the officer
desk ``* 12 // 10``. On a zero-base-fee Besu network the two fee rules behave
differently; here there is one rule, and every signer uses it.
"""

from __future__ import annotations

from web3 import Web3

GAS_HEADROOM_PERCENT = 20
"""Added to every estimate: state can change between estimate and inclusion (a pay
writes a new record slot, a first mint of the day opens a new expiry bucket)."""

ONE_GWEI = 10**9


def with_headroom(estimate: int) -> int:
    """The gas limit to sign for a transaction whose estimate is ``estimate``."""
    return int(estimate) * (100 + GAS_HEADROOM_PERCENT) // 100


def zero_fees() -> dict[str, int]:
    """EIP-1559 fee fields of a free transaction (city accounts never hold ether)."""
    return {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}


def fee_fields(w3: Web3) -> dict[str, int]:
    """EIP-1559 fee fields: zero on a zero-base-fee network, else the node's suggestion.

    Our node answers ``eth_gasPrice`` 0. Other clients may suggest a price even when every
    block's base fee is 0 (anvil suggests its 1 gwei default tip; Besu's suggestion depends
    on recent blocks and ``--min-gas-price``), so a non-zero suggestion is checked against
    the latest block's ``baseFeePerGas`` (standard JSON-RPC) before it is used.
    """
    price = int(w3.eth.gas_price)
    if price == 0 or int(w3.eth.get_block("latest").get("baseFeePerGas", -1)) == 0:
        return zero_fees()
    return {"maxFeePerGas": price * 2, "maxPriorityFeePerGas": min(price, ONE_GWEI)}
