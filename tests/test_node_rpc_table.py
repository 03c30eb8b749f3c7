"""The method table serves exactly the methods the node served before the split (issue 16).

The expected names were computed from the old ``node/rpc/methods.py`` (its dynamic lookup of
``eth_``/``net_``/``web3_``/``txpool_``/``takasago_``/``debug_``/``qbft_`` methods, plus the
three ``evm_*`` on a dev chain) and written down here, so a method cannot appear or vanish
without this test changing.
"""

from __future__ import annotations

import inspect

from node.rpc.limits import EXECUTION_METHODS, HEAVY_METHODS
from node.rpc.method_table import DEV_METHODS, METHODS, method_table

PUBLIC_METHODS = {
    "debug_getRawBlock", "debug_getRawHeader", "debug_getRawTransaction",
    "eth_accounts", "eth_blobBaseFee", "eth_blockNumber", "eth_call", "eth_chainId", "eth_coinbase",
    "eth_createAccessList", "eth_estimateGas", "eth_feeHistory", "eth_gasPrice", "eth_getBalance",
    "eth_getBlockByHash", "eth_getBlockByNumber", "eth_getBlockReceipts", "eth_getBlockTransactionCountByHash",
    "eth_getBlockTransactionCountByNumber", "eth_getCode", "eth_getFilterChanges", "eth_getFilterLogs",
    "eth_getLogs", "eth_getRawTransactionByBlockHashAndIndex", "eth_getRawTransactionByBlockNumberAndIndex",
    "eth_getRawTransactionByHash", "eth_getStorageAt", "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionByBlockNumberAndIndex", "eth_getTransactionByHash", "eth_getTransactionCount",
    "eth_getTransactionReceipt", "eth_getUncleCountByBlockHash", "eth_getUncleCountByBlockNumber",
    "eth_hashrate", "eth_maxPriorityFeePerGas", "eth_mining", "eth_newBlockFilter", "eth_newFilter",
    "eth_newPendingTransactionFilter", "eth_sendRawTransaction", "eth_sendTransaction", "eth_sign",
    "eth_simulateV1", "eth_syncing", "eth_uninstallFilter",
    "net_listening", "net_peerCount", "net_version",
    "qbft_getValidatorsByBlockNumber",
    "takasago_getCommitCertificate", "takasago_importBlock", "takasago_nodeInfo", "takasago_transactionStatus",
    "txpool_status",
    "web3_clientVersion", "web3_sha3",
}  # fmt: skip

DEVELOPMENT_METHODS = {"evm_increaseTime", "evm_setNextBlockTimestamp", "evm_mine"}


def test_the_table_serves_the_same_methods_as_before_the_split() -> None:
    assert set(METHODS) == PUBLIC_METHODS
    assert set(DEV_METHODS) == DEVELOPMENT_METHODS


def test_evm_methods_exist_only_on_development_chains() -> None:
    assert set(method_table(dev_chain=False)) == PUBLIC_METHODS
    assert set(method_table(dev_chain=True)) == PUBLIC_METHODS | DEVELOPMENT_METHODS


def test_every_handler_is_a_coroutine_function_taking_the_api_and_params() -> None:
    for name, handler in {**METHODS, **DEV_METHODS}.items():
        assert inspect.iscoroutinefunction(handler), name
        assert list(inspect.signature(handler).parameters)[:2] == ["api", "params"], name


def test_every_method_the_lanes_classify_is_in_the_table() -> None:
    """A renamed method must not silently fall out of its lane (limits.py names them by string)."""
    assert EXECUTION_METHODS <= set(METHODS)
    assert set(HEAVY_METHODS) <= set(METHODS)
