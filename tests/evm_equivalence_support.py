"""One side of the EVM equivalence test: runs block scenarios on stock py-evm or on the node's VM.

Run as ``python -m tests.evm_equivalence_support stock|node``: reads one JSON scenario per
line on stdin, writes one JSON result per line on stdout. Each side is its own process
because the node's changes to py-evm are process-wide once installed; the ``stock`` side
never imports ``node``, so it runs py-evm exactly as published.

A scenario is a genesis (accounts with balance, nonce, code, storage) and blocks of signed
raw transactions. Both sides build every block the way ``node.ledger.Ledger.build_block``
does (apply each transaction, assemble the body, finalise), with the same header fields,
so the results must be equal field for field: per transaction the status, gas used,
output, error type and logs; per block the state root, the transaction and receipt roots,
the bloom and the block hash.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from eth.abc import BlockHeaderAPI
from eth.chains.base import Chain
from eth.db.atomic import AtomicDB
from eth_utils import ValidationError

CHAIN_ID = 1337
GAS_LIMIT = 60_000_000
"""High enough that no block reaches its gas target: stock Prague's base fee then stays 0, as the node's always is."""
COINBASE = bytes.fromhex("c0" * 20)
GENESIS_TIMESTAMP = 1_900_000_000

Scenario = dict[str, Any]


def stock_chain_class() -> type[Chain]:
    from eth.vm.forks.prague import PragueVM

    return Chain.configure(__name__="StockPragueChain", vm_configuration=((0, PragueVM),), chain_id=CHAIN_ID)


def node_chain_class() -> type[Chain]:
    from node.execution import chain_class_for

    return chain_class_for(CHAIN_ID)


def _genesis(scenario: Scenario) -> tuple[dict[str, Any], dict[bytes, dict[str, Any]]]:
    params = {
        "difficulty": 0,
        "gas_limit": GAS_LIMIT,
        "timestamp": GENESIS_TIMESTAMP,
        "extra_data": b"",
        "nonce": b"\0" * 8,
        "base_fee_per_gas": 0,
        "coinbase": COINBASE,
    }
    state = {
        bytes.fromhex(address): {
            "balance": int(account.get("balance", 0)),
            "nonce": int(account.get("nonce", 0)),
            "code": bytes.fromhex(account.get("code", "")),
            "storage": {int(k): int(v) for k, v in account.get("storage", {}).items()},
        }
        for address, account in scenario["genesis"].items()
    }
    return params, state


def _run_block(chain: Any, parent: BlockHeaderAPI, spec: dict[str, Any]) -> dict[str, Any]:
    header = chain.create_header_from_parent(
        parent, coinbase=COINBASE, timestamp=int(spec["timestamp"]), gas_limit=GAS_LIMIT, extra_data=b""
    )
    vm = chain.get_vm(header)
    vm.block_preprocessing(vm.get_block())
    builder = vm.get_transaction_builder()
    result_header = header
    transactions, receipts = [], []
    outcomes: list[dict[str, Any]] = []
    for raw_hex in spec["transactions"]:
        tx = builder.decode(bytes.fromhex(raw_hex))
        try:
            receipt, computation = vm.apply_transaction(result_header, tx)
        except ValidationError as exc:
            outcomes.append({"invalid": str(exc)})
            continue
        gas_before = result_header.gas_used
        result_header = vm.add_receipt_to_header(result_header, receipt)
        transactions.append(tx)
        receipts.append(receipt)
        outcomes.append(
            {
                "status": receipt.state_root.hex(),
                "gas_used": receipt.gas_used - gas_before,
                "output": bytes(computation.output).hex(),
                "error": type(computation.error).__name__ if computation.is_error else None,
                "logs": [
                    [log.address.hex(), [f"{topic:064x}" for topic in log.topics], log.data.hex()]
                    for log in receipt.logs
                ],
            }
        )
    filled = vm.set_block_transactions_and_withdrawals(vm.get_block(), result_header, transactions, receipts)
    block = vm.finalize_block(vm.pack_block(vm.block_postprocessing(filled))).block
    chain.chaindb.persist_block(block)
    h = block.header
    return {
        "transactions": outcomes,
        "hash": h.hash.hex(),
        "state_root": h.state_root.hex(),
        "transaction_root": h.transaction_root.hex(),
        "receipt_root": h.receipt_root.hex(),
        "bloom": h.bloom,
        "gas_used": h.gas_used,
        "base_fee": h.base_fee_per_gas,
    }


def run_scenario(chain_class: type[Chain], scenario: Scenario) -> list[dict[str, Any]]:
    params, state = _genesis(scenario)
    chain: Any = chain_class.from_genesis(AtomicDB(), params, state)  # type: ignore[arg-type]
    results = []
    for spec in scenario["blocks"]:
        results.append(_run_block(chain, chain.get_canonical_head(), spec))
    return results


def main(side: str) -> None:
    chain_class = node_chain_class() if side == "node" else stock_chain_class()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer: Any = {"blocks": run_scenario(chain_class, json.loads(line))}
        except Exception as exc:  # reported to the test, which compares it like any other result
            answer = {"failed": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
