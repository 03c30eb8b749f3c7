"""The JSON-RPC methods. Each takes the request's ``params`` and returns JSON.

Conventions follow geth: quantities as 0x hex, unknown blocks/transactions as
``null``, reverts as error code 3 with the revert data, admission failures as
-32000 (-32003 when the allowlist refuses the sender).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
import rlp
from eth.abc import BlockHeaderAPI
from eth_utils import keccak, to_checksum_address

from node import CLIENT_VERSION
from node.admission import AdmissionWorkers
from node.calls import (
    MAX_SIMULATED_BLOCKS,
    MAX_SIMULATED_CALLS,
    CallRequest,
    SimulatedBlock,
    SimulatedResult,
    StateOverrides,
    call,
    create_access_list,
    estimate_gas,
    simulate,
)
from node.errors import (
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    RESOURCE_NOT_FOUND,
    InvalidParams,
    RPCError,
    TransactionRejected,
)
from node.ledger import decode_block
from node.pool_journal import TransactionJournal
from node.qbft.certificate import certificate_summary
from node.qbft.messages import quorum
from node.records import JSON, block_json, hex_bytes, hex_int, transaction_json
from node.rpc import params as p
from node.rpc.filters import Filter, FilterRegistry, LogCriteria, parse_criteria
from node.service import NodeService

if TYPE_CHECKING:
    from node.qbft.engine import ConsensusEngine
from node.seal import decode_extra_data
from node.txpool import CheckedTransaction


class BatchChecks(dict[str, "CheckedTransaction | TransactionRejected"]):
    """Stateless admission results for a batch's transactions, and how many are still to be answered.

    The batch's answer leaves only after its last ``eth_sendRawTransaction`` is handled, so that
    one waits for the journal's fsync on behalf of all of them: one fsync per batch. (An item
    the server refuses before dispatch, e.g. one with an invalid id, is never handled; the
    count then stays above zero and the batch's records are fsync'd by the journal's timed
    flush (``UNWAITED_FLUSH_SECONDS``) shortly after the answer instead of before it.)
    """

    def __init__(self, remaining: int) -> None:
        super().__init__()
        self.remaining = remaining
        self.sequence = 0  # the last journal record this batch appended


# Stateless admission results for the transactions of the JSON-RPC batch being served.
PRECHECKED: ContextVar[dict[str, CheckedTransaction | TransactionRejected] | None] = ContextVar(
    "prechecked", default=None
)

MAX_LOG_BLOCK_RANGE = 10_000
MAX_LOG_RESULTS = 10_000
MAX_FEE_HISTORY_BLOCKS = 1_024
PENDING_BLOCK_CACHE_SECONDS = 1.0

Handler = Callable[[Any], Awaitable[Any]]


class EthAPI:
    def __init__(
        self,
        service: NodeService,
        rpc_gas_cap: int | None = None,
        admission: AdmissionWorkers | None = None,
        consensus: ConsensusEngine | None = None,
    ) -> None:
        self.service = service
        self.consensus = consensus
        self.admission = admission
        self.ledger = service.ledger
        # Acknowledged transactions survive a crash: replayed into the pool now, before any client is served.
        self.journal = TransactionJournal(self.ledger.pool, self.ledger.data_dir)
        self.filters = FilterRegistry()
        self._pending_cache: tuple[tuple[bytes, int, int], float, tuple[Any, list[Any]]] | None = None
        self.gas_cap = rpc_gas_cap or max(self.ledger.head.gas_limit, 50_000_000)
        self.methods: dict[str, Handler] = {
            name.replace("__", "_"): getattr(self, name)
            for name in dir(self)
            if name.split("_")[0] in ("eth", "net", "web3", "txpool", "takasago", "debug", "qbft")
            and callable(getattr(self, name))
        }
        if service.dev_clock is not None:
            self.methods.update(
                evm_increaseTime=self._evm_increase_time,
                evm_setNextBlockTimestamp=self._evm_set_next_block_timestamp,
                evm_mine=self._evm_mine,
            )
        service.add_listener(self._on_block)

    async def dispatch(self, method: Any, params: Any) -> Any:
        if not isinstance(method, str):
            raise RPCError(-32600, "method must be a string")
        handler = self.methods.get(method)
        if handler is None:
            raise RPCError(METHOD_NOT_FOUND, f"the method {method[:100]} does not exist/is not available")
        return await handler(params)

    # -- helpers ---------------------------------------------------------------
    def _header(self, ref: p.BlockRef) -> BlockHeaderAPI | None:
        ledger = self.ledger
        if ref.hash is not None:
            return ledger.header_by_hash(ref.hash)
        if ref.tag is not None:
            return ledger.header_by_number(0) if ref.tag == "earliest" else ledger.head
        assert ref.number is not None
        return ledger.header_by_number(ref.number)

    def _require_header(self, ref: p.BlockRef) -> BlockHeaderAPI:
        header = self._header(ref)
        if header is None:
            raise RPCError(RESOURCE_NOT_FOUND, "header not found")
        return header

    def _number_of(self, ref: p.BlockRef) -> int:
        if ref.tag is not None:
            return 0 if ref.tag == "earliest" else self.ledger.head.block_number
        if ref.number is not None:
            return ref.number
        return self._require_header(ref).block_number

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.service.readers, fn, *args)

    # -- identity --------------------------------------------------------------
    async def web3_clientVersion(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return CLIENT_VERSION

    async def web3_sha3(self, params: Any) -> str:
        (value,) = p.expect(params, 1, 1)
        return hex_bytes(keccak(p.data(value, "data")))

    async def eth_chainId(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return hex_int(self.ledger.genesis.chain_id)

    async def net_version(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return str(self.ledger.genesis.chain_id)

    async def net_listening(self, params: Any) -> bool:
        p.expect(params, 0, 0)
        return True

    async def net_peerCount(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return hex_int(len(self.consensus.network.peers())) if self.consensus is not None else "0x0"

    async def eth_syncing(self, params: Any) -> bool | JSON:
        """False when level with its peers; while catching up, how far (geth's shape)."""
        p.expect(params, 0, 0)
        progress = self.consensus.sync_progress() if self.consensus is not None else None
        if progress is None:
            return False
        starting, current, highest = progress
        return {"startingBlock": hex_int(starting), "currentBlock": hex_int(current), "highestBlock": hex_int(highest)}

    async def eth_accounts(self, params: Any) -> list[str]:
        p.expect(params, 0, 0)
        return []  # the node holds no user keys; clients sign

    async def eth_mining(self, params: Any) -> bool:
        p.expect(params, 0, 0)
        return self.service.can_seal

    async def eth_hashrate(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return "0x0"

    async def eth_coinbase(self, params: Any) -> str:
        p.expect(params, 0, 0)
        key = self.ledger.validator_key
        return key.public_key.to_checksum_address() if key else to_checksum_address(b"\0" * 20)

    # -- fees (gas is free: everything is zero) --------------------------------
    async def eth_gasPrice(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return "0x0"

    async def eth_maxPriorityFeePerGas(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return "0x0"

    async def eth_blobBaseFee(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return "0x1"

    async def eth_feeHistory(self, params: Any) -> JSON:
        count_raw, newest_raw, percentiles = p.expect(params, 2, 3)
        count = p.quantity(count_raw, "blockCount", 2**63 - 1)
        if count > MAX_FEE_HISTORY_BLOCKS:
            raise InvalidParams(f"blockCount: at most {MAX_FEE_HISTORY_BLOCKS}")
        newest = self._require_header(p.block_ref(newest_raw, "newestBlock"))
        if percentiles is not None:
            if not isinstance(percentiles, list) or len(percentiles) > 100:
                raise InvalidParams("rewardPercentiles: expected an array of at most 100 numbers")
            previous = -1.0
            for value in percentiles:
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
                    raise InvalidParams("rewardPercentiles: each must be a number between 0 and 100")
                if value < previous:
                    raise InvalidParams("rewardPercentiles: must be in ascending order")
                previous = value
        count = min(count, newest.block_number + 1)
        oldest = newest.block_number - count + 1
        headers = [self.ledger.header_by_number(n) for n in range(oldest, newest.block_number + 1)]
        result: JSON = {
            "oldestBlock": hex_int(oldest),
            "baseFeePerGas": ["0x0"] * (count + 1),
            "gasUsedRatio": [h.gas_used / h.gas_limit if h else 0.0 for h in headers],
            "baseFeePerBlobGas": ["0x1"] * (count + 1),
            "blobGasUsedRatio": [0.0] * count,
        }
        if percentiles is not None:
            result["reward"] = [["0x0"] * len(percentiles) for _ in range(count)]
        return result

    # -- state -----------------------------------------------------------------
    async def eth_blockNumber(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return hex_int(self.ledger.head.block_number)

    def _account_and_state(self, params: Any) -> tuple[Any, Any]:
        """The ``[address, block]`` parameters of the account-state methods."""
        address, block = p.expect(params, 1, 2)
        account = p.address(address, "address")
        return account, self.ledger.state_at(self._require_header(p.block_ref(block)))

    async def eth_getBalance(self, params: Any) -> str:
        account, state = self._account_and_state(params)
        return hex_int(state.get_balance(account))

    async def eth_getTransactionCount(self, params: Any) -> str:
        address, block = p.expect(params, 1, 2)
        account = p.address(address, "address")
        ref = p.block_ref(block)
        if ref.tag == "pending":
            return hex_int(self.ledger.pool.pending_nonce(account))
        header = self._require_header(ref)
        return hex_int(self.ledger.state_at(header).get_nonce(account))

    async def eth_getCode(self, params: Any) -> str:
        account, state = self._account_and_state(params)
        return hex_bytes(state.get_code(account))

    async def eth_getStorageAt(self, params: Any) -> str:
        address, slot, block = p.expect(params, 2, 3)
        account = p.address(address, "address")
        if isinstance(slot, str) and len(slot) == 66:
            position = int.from_bytes(p.data(slot, "position", 32), "big")
        else:
            position = p.quantity(slot, "position")
        header = self._require_header(p.block_ref(block))
        value = self.ledger.state_at(header).get_storage(account, position)
        return hex_bytes(value.to_bytes(32, "big"))

    def _call_request(self, value: Any) -> CallRequest:
        if not isinstance(value, dict):
            raise InvalidParams("transaction: expected an object")
        allowed = {
            "from", "to", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "data", "input",
            "nonce", "accessList", "type", "chainId",
        }  # fmt: skip
        unknown = set(value) - allowed
        if unknown:
            raise InvalidParams(f"transaction: unknown field(s) {', '.join(sorted(unknown))}")
        data_field = value.get("input", value.get("data"))
        if value.get("input") is not None and value.get("data") is not None and value["input"] != value["data"]:
            raise InvalidParams("transaction: both data and input given and they differ")
        price = value.get("gasPrice", value.get("maxFeePerGas"))
        return CallRequest(
            sender=p.address(value["from"], "transaction.from")
            if value.get("from")
            else p.address("0x" + "00" * 20, "from"),
            to=p.address(value["to"], "transaction.to") if value.get("to") else None,
            gas=p.quantity(value["gas"], "transaction.gas", 2**63 - 1) if value.get("gas") is not None else None,
            gas_price=p.quantity(price, "transaction.gasPrice") if price is not None else 0,
            value=p.quantity(value["value"], "transaction.value") if value.get("value") is not None else 0,
            data=p.data(data_field, "transaction.data") if data_field is not None else b"",
            access_list=_access_list(value.get("accessList")),
        )

    def _call_params(self, params: Any) -> tuple[CallRequest, BlockHeaderAPI, StateOverrides | None]:
        """``[transaction, block, stateOverrides]`` of eth_call, eth_estimateGas and eth_createAccessList."""
        tx, block, overrides = p.expect(params, 1, 3)
        return self._call_request(tx), self._require_header(p.block_ref(block)), p.state_overrides(overrides)

    async def eth_call(self, params: Any) -> str:
        request, header, overrides = self._call_params(params)
        output = await self._read(call, self.ledger.chain, header, request, self.gas_cap, overrides)
        return hex_bytes(output)

    async def eth_estimateGas(self, params: Any) -> str:
        request, header, overrides = self._call_params(params)
        cap = min(self.gas_cap, header.gas_limit)
        return hex_int(await self._read(estimate_gas, self.ledger.chain, header, request, cap, overrides))

    async def eth_createAccessList(self, params: Any) -> JSON:
        """geth's: the EIP-2930 access list the call would use, and its gas with that list."""
        request, header, overrides = self._call_params(params)
        cap = min(self.gas_cap, header.gas_limit)
        entries, gas_used, error = await self._read(
            create_access_list, self.ledger.chain, header, request, cap, overrides
        )
        result: JSON = {
            "accessList": [
                {"address": hex_bytes(address), "storageKeys": [hex_bytes(k.to_bytes(32, "big")) for k in slots]}
                for address, slots in entries
            ],
            "gasUsed": hex_int(gas_used),
        }
        if error is not None:
            result["error"] = error
        return result

    async def eth_simulateV1(self, params: Any) -> list[JSON]:
        """geth's ``eth_simulateV1``, the subset without validation (docs/rpc.md lists what is refused).

        Blocks are simulated on the given block in order, each on the state the previous one
        left; calls in a block see the calls before them. Nothing is written.
        """
        options, block = p.expect(params, 1, 2)
        blocks = _simulation(options, self._call_request)
        header = self._require_header(p.block_ref(block))
        results = await self._read(simulate, self.ledger.chain, header, blocks, self.gas_cap)
        return [_simulated_block_json(result) for result in results]

    # -- transactions ----------------------------------------------------------
    async def eth_sendRawTransaction(self, params: Any) -> str:
        """Admit a signed transaction; answer only once it is in the pool *and* fsync'd in its journal."""
        prechecked = PRECHECKED.get()
        batch = prechecked if isinstance(prechecked, BatchChecks) else None
        sequence = 0
        try:
            (raw,) = p.expect(params, 1, 1)
            data = p.data(raw, "transaction")
            checked: CheckedTransaction | TransactionRejected | None = None
            if prechecked is not None and raw in prechecked:
                checked = prechecked[raw]
            elif self.admission is not None:
                checked = (await self.admission.check([data]))[0]
            if isinstance(checked, TransactionRejected):
                raise checked
            tx_hash = self.ledger.pool.add(data, checked)
            sequence = self.journal.admitted(tx_hash, data)
            return hex_bytes(tx_hash)
        finally:
            if batch is None:
                if sequence:
                    await self.journal.durable(sequence)
            else:
                batch.sequence = max(batch.sequence, sequence)
                batch.remaining -= 1
                if batch.remaining <= 0 and batch.sequence:
                    await self.journal.durable(batch.sequence)

    async def precheck_batch(self, raws: list[str]) -> dict[str, CheckedTransaction | TransactionRejected]:
        """Run the stateless checks of a batch's transactions in one worker call."""
        checks = BatchChecks(len(raws))
        if self.admission is None:
            return checks
        keys, datas = [], []
        for raw in raws:
            try:
                datas.append(p.data(raw, "transaction"))
            except InvalidParams:
                continue  # reported precisely when the request itself is handled
            keys.append(raw)
        checks.update(zip(keys, await self.admission.check(datas), strict=True))
        return checks

    async def eth_sendTransaction(self, params: Any) -> str:
        raise RPCError(
            -32000, "unknown account: this node holds no keys; sign the transaction and use eth_sendRawTransaction"
        )

    async def eth_sign(self, params: Any) -> str:
        raise RPCError(-32000, "unknown account: this node holds no keys")

    async def eth_getTransactionByHash(self, params: Any) -> JSON | orjson.Fragment | None:
        (value,) = p.expect(params, 1, 1)
        tx_hash = p.data(value, "transaction hash", 32)
        record = self.ledger.raw_transaction_record(tx_hash)
        if record is not None:  # written in the same durable commit as its block
            return orjson.Fragment(record)
        pending = self.ledger.pool.get(tx_hash)
        if pending is not None:
            return _pending_transaction_json(pending.tx, pending.sender, None, None)
        return None

    async def eth_getTransactionReceipt(self, params: Any) -> orjson.Fragment | None:
        (value,) = p.expect(params, 1, 1)
        tx_hash = p.data(value, "transaction hash", 32)
        # Only durably committed blocks have receipts (see Ledger.commit).
        record = self.ledger.raw_receipt_record(tx_hash)
        return None if record is None else orjson.Fragment(record)

    async def eth_getBlockReceipts(self, params: Any) -> list[JSON | None] | None:
        (block,) = p.expect(params, 1, 1)
        header = self._header(p.block_ref(block))
        if header is None:
            return None
        return [self.ledger.receipt_record(h) for h in self.ledger.block_tx_hashes(header.block_number)]

    def _tx_by_index(self, header: BlockHeaderAPI | None, index_raw: Any) -> JSON | None:
        index = p.quantity(index_raw, "index", 2**32)
        if header is None:
            return None
        hashes = self.ledger.block_tx_hashes(header.block_number)
        return self.ledger.transaction_record(hashes[index]) if index < len(hashes) else None

    async def eth_getTransactionByBlockNumberAndIndex(self, params: Any) -> JSON | None:
        block, index = p.expect(params, 2, 2)
        ref = p.block_ref(block)
        if ref.tag == "pending":
            position = p.quantity(index, "index", 2**32)
            pending, senders = await self._pending()
            if position >= len(pending.transactions):
                return None
            return _pending_transaction_json(
                pending.transactions[position], senders[position], pending.header, position
            )
        return self._tx_by_index(self._header(ref), index)

    async def eth_getTransactionByBlockHashAndIndex(self, params: Any) -> JSON | None:
        block_hash, index = p.expect(params, 2, 2)
        return self._tx_by_index(self.ledger.header_by_hash(p.data(block_hash, "block hash", 32)), index)

    # -- blocks ----------------------------------------------------------------
    def _block(self, header: BlockHeaderAPI | None, full: bool) -> JSON | None:
        if header is None:
            return None
        hashes = self.ledger.block_tx_hashes(header.block_number)
        if full:
            transactions: list[Any] = [self.ledger.transaction_record(h) for h in hashes]
        else:
            transactions = [hex_bytes(h) for h in hashes]
        return block_json(header, self.ledger.block_size(header), transactions)

    async def eth_getBlockByNumber(self, params: Any) -> JSON | None:
        block, full = p.expect(params, 1, 2)
        ref = p.block_ref(block)
        full_transactions = p.boolean(full, "full") if full is not None else False
        if ref.tag == "pending":
            return await self._pending_block(full_transactions)
        return self._block(self._header(ref), full_transactions)

    async def _pending(self) -> tuple[Any, list[Any]]:
        """The pending block and its senders, built at most once a second per head and pool size.

        Executing the pool is real work: many clients polling ``pending`` share one build.
        """
        ledger = self.ledger
        key = (ledger.head.hash, len(ledger.pool), ledger.pool.ready_count)
        cached = self._pending_cache
        if cached is not None and cached[0] == key and time.monotonic() - cached[1] < PENDING_BLOCK_CACHE_SECONDS:
            return cached[2]
        built: tuple[Any, list[Any]] = await self._read(ledger.pending_block)
        self._pending_cache = (key, time.monotonic(), built)
        return built

    async def _pending_block(self, full: bool) -> JSON:
        """geth's pending block: the pool's ready transactions executed on the head, never sealed.

        As in geth, ``hash``, ``nonce`` and ``miner`` are null: the block does not exist yet.
        """
        block, senders = await self._pending()
        header = block.header
        if full:
            transactions: list[Any] = [
                _pending_transaction_json(tx, sender, header, i)
                for i, (tx, sender) in enumerate(zip(block.transactions, senders, strict=True))
            ]
        else:
            transactions = [hex_bytes(tx.hash) for tx in block.transactions]
        result = block_json(header, len(rlp.encode(block)), transactions)
        result.update(hash=None, nonce=None, miner=None)
        return result

    async def eth_getBlockByHash(self, params: Any) -> JSON | None:
        block_hash, full = p.expect(params, 1, 2)
        header = self.ledger.header_by_hash(p.data(block_hash, "block hash", 32))
        return self._block(header, p.boolean(full, "full") if full is not None else False)

    # -- raw encodings (geth's debug_getRaw*): an auditor hashes and decodes the bytes itself ----
    async def debug_getRawHeader(self, params: Any) -> str | None:
        (block,) = p.expect(params, 1, 1)
        header = self._header(p.block_ref(block))
        return None if header is None else hex_bytes(rlp.encode(header))

    async def debug_getRawBlock(self, params: Any) -> str | None:
        (block,) = p.expect(params, 1, 1)
        header = self._header(p.block_ref(block))
        return None if header is None else hex_bytes(rlp.encode(self.ledger.chain.get_block_by_header(header)))

    async def debug_getRawTransaction(self, params: Any) -> str | None:
        (value,) = p.expect(params, 1, 1)
        tx_hash = p.data(value, "transaction hash", 32)
        record = self.ledger.transaction_record(tx_hash)
        if record is None or record.get("blockNumber") is None:
            return None
        header = self.ledger.header_by_number(int(record["blockNumber"], 16))
        if header is None:
            return None
        block = self.ledger.chain.get_block_by_header(header)
        tx = block.transactions[int(record["transactionIndex"], 16)]
        return hex_bytes(tx.encode())

    async def eth_getRawTransactionByHash(self, params: Any) -> str | None:
        return await self.debug_getRawTransaction(params)

    def _raw_tx_by_index(self, header: BlockHeaderAPI | None, index: Any) -> str | None:
        position = p.quantity(index, "index", 2**63 - 1)
        if header is None or position >= len(self.ledger.block_tx_hashes(header.block_number)):
            return None
        return hex_bytes(self.ledger.chain.get_block_by_header(header).transactions[position].encode())

    async def eth_getRawTransactionByBlockNumberAndIndex(self, params: Any) -> str | None:
        block, index = p.expect(params, 2, 2)
        ref = p.block_ref(block)
        if ref.tag == "pending":
            position = p.quantity(index, "index", 2**63 - 1)
            transactions = (await self._pending())[0].transactions
            return hex_bytes(transactions[position].encode()) if position < len(transactions) else None
        return self._raw_tx_by_index(self._header(ref), index)

    async def eth_getRawTransactionByBlockHashAndIndex(self, params: Any) -> str | None:
        block_hash, index = p.expect(params, 2, 2)
        return self._raw_tx_by_index(self.ledger.header_by_hash(p.data(block_hash, "block hash", 32)), index)

    async def eth_getBlockTransactionCountByNumber(self, params: Any) -> str | None:
        (block,) = p.expect(params, 1, 1)
        ref = p.block_ref(block)
        if ref.tag == "pending":
            return hex_int(len((await self._pending())[0].transactions))
        header = self._header(ref)
        return None if header is None else hex_int(len(self.ledger.block_tx_hashes(header.block_number)))

    async def eth_getBlockTransactionCountByHash(self, params: Any) -> str | None:
        (block_hash,) = p.expect(params, 1, 1)
        header = self.ledger.header_by_hash(p.data(block_hash, "block hash", 32))
        return None if header is None else hex_int(len(self.ledger.block_tx_hashes(header.block_number)))

    async def eth_getUncleCountByBlockNumber(self, params: Any) -> str | None:
        (block,) = p.expect(params, 1, 1)
        return None if self._header(p.block_ref(block)) is None else "0x0"

    async def eth_getUncleCountByBlockHash(self, params: Any) -> str | None:
        (block_hash,) = p.expect(params, 1, 1)
        return None if self.ledger.header_by_hash(p.data(block_hash, "block hash", 32)) is None else "0x0"

    # -- logs and filters ------------------------------------------------------
    def logs_for(
        self, criteria: LogCriteria, from_number: int | None = None, to_number: int | None = None
    ) -> list[JSON]:
        if criteria.block_hash is not None:
            header = self.ledger.header_by_hash(criteria.block_hash)
            if header is None:
                raise RPCError(RESOURCE_NOT_FOUND, "unknown block")
            start: int = header.block_number
            end: int = header.block_number
        else:
            start = from_number if from_number is not None else self._number_of(criteria.from_block)
            end = to_number if to_number is not None else self._number_of(criteria.to_block)
            if end - start + 1 > MAX_LOG_BLOCK_RANGE:  # judged on the request, before clamping to the head
                raise RPCError(
                    LIMIT_EXCEEDED, f"block range too large: {end - start + 1} blocks, at most {MAX_LOG_BLOCK_RANGE}"
                )
            end = min(end, self.ledger.head.block_number)
            if start > end:
                if from_number is None and start > self.ledger.head.block_number:
                    return []
                if start > end and to_number is None and criteria.to_block.number is not None:
                    raise InvalidParams("invalid block range: fromBlock is after toBlock")
                return []
            if end - start + 1 > MAX_LOG_BLOCK_RANGE:
                raise RPCError(
                    LIMIT_EXCEEDED, f"block range too large: {end - start + 1} blocks, at most {MAX_LOG_BLOCK_RANGE}"
                )
        results: list[JSON] = []
        for number in range(start, end + 1):
            for entry in self.ledger.block_logs(number):
                if criteria.matches(entry):
                    results.append(entry)
                    if len(results) > MAX_LOG_RESULTS:
                        raise RPCError(
                            LIMIT_EXCEEDED,
                            f"query returned more than {MAX_LOG_RESULTS} results; narrow the block range",
                        )
        return results

    async def eth_getLogs(self, params: Any) -> list[JSON]:
        (criteria,) = p.expect(params, 1, 1)
        return self.logs_for(parse_criteria(criteria))

    async def eth_newFilter(self, params: Any) -> str:
        (criteria,) = p.expect(params, 1, 1)
        parsed = parse_criteria(criteria)
        return self.filters.install(Filter("logs", parsed))

    async def eth_newBlockFilter(self, params: Any) -> str:
        p.expect(params, 0, 0)
        return self.filters.install(Filter("blocks"))

    async def eth_newPendingTransactionFilter(self, params: Any) -> str:
        p.expect(params, 0, 1)
        return self.filters.install(Filter("pending"))

    async def eth_getFilterChanges(self, params: Any) -> list[Any]:
        (filter_id,) = p.expect(params, 1, 1)
        flt = self.filters.get(filter_id)
        changes = list(flt.buffer)
        flt.buffer.clear()
        return changes

    async def eth_getFilterLogs(self, params: Any) -> list[JSON]:
        (filter_id,) = p.expect(params, 1, 1)
        flt = self.filters.get(filter_id)
        if flt.kind != "logs" or flt.criteria is None:
            raise InvalidParams("filter is not a log filter")
        return self.logs_for(flt.criteria)

    async def eth_uninstallFilter(self, params: Any) -> bool:
        (filter_id,) = p.expect(params, 1, 1)
        return self.filters.uninstall(filter_id)

    async def _on_block(self, committed: Any) -> None:
        self.journal.on_block(committed)
        header = committed.header
        for flt in self.filters.all():
            if flt.kind == "blocks":
                flt.buffer.append(hex_bytes(header.hash))
            elif flt.kind == "pending":
                flt.buffer.extend(r["transactionHash"] for r in committed.receipts)
            elif flt.kind == "logs" and flt.criteria is not None:
                criteria = flt.criteria
                if criteria.block_hash is not None:
                    continue
                if criteria.to_block.number is not None and header.block_number > criteria.to_block.number:
                    continue
                if criteria.from_block.number is not None and header.block_number < criteria.from_block.number:
                    continue
                flt.buffer.extend(entry for entry in committed.logs if criteria.matches(entry))

    # -- pool and node ---------------------------------------------------------
    async def txpool_status(self, params: Any) -> JSON:
        p.expect(params, 0, 0)
        pool = self.ledger.pool
        return {"pending": hex_int(pool.ready_count), "queued": hex_int(len(pool) - pool.ready_count)}

    async def takasago_nodeInfo(self, params: Any) -> JSON:
        """Validators, production mode and head: what an operator checks first."""
        p.expect(params, 0, 0)
        ledger = self.ledger
        return {
            "clientVersion": CLIENT_VERSION,
            "chainId": ledger.genesis.chain_id,
            "mode": self.service.mode,
            "blockPeriodSeconds": self.service.block_period,
            "validator": ledger.validator_key.public_key.to_checksum_address() if ledger.validator_key else None,
            "validators": [to_checksum_address(v) for v in ledger.registry.validators(ledger.head)],
            "registryAddress": to_checksum_address(ledger.genesis.registry_address),
            "head": {"number": ledger.head.block_number, "hash": hex_bytes(ledger.head.hash)},
            "pool": {"ready": ledger.pool.ready_count, "total": len(ledger.pool)},
            "stats": dataclasses.asdict(self.service.stats),
            "consensus": self.consensus.status() if self.consensus is not None else None,
        }

    async def qbft_getValidatorsByBlockNumber(self, params: Any) -> list[str]:
        """Besu's method: the validators that were authorised to agree on this block (its header's list)."""
        (block,) = p.expect(params, 1, 1)
        header = self._require_header(p.block_ref(block))
        if header.block_number == 0:
            return [to_checksum_address(v) for v in self.ledger.genesis.validators]
        return [to_checksum_address(v) for v in decode_extra_data(header.extra_data).validators]

    async def takasago_getCommitCertificate(self, params: Any) -> JSON | None:
        """The commit seals that made a block final, who signed them, and in which round."""
        (block,) = p.expect(params, 1, 1)
        header = self._header(p.block_ref(block))
        if header is None or header.block_number == 0:
            return None
        raw = self.ledger.certificate(header.block_number)
        if raw is None:
            return None
        parent = self.ledger.header_by_number(header.block_number - 1)
        assert parent is not None
        validators = list(self.ledger.registry.validators(parent))
        summary = certificate_summary(raw, header.hash, validators)
        return {
            "blockNumber": hex_int(header.block_number),
            "blockHash": hex_bytes(header.hash),
            "round": hex_int(summary["round"]),
            "signers": [to_checksum_address(s) for s in summary["signers"]],
            "seals": [hex_bytes(s) for s in summary["seals"]],
            "quorum": hex_int(quorum(len(validators))),
        }

    async def takasago_importBlock(self, params: Any) -> JSON:
        """Validate and import an RLP-encoded block sealed elsewhere (development chains only).

        A block's header seal proves only that one validator sealed it. On a QBFT network
        finality needs a quorum's commit certificate, which only consensus and sync carry, so
        the method is refused there (and the ledger would refuse the block anyway). On a
        single-validator chain it is a development tool, gated like the ``evm_*`` methods.
        """
        if self.consensus is not None or self.service.mode == "qbft":
            raise RPCError(
                METHOD_NOT_FOUND,
                "takasago_importBlock is refused on a QBFT node: blocks are committed only by consensus or sync, "
                "with a quorum's commit certificate / QBFT ノードではブロックを直接取り込めません",
            )
        if self.service.dev_clock is None:
            raise RPCError(
                METHOD_NOT_FOUND,
                "takasago_importBlock is available on development chains only (node init --dev) "
                "/ 開発用チェーンでのみ利用できます",
            )
        (raw,) = p.expect(params, 1, 1)
        from eth_utils import ValidationError

        data = p.data(raw, "block")
        try:
            block = decode_block(data)
            committed = await self.service.import_block(block)
        except ValidationError as exc:
            raise RPCError(-32000, f"invalid block: {exc}") from None
        return {"number": hex_int(committed.header.block_number), "hash": hex_bytes(committed.header.hash)}

    async def takasago_transactionStatus(self, params: Any) -> JSON:
        """Where a transaction is: pending, included, dropped (with why) or unknown."""
        (value,) = p.expect(params, 1, 1)
        tx_hash = p.data(value, "transaction hash", 32)
        if self.ledger.receipt_record(tx_hash) is not None:
            return {"status": "included"}
        if self.ledger.pool.get(tx_hash) is not None:
            return {"status": "pending"}
        reason = self.service.drop_reasons.get(tx_hash)
        if reason is not None:
            return {"status": "dropped", "reason": reason}
        return {"status": "unknown"}

    # -- development chains only (see node/dev_clock.py) ------------------------
    async def _evm_increase_time(self, params: Any) -> Any:
        """Moves the next blocks' clock forward by ``seconds``; returns the total offset."""
        (value,) = p.expect(params, 1, 1)
        seconds = p.quantity(value, "seconds")
        if seconds > 100 * 366 * 86400:
            raise InvalidParams("seconds: more than a century ahead")
        assert self.service.dev_clock is not None
        return self.service.dev_clock.increase(seconds)

    async def _evm_set_next_block_timestamp(self, params: Any) -> Any:
        """The next block gets exactly this timestamp (not before the head's)."""
        (value,) = p.expect(params, 1, 1)
        timestamp = p.quantity(value, "timestamp")
        head = self.ledger.head.timestamp
        if timestamp < head:
            raise InvalidParams(f"timestamp {timestamp} is before the head block's ({head}); time only moves forward")
        assert self.service.dev_clock is not None
        self.service.dev_clock.set_next(timestamp)
        return None

    async def _evm_mine(self, params: Any) -> Any:
        """Seals a block now, empty if no transaction is ready (optionally at ``timestamp``)."""
        (value,) = p.expect(params, 0, 1)
        if not self.service.can_seal:
            raise RPCError(-32000, "this node has no validator key and cannot seal blocks")
        if value is not None:
            await self._evm_set_next_block_timestamp([value])
        await self.service.produce_block(allow_empty=True)
        return "0x0"


def _simulation(options: Any, call_request: Callable[[Any], CallRequest]) -> list[SimulatedBlock]:
    """The ``eth_simulateV1`` options: ``blockStateCalls`` with the supported overrides."""
    if not isinstance(options, dict):
        raise InvalidParams("simulation options: expected an object with blockStateCalls")
    unknown = set(options) - {"blockStateCalls", "validation", "traceTransfers", "returnFullTransactions"}
    if unknown:
        raise InvalidParams(f"simulation options: unknown field(s) {', '.join(sorted(unknown))}")
    for flag in ("validation", "traceTransfers", "returnFullTransactions"):
        if options.get(flag) is not None and p.boolean(options[flag], flag):
            raise InvalidParams(f"{flag}: true is not supported by this node (docs/rpc.md)")
    entries = options.get("blockStateCalls")
    if not isinstance(entries, list) or not entries:
        raise InvalidParams("blockStateCalls: expected a non-empty array")
    if len(entries) > MAX_SIMULATED_BLOCKS:
        raise RPCError(-38026, f"too many blocks: at most {MAX_SIMULATED_BLOCKS}")
    blocks: list[SimulatedBlock] = []
    total = 0
    for i, entry in enumerate(entries):
        where = f"blockStateCalls[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"blockOverrides", "stateOverrides", "calls"}:
            raise InvalidParams(f"{where}: expected {{blockOverrides, stateOverrides, calls}}")
        calls = entry.get("calls") or []
        if not isinstance(calls, list):
            raise InvalidParams(f"{where}.calls: expected an array")
        total += len(calls)
        if total > MAX_SIMULATED_CALLS:
            raise RPCError(LIMIT_EXCEEDED, f"too many calls: at most {MAX_SIMULATED_CALLS} in one simulation")
        overrides = entry.get("blockOverrides") or {}
        if not isinstance(overrides, dict):
            raise InvalidParams(f"{where}.blockOverrides: expected an object")
        unsupported = set(overrides) - {"number", "time", "gasLimit", "feeRecipient", "baseFeePerGas"}
        if unsupported:
            raise InvalidParams(f"{where}.blockOverrides: unsupported field(s) {', '.join(sorted(unsupported))}")
        if overrides.get("baseFeePerGas") is not None and p.quantity(overrides["baseFeePerGas"], "baseFeePerGas"):
            raise InvalidParams(f"{where}.blockOverrides.baseFeePerGas: the base fee is always 0 on this chain")

        def field(name: str, maximum: int = 2**63 - 1) -> int | None:
            value = overrides.get(name)  # noqa: B023 - used at once, inside this iteration
            return None if value is None else p.quantity(value, f"{where}.blockOverrides.{name}", maximum)  # noqa: B023

        blocks.append(
            SimulatedBlock(
                calls=[call_request(c) for c in calls],
                overrides=p.state_overrides(entry.get("stateOverrides"), f"{where}.stateOverrides"),
                number=field("number"),
                timestamp=field("time"),
                gas_limit=field("gasLimit"),
                coinbase=p.address(overrides["feeRecipient"], f"{where}.blockOverrides.feeRecipient")
                if overrides.get("feeRecipient") is not None
                else None,
            )
        )
    return blocks


def _simulated_block_json(result: SimulatedResult) -> JSON:
    header = result.header
    encoded = result.block["encoded_transactions"]
    hashes = [keccak(e) for e in encoded]
    rendered = block_json(header, result.block["size"], [hex_bytes(h) for h in hashes])
    calls: list[JSON] = []
    log_index = 0
    for index, outcome in enumerate(result.calls):
        logs = []
        for address, topics, data in outcome["logs"]:
            logs.append(
                {
                    "address": to_checksum_address(address),
                    "topics": [hex_bytes(t.to_bytes(32, "big")) for t in topics],
                    "data": hex_bytes(data),
                    "blockNumber": hex_int(header.block_number),
                    "blockHash": hex_bytes(header.hash),
                    "transactionHash": hex_bytes(hashes[index]),
                    "transactionIndex": hex_int(index),
                    "logIndex": hex_int(log_index),
                    "removed": False,
                }
            )
            log_index += 1
        call_json: JSON = {
            "status": hex_int(outcome["status"]),
            "returnData": hex_bytes(outcome["returnData"]),
            "gasUsed": hex_int(outcome["gasUsed"]),
            "logs": logs,
        }
        if "error" in outcome:
            error = outcome["error"]
            call_json["error"] = {k: v for k, v in error.items() if v is not None}
        calls.append(call_json)
    rendered["calls"] = calls
    return rendered


def _pending_transaction_json(tx: Any, sender: Any, header: BlockHeaderAPI | None, index: int | None) -> JSON:
    """A transaction not yet in a block: ``gasPrice`` is its fee cap, as geth reports it.

    Once mined, the effective price is ``min(tip + base fee, cap)``; until then geth shows the
    most the transaction may pay (``maxFeePerGas``), not the tip.
    """
    record = transaction_json(tx, sender, header, index)
    fee_cap = getattr(tx, "max_fee_per_gas", None)
    if fee_cap is not None:
        record["gasPrice"] = hex_int(fee_cap)
    return record


def _access_list(value: Any) -> tuple[tuple[Any, tuple[int, ...]], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 10_000:
        raise InvalidParams("transaction.accessList: expected an array of {address, storageKeys}")
    entries = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("storageKeys", []), list):
            raise InvalidParams(f"transaction.accessList[{i}]: expected {{address, storageKeys}}")
        address = p.address(item.get("address"), f"transaction.accessList[{i}].address")
        slots = tuple(
            int.from_bytes(p.data(k, f"transaction.accessList[{i}].storageKeys", 32), "big")
            for k in item.get("storageKeys", [])
        )
        entries.append((address, slots))
    return tuple(entries)
