"""Applying a block body: its transactions executed in order on a VM (execution-specs' ``apply_body``).

Building a block (the proposer's, or the ``pending`` block RPC shows) and importing one made
elsewhere run the same loop; they differ only in what a transaction that cannot be applied
means. A builder fills a block from pool candidates: it leaves such a transaction out and
says why (its sender lost permission, a nonce or balance changed), and stops at the first
candidate that would not fit the block's gas. An imported block containing one is invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

if TYPE_CHECKING:  # the execution worker imports this module where the pool (and coincurve) cannot be
    from eth.chains.base import Chain

T = TypeVar("T")


@dataclass
class AppliedBody(Generic[T]):
    header: BlockHeaderAPI  # the block's header after the last applied transaction (gas used, bloom)
    receipts: list[ReceiptAPI]
    applied: list[T]  # the candidates executed, in order
    dropped: list[tuple[T, str]]  # building only: candidates left out, with the reason


def apply_body(
    vm: Any,
    header: BlockHeaderAPI,
    candidates: Sequence[T],
    executable: Callable[[T], Any],
    *,
    building: bool,
    refuse: Callable[[T], str | None] = lambda _candidate: None,
) -> AppliedBody[T]:
    """Execute ``candidates`` in order on ``vm``, starting from ``header``.

    ``executable`` turns a candidate into the transaction py-evm applies. When ``building``,
    a candidate ``refuse`` names a reason for, or that py-evm refuses, is dropped, and
    filling stops before the first one whose gas limit would overflow the block; otherwise
    (importing) any transaction py-evm refuses makes the whole block invalid.
    """
    applied: list[T] = []
    dropped: list[tuple[T, str]] = []
    receipts: list[ReceiptAPI] = []
    result_header = header
    for index, candidate in enumerate(candidates):
        if building:
            reason = refuse(candidate)
            if reason is not None:
                dropped.append((candidate, reason))
                continue
        transaction = executable(candidate)
        if building and result_header.gas_used + transaction.gas > result_header.gas_limit:
            break
        try:
            # py-evm validates (nonce, balance, gas) before touching state, so a
            # ValidationError here leaves the block's state as it was.
            receipt, _computation = vm.apply_transaction(result_header, transaction)
        except ValidationError as exc:
            if not building:
                raise ValidationError(f"transaction {index} cannot be applied: {exc}") from None
            dropped.append((candidate, str(exc)))
            continue
        result_header = vm.add_receipt_to_header(result_header, receipt)
        receipts.append(receipt)
        applied.append(candidate)
    return AppliedBody(result_header, receipts, applied, dropped)


def open_block(chain: Chain, parent: BlockHeaderAPI, **fields: Any) -> tuple[Any, BlockHeaderAPI]:
    """A VM positioned at a new block on ``parent`` with the given header fields, before any transaction."""
    header = chain.create_header_from_parent(parent, **fields)
    vm: Any = chain.get_vm(header)
    vm.block_preprocessing(vm.get_block())
    return vm, header


def finish_block(vm: Any, body: AppliedBody[Any], transactions: Sequence[SignedTransactionAPI]) -> BlockAPI:
    """The block of ``body``: transaction and receipt roots, post-processing, state root (not sealed).

    ``finalize_block`` without ``mine_block``'s ``validate_block``: that would only recompute
    the transaction root of the block just assembled here.
    """
    filled = vm.set_block_transactions_and_withdrawals(vm.get_block(), body.header, transactions, body.receipts)
    return vm.finalize_block(vm.pack_block(vm.block_postprocessing(filled))).block  # type: ignore[no-any-return]


def _noop() -> None:
    return None


class Admitted(Protocol):
    """A transaction whose stateless checks were made and whose sender is known (``txpool.PendingTransaction``)."""

    @property
    def tx(self) -> SignedTransactionAPI: ...

    @property
    def sender(self) -> Any: ...


def prevalidated(pending: Admitted) -> SpoofTransaction:
    """The pooled transaction, with the checks admission already made skipped.

    Admission (``txpool.stateless_checks``) ran py-evm's ``validate()``, the EIP-2
    signature bounds, and recovered the sender; re-running them for every transaction
    of every block would cost more elliptic-curve operations each. Everything else delegates to the real
    transaction, and the block body is built from the real transactions.
    """
    sender = pending.sender
    return SpoofTransaction(
        pending.tx, sender=sender, get_sender=lambda: sender, validate=_noop, check_signature_validity=_noop
    )
