"""The transaction pool: admission checks, then FIFO order with per-sender nonces.

Admission (``add``) runs every check a block would run that does not need
execution: encoding, chain id (EIP-155 replay protection required), signature,
the on-chain allowlist, nonce, gas limit against the block gas limit and intrinsic
gas, and funds for ``gas * price + value``. A transaction whose nonce is the
sender's next becomes *ready*; one with a gap waits (*queued*, at most
``MAX_NONCE_GAP`` ahead) until the gap fills. Block building takes ready
transactions in arrival order, which keeps each sender's nonces in order.

The pool follows the chain rather than the chain managing the pool: subscribed to the
ledger's new heads (``on_new_head``), it forgets what each committed block included or
refused, as geth's pool resets on chain-head events.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import rlp
from coincurve import PublicKey
from eth.abc import SignedTransactionAPI
from eth.exceptions import UnrecognizedTransactionType
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from node.errors import TRANSACTION_REJECTED, TransactionRejected
from node.execution import TakasagoVM, data_floor_gas, signature_values_error

if TYPE_CHECKING:
    from node.ledger import NewHead

MAX_NONCE_GAP = 64
MAX_POOL_SIZE = 200_000
MAX_PER_SENDER = 4_096
MAX_TX_BYTES = 128 * 1024
BLOB_TX_TYPE = 3
SET_CODE_TX_TYPE = 4
REPLACEMENT_UNDERPRICED = "replacement transaction underpriced"


@dataclass
class PendingTransaction:
    tx: SignedTransactionAPI
    sender: Address
    raw: bytes
    hash: Hash32


@dataclass
class _SenderQueue:
    next_nonce: int  # the nonce the next ready transaction must have
    ready: dict[int, PendingTransaction] = field(default_factory=dict)
    queued: dict[int, PendingTransaction] = field(default_factory=dict)


def decode_raw_transaction(raw: bytes) -> SignedTransactionAPI:
    if not raw:
        raise TransactionRejected("empty transaction")
    if len(raw) > MAX_TX_BYTES:
        raise TransactionRejected(f"oversized data: transaction is {len(raw)} bytes, limit {MAX_TX_BYTES}")
    if raw[0] == BLOB_TX_TYPE:
        raise TransactionRejected("blob transactions (EIP-4844) are not accepted on this chain")
    if raw[0] == SET_CODE_TX_TYPE:
        raise TransactionRejected("set-code transactions (EIP-7702) are not accepted on this chain")
    try:
        return TakasagoVM.get_transaction_builder().decode(raw)
    except UnrecognizedTransactionType:
        raise TransactionRejected(f"unknown transaction type 0x{raw[0]:02x}") from None
    except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError, TypeError, IndexError) as exc:
        raise TransactionRejected(f"invalid transaction encoding: {exc}") from None


@dataclass(frozen=True)
class CheckedTransaction:
    """What the stateless checks learned: who signed it and its hash."""

    sender: Address
    hash: Hash32
    tx: SignedTransactionAPI | None = None  # absent when checked in another process


def stateless_checks(raw: bytes, chain_id: int, block_gas_limit: int) -> CheckedTransaction:
    """Every admission check that needs no chain state.

    Decoding, EIP-155 chain id, gas limit against the block gas limit, intrinsic
    gas, the EIP-7623 calldata floor, EIP-2 signature bounds, py-evm's field checks
    and sender recovery (which is the signature check). Pure: safe to run in a
    worker process.
    """
    tx = decode_raw_transaction(raw)
    tx_chain_id = tx.chain_id
    if tx_chain_id is None:
        raise TransactionRejected("only replay-protected (EIP-155) transactions are allowed")
    if tx_chain_id != chain_id:
        raise TransactionRejected(f"invalid chain id: transaction is for chain {tx_chain_id}, this is {chain_id}")
    if tx.gas > block_gas_limit:
        raise TransactionRejected(
            f"exceeds block gas limit: transaction gas {tx.gas}, block gas limit {block_gas_limit}"
        )
    intrinsic = tx.intrinsic_gas
    if tx.gas < intrinsic:
        raise TransactionRejected(f"intrinsic gas too low: have {tx.gas}, want {intrinsic}")
    floor = data_floor_gas(bytes(tx.data))
    if tx.gas < floor:
        raise TransactionRejected(f"insufficient gas for floor data gas cost: have {tx.gas}, want {floor} (EIP-7623)")
    problem = signature_values_error(tx)
    if problem is not None:
        raise TransactionRejected(problem)
    try:
        tx.validate()  # py-evm's field checks (legacy transactions also verify the signature)
        sender = _typed_sender(tx) if tx.type_id is not None else None
        if sender is None:  # legacy, or a signature coincurve refused: py-evm's path and its message
            sender = Address(tx.sender)
    except Exception as exc:  # eth_keys/py-evm raise several types for bad signatures
        raise TransactionRejected(f"invalid transaction: {exc}") from None
    return CheckedTransaction(sender, Hash32(tx.hash), tx)


def _typed_sender(tx: SignedTransactionAPI) -> Address | None:
    """The sender of an EIP-2718 typed transaction recovered with one coincurve call, or None.

    The same recovery as ``tx.sender`` (keccak of the signing message, secp256k1 public key
    recovery, the last 20 bytes of the key's keccak) without eth-keys' per-call objects and
    checks, which cost more than the recovery itself; ``tx.validate()`` has checked the fields
    and ``signature_values_error`` the EIP-2 bounds. None when coincurve refuses the
    signature, so that the caller reports py-evm's own message.
    """
    y_parity = tx.y_parity
    if y_parity not in (0, 1):
        return None
    signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes((y_parity,))
    try:
        key = PublicKey.from_signature_and_message(signature, keccak(tx.get_message_for_signing()), hasher=None)
    except Exception:  # noqa: BLE001 - any refusal: py-evm's path reports it
        return None
    return Address(keccak(key.format(compressed=False)[1:])[12:])


class TransactionPool:
    """Pending transactions, safe to use from the RPC loop and the block builder."""

    def __init__(
        self,
        chain_id: int,
        block_gas_limit: Callable[[], int],
        state_nonce: Callable[[Address], int],
        state_balance: Callable[[Address], int],
        is_allowed: Callable[[Address], bool],
    ) -> None:
        self.chain_id = chain_id
        self._block_gas_limit = block_gas_limit
        self._state_nonce = state_nonce
        self._state_balance = state_balance
        self._is_allowed = is_allowed
        self._lock = threading.RLock()
        self._by_hash: dict[Hash32, PendingTransaction] = {}
        self._senders: dict[Address, _SenderQueue] = {}
        # ready transactions in arrival order (the order blocks take them)
        self._ready: OrderedDict[Hash32, PendingTransaction] = OrderedDict()
        # Next nonces at the head of the senders the head block included, known from the block
        # itself (one past each sender's highest nonce in it): a sender's queue empties when its
        # transactions are included, and its next transaction would otherwise read the state trie.
        self._head_nonces: dict[Address, int] = {}
        self.on_ready: Callable[[], None] = lambda: None
        # Told about every transaction admitted from a client (not from a peer), to gossip it.
        self.on_admitted: Callable[[bytes], None] = lambda raw: None

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    def get(self, tx_hash: bytes) -> PendingTransaction | None:
        return self._by_hash.get(Hash32(tx_hash))

    def pending_nonce(self, sender: Address) -> int:
        """The nonce a new transaction from ``sender`` should use (``pending`` tag)."""
        with self._lock:
            queue = self._senders.get(sender)
            return queue.next_nonce if queue else self._nonce_at_head(sender)

    def _nonce_at_head(self, sender: Address) -> int:
        known = self._head_nonces.get(sender)
        return self._state_nonce(sender) if known is None else known

    def validate(self, raw: bytes, checked: CheckedTransaction | None = None) -> PendingTransaction:
        """All admission checks except the nonce-ordering ones.

        ``checked`` is the result of :func:`stateless_checks` already run elsewhere
        (the admission worker process); only the cheap decode is repeated here.
        """
        if checked is None:
            checked = stateless_checks(raw, self.chain_id, self._block_gas_limit())
        tx = decode_raw_transaction(raw) if checked.tx is None else checked.tx
        sender = checked.sender
        if not self._is_allowed(sender):
            raise TransactionRejected(
                f"sender 0x{sender.hex()} is not permitted: not an active account in the registry",
                TRANSACTION_REJECTED,
            )
        fee_cap = getattr(tx, "max_fee_per_gas", None)
        price = tx.gas_price if fee_cap is None else fee_cap
        priority = getattr(tx, "max_priority_fee_per_gas", None)
        if priority is not None and priority > price:
            raise TransactionRejected("max priority fee per gas higher than max fee per gas")
        cost = tx.gas * price + tx.value
        if cost:
            balance = self._state_balance(sender)
            if balance < cost:
                raise TransactionRejected(
                    f"insufficient funds for gas * price + value: balance {balance}, tx cost {cost}, "
                    f"overshot {cost - balance} (gas is free on this chain: send with a gas price of 0)"
                )
        return PendingTransaction(tx, sender, raw, checked.hash)

    def add(self, raw: bytes, checked: CheckedTransaction | None = None, from_peer: bool = False) -> Hash32:
        pending = self.validate(raw, checked)
        with self._lock:
            if pending.hash in self._by_hash:
                raise TransactionRejected(f"already known: 0x{pending.hash.hex()}")
            if len(self._by_hash) >= MAX_POOL_SIZE:
                raise TransactionRejected("txpool is full")
            queue = self._senders.get(pending.sender)
            if queue is None:
                queue = _SenderQueue(next_nonce=self._nonce_at_head(pending.sender))
            nonce = pending.tx.nonce
            if nonce < queue.next_nonce and nonce not in queue.ready:
                raise TransactionRejected(f"nonce too low: next nonce {queue.next_nonce}, tx nonce {nonce}")
            if nonce in queue.ready or nonce in queue.queued:
                # geth's answer for a same-nonce transaction that does not outbid the pending one by
                # 10%; with free gas every replacement is one (docs/rpc.md): the first stays.
                raise TransactionRejected(
                    f"{REPLACEMENT_UNDERPRICED}: a transaction with nonce {nonce} from this sender is already pending"
                )
            if nonce > queue.next_nonce + MAX_NONCE_GAP:
                raise TransactionRejected(
                    f"nonce too high: next nonce {queue.next_nonce}, tx nonce {nonce} (at most {MAX_NONCE_GAP} ahead)"
                )
            if len(queue.ready) + len(queue.queued) >= MAX_PER_SENDER:
                raise TransactionRejected(f"too many pending transactions from this sender (limit {MAX_PER_SENDER})")
            self._senders[pending.sender] = queue
            self._by_hash[pending.hash] = pending
            if nonce == queue.next_nonce:
                self._make_ready(queue, pending)
                while queue.next_nonce in queue.queued:
                    self._make_ready(queue, queue.queued.pop(queue.next_nonce))
                self.on_ready()
            else:
                queue.queued[nonce] = pending
        if not from_peer:
            self.on_admitted(raw)
        return pending.hash

    def _make_ready(self, queue: _SenderQueue, pending: PendingTransaction) -> None:
        queue.ready[pending.tx.nonce] = pending
        queue.next_nonce = pending.tx.nonce + 1
        self._ready[pending.hash] = pending

    def take_ready(self, gas_limit: int, max_count: int = 20_000) -> list[PendingTransaction]:
        """Ready transactions in arrival order whose gas limits fit in one block."""
        chosen: list[PendingTransaction] = []
        gas = 0
        with self._lock:
            for pending in self._ready.values():
                if gas + pending.tx.gas > gas_limit or len(chosen) >= max_count:
                    break
                gas += pending.tx.gas
                chosen.append(pending)
        return chosen

    def on_new_head(self, head: NewHead) -> None:
        """A block was committed: forget what it included or its builder refused."""
        transactions = head.block.transactions
        nonces: dict[Address, int] = {}
        for sender, tx in zip(head.senders, transactions, strict=True):
            nonces[sender] = max(nonces.get(sender, 0), tx.nonce + 1)
        with self._lock:
            self._head_nonces = nonces
        self.remove_included(head.included, [p for p, _ in head.dropped])
        if not head.included and transactions:  # built elsewhere: the pool may hold the same ones
            self.remove_mined([(s, tx.nonce) for s, tx in zip(head.senders, transactions, strict=True)])

    def remove_included(self, included: list[PendingTransaction], dropped: list[PendingTransaction]) -> None:
        """Forget transactions a committed block included or refused.

        A refused transaction also drops the same sender's later ones (their
        nonces can no longer follow); the sender's next nonce is re-read from state.
        """
        with self._lock:
            for pending in included:
                self._forget(pending)
                queue = self._senders.get(pending.sender)
                if queue is not None:
                    queue.ready.pop(pending.tx.nonce, None)
            for pending in dropped:
                queue = self._senders.get(pending.sender)
                if queue is None:
                    continue
                for later in [*queue.ready.values(), *queue.queued.values()]:
                    if later.tx.nonce >= pending.tx.nonce:
                        self._forget(later)
                        queue.ready.pop(later.tx.nonce, None)
                        queue.queued.pop(later.tx.nonce, None)
                self._forget(pending)
                queue.ready.pop(pending.tx.nonce, None)
                queue.next_nonce = self._nonce_at_head(pending.sender) + len(queue.ready)
            for sender in {p.sender for p in included} | {p.sender for p in dropped}:
                queue = self._senders.get(sender)
                if queue is not None and not queue.ready and not queue.queued:
                    del self._senders[sender]

    def remove_mined(self, mined: list[tuple[Address, int]]) -> None:
        """Forget what a block built elsewhere consumed: per sender, every nonce up to the highest it used.

        A pending transaction with a nonce the block used is gone either way: included,
        or replaced by another transaction with the same nonce.
        """
        highest: dict[Address, int] = {}
        for sender, nonce in mined:
            highest[sender] = max(nonce, highest.get(sender, -1))
        with self._lock:
            for sender, nonce in highest.items():
                queue = self._senders.get(sender)
                if queue is None:
                    continue
                for stale in [p for n, p in [*queue.ready.items(), *queue.queued.items()] if n <= nonce]:
                    self._forget(stale)
                    queue.ready.pop(stale.tx.nonce, None)
                    queue.queued.pop(stale.tx.nonce, None)
                if queue.next_nonce <= nonce:
                    queue.next_nonce = nonce + 1
                    while queue.next_nonce in queue.queued:
                        self._make_ready(queue, queue.queued.pop(queue.next_nonce))
                if not queue.ready and not queue.queued:
                    del self._senders[sender]

    def _forget(self, pending: PendingTransaction) -> None:
        self._by_hash.pop(pending.hash, None)
        self._ready.pop(pending.hash, None)

    def pending_transactions(self) -> list[PendingTransaction]:
        with self._lock:
            return list(self._by_hash.values())
