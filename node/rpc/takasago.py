"""``takasago_*``: this ledger's own methods, for operators and for the CLI.

Node status, a block's commit certificate, where a transaction is, and (development chains
only) importing a block sealed elsewhere.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from eth_utils import ValidationError, to_checksum_address

from node import CLIENT_VERSION
from node.errors import METHOD_NOT_FOUND, RPCError
from node.ledger import decode_block
from node.qbft.certificate import certificate_summary
from node.qbft.messages import quorum
from node.records import JSON, hex_bytes, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def node_info(api: EthAPI, params: Any) -> JSON:
    """Validators, production mode and head: what an operator checks first."""
    p.expect(params, 0, 0)
    ledger = api.ledger
    return {
        "clientVersion": CLIENT_VERSION,
        "chainId": ledger.genesis.chain_id,
        "mode": api.service.mode,
        "blockPeriodSeconds": api.service.block_period,
        "validator": ledger.validator_key.public_key.to_checksum_address() if ledger.validator_key else None,
        "validators": [to_checksum_address(v) for v in ledger.registry.validators(ledger.head)],
        "registryAddress": to_checksum_address(ledger.genesis.registry_address),
        "head": {"number": ledger.head.block_number, "hash": hex_bytes(ledger.head.hash)},
        "pool": {"ready": api.pool.ready_count, "total": len(api.pool)},
        "stats": dataclasses.asdict(api.service.stats),
        "consensus": api.consensus.status() if api.consensus is not None else None,
    }


async def get_commit_certificate(api: EthAPI, params: Any) -> JSON | None:
    """The commit seals that made a block final, who signed them, and in which round."""
    (block,) = p.expect(params, 1, 1)
    header = api.header(p.block_ref(block))
    if header is None or header.block_number == 0:
        return None
    raw = api.ledger.certificate(header.block_number)
    if raw is None:
        return None
    parent = api.ledger.header_by_number(header.block_number - 1)
    assert parent is not None
    validators = list(api.ledger.registry.validators(parent))
    summary = certificate_summary(raw, header.hash, validators)
    return {
        "blockNumber": hex_int(header.block_number),
        "blockHash": hex_bytes(header.hash),
        "round": hex_int(summary["round"]),
        "signers": [to_checksum_address(s) for s in summary["signers"]],
        "seals": [hex_bytes(s) for s in summary["seals"]],
        "quorum": hex_int(quorum(len(validators))),
    }


async def import_block(api: EthAPI, params: Any) -> JSON:
    """Validate and import an RLP-encoded block sealed elsewhere (development chains only).

    A block's header seal proves only that one validator sealed it. On a QBFT network
    finality needs a quorum's commit certificate, which only consensus and sync carry, so
    the method is refused there (and the ledger would refuse the block anyway). On a
    single-validator chain it is a development tool, gated like the ``evm_*`` methods.
    """
    if api.consensus is not None or api.service.mode == "qbft":
        raise RPCError(
            METHOD_NOT_FOUND,
            "takasago_importBlock is refused on a QBFT node: blocks are committed only by consensus or sync, "
            "with a quorum's commit certificate / QBFT ノードではブロックを直接取り込めません",
        )
    if api.service.dev_clock is None:
        raise RPCError(
            METHOD_NOT_FOUND,
            "takasago_importBlock is available on development chains only (node init --dev) "
            "/ 開発用チェーンでのみ利用できます",
        )
    (raw,) = p.expect(params, 1, 1)
    data = p.data(raw, "block")
    try:
        block = decode_block(data)
        committed = await api.service.import_block(block)
    except ValidationError as exc:
        raise RPCError(-32000, f"invalid block: {exc}") from None
    return {"number": hex_int(committed.header.block_number), "hash": hex_bytes(committed.header.hash)}


async def transaction_status(api: EthAPI, params: Any) -> JSON:
    """Where a transaction is: pending, included, dropped (with why) or unknown."""
    (value,) = p.expect(params, 1, 1)
    tx_hash = p.data(value, "transaction hash", 32)
    if api.ledger.receipt_record(tx_hash) is not None:
        return {"status": "included"}
    if api.pool.get(tx_hash) is not None:
        return {"status": "pending"}
    reason = api.service.drop_reasons.get(tx_hash)
    if reason is not None:
        return {"status": "dropped", "reason": reason}
    return {"status": "unknown"}
