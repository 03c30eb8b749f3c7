"""Every JSON-RPC method the node serves, by name, in one place.

The server dispatches from this table only: a name not in it answers -32601. Each handler
is ``async def handler(api: EthAPI, params) -> JSON``, in the module of its namespace.
``eth_subscribe`` and ``eth_unsubscribe`` are not here: they belong to a WebSocket
connection, and ``server.py`` answers them itself. Which methods run off the event loop,
and what they cost a batch, is ``limits.py`` (``EXECUTION_METHODS``, ``HEAVY_METHODS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from node.rpc import debug, dev, net, qbft, takasago, txpool
from node.rpc.eth import blocks, calls, chain, logs, state, transactions

if TYPE_CHECKING:
    from node.rpc.api import EthAPI

Handler = Callable[["EthAPI", Any], Awaitable[Any]]

METHODS: Mapping[str, Handler] = MappingProxyType(
    {
        # web3_* and net_*
        "web3_clientVersion": net.client_version,
        "web3_sha3": net.sha3,
        "net_version": net.version,
        "net_listening": net.listening,
        "net_peerCount": net.peer_count,
        # eth_*: the chain and this node
        "eth_chainId": chain.chain_id,
        "eth_syncing": chain.syncing,
        "eth_accounts": chain.accounts,
        "eth_mining": chain.mining,
        "eth_hashrate": chain.hashrate,
        "eth_coinbase": chain.coinbase,
        "eth_blockNumber": chain.block_number,
        "eth_gasPrice": chain.gas_price,
        "eth_maxPriorityFeePerGas": chain.max_priority_fee_per_gas,
        "eth_blobBaseFee": chain.blob_base_fee,
        "eth_feeHistory": chain.fee_history,
        # eth_*: account state
        "eth_getBalance": state.get_balance,
        "eth_getTransactionCount": state.get_transaction_count,
        "eth_getCode": state.get_code,
        "eth_getStorageAt": state.get_storage_at,
        # eth_*: code execution (limits.EXECUTION_METHODS)
        "eth_call": calls.call,
        "eth_estimateGas": calls.estimate_gas,
        "eth_createAccessList": calls.create_access_list,
        "eth_simulateV1": calls.simulate_v1,
        # eth_*: transactions
        "eth_sendRawTransaction": transactions.send_raw_transaction,
        "eth_sendTransaction": transactions.send_transaction,
        "eth_sign": transactions.sign,
        "eth_getTransactionByHash": transactions.get_transaction_by_hash,
        "eth_getTransactionReceipt": transactions.get_transaction_receipt,
        "eth_getTransactionByBlockNumberAndIndex": transactions.get_transaction_by_block_number_and_index,
        "eth_getTransactionByBlockHashAndIndex": transactions.get_transaction_by_block_hash_and_index,
        "eth_getRawTransactionByHash": debug.get_raw_transaction,  # geth's alias of debug_getRawTransaction
        "eth_getRawTransactionByBlockNumberAndIndex": transactions.get_raw_transaction_by_block_number_and_index,
        "eth_getRawTransactionByBlockHashAndIndex": transactions.get_raw_transaction_by_block_hash_and_index,
        # eth_*: blocks
        "eth_getBlockByNumber": blocks.get_block_by_number,
        "eth_getBlockByHash": blocks.get_block_by_hash,
        "eth_getBlockReceipts": blocks.get_block_receipts,
        "eth_getBlockTransactionCountByNumber": blocks.get_block_transaction_count_by_number,
        "eth_getBlockTransactionCountByHash": blocks.get_block_transaction_count_by_hash,
        "eth_getUncleCountByBlockNumber": blocks.get_uncle_count_by_block_number,
        "eth_getUncleCountByBlockHash": blocks.get_uncle_count_by_block_hash,
        # eth_*: logs and polling filters
        "eth_getLogs": logs.get_logs,
        "eth_newFilter": logs.new_filter,
        "eth_newBlockFilter": logs.new_block_filter,
        "eth_newPendingTransactionFilter": logs.new_pending_transaction_filter,
        "eth_getFilterChanges": logs.get_filter_changes,
        "eth_getFilterLogs": logs.get_filter_logs,
        "eth_uninstallFilter": logs.uninstall_filter,
        # debug_*: raw encodings
        "debug_getRawHeader": debug.get_raw_header,
        "debug_getRawBlock": debug.get_raw_block,
        "debug_getRawTransaction": debug.get_raw_transaction,
        # txpool_*, qbft_*, takasago_*
        "txpool_status": txpool.status,
        "qbft_getValidatorsByBlockNumber": qbft.get_validators_by_block_number,
        "takasago_nodeInfo": takasago.node_info,
        "takasago_getCommitCertificate": takasago.get_commit_certificate,
        "takasago_importBlock": takasago.import_block,  # refuses itself unless on a dev chain (see its docstring)
        "takasago_transactionStatus": takasago.transaction_status,
    }
)

# Development chains only (a dev clock): absent elsewhere, so they answer -32601 there.
DEV_METHODS: Mapping[str, Handler] = MappingProxyType(
    {
        "evm_increaseTime": dev.increase_time,
        "evm_setNextBlockTimestamp": dev.set_next_block_timestamp,
        "evm_mine": dev.mine,
    }
)


def method_table(dev_chain: bool) -> dict[str, Handler]:
    """The methods a node serves: all of ``METHODS``, and ``DEV_METHODS`` on a development chain."""
    return {**METHODS, **DEV_METHODS} if dev_chain else dict(METHODS)
