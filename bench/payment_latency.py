"""Single-payment latency: how long a shop till waits for one ERC-20 transfer.

One client sends one transfer at a time, as a wallet app does: read the pending nonce,
sign, ``eth_sendRawTransaction``, then poll ``eth_getTransactionReceipt`` every 10 ms
until the receipt appears. Measured on an idle chain, side by side with anvil
(automine) driven by the same code.

    .venv/bin/python -m bench.payment_latency [--payments 100] [--no-anvil]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness.erc20 import setup_system, sign, transfer_data
from bench.harness.report import markdown_table
from bench.harness.rpc import BenchRpc, hex_int
from bench.harness.systems import Anvil, System, Takasago


def measure(system: System, payments: int) -> list[float]:
    rpc = BenchRpc(system.url)
    work = setup_system(system, rpc, senders=1)
    payer = work.sender_keys[0]
    latencies = []
    for i in range(payments):
        started = time.perf_counter()
        nonce = hex_int(rpc.call("eth_getTransactionCount", payer.address, "pending"))
        raw, tx_hash = sign(
            payer, work.chain_id, nonce, work.token, transfer_data(work.recipients[i % 10], 1), 0, 60_000, work.fee_cap
        )
        rpc.call("eth_sendRawTransaction", raw)
        while True:
            receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                break
            time.sleep(0.01)
        if hex_int(receipt["status"]) != 1:
            raise RuntimeError(f"{system.name}: payment {i} failed")
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=100)
    parser.add_argument("--no-anvil", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="takasago-latency-") as tmp:
        systems: list[System] = [Takasago("takasago", Path(tmp))]
        if not args.no_anvil:
            systems.append(Anvil("anvil", Path(tmp)))
        for system in systems:
            system.start()
            try:
                latencies = sorted(measure(system, args.payments))
            finally:
                system.stop()
            rows.append(
                (
                    system.name,
                    statistics.median(latencies) * 1000,
                    latencies[int(len(latencies) * 0.9) - 1] * 1000,
                    latencies[-1] * 1000,
                )
            )
    ours = rows[0][1]
    print(f"single-payment latency, {args.payments} sequential ERC-20 transfers, receipt polled every 10 ms")
    head = ["system", "p50", "p90", "max", "our p50 / this p50 (above 1: we are slower)"]
    cells = [
        [name, f"{p50:.0f} ms", f"{p90:.0f} ms", f"{worst:.0f} ms", f"{ours / p50:.2f}x"]
        for name, p50, p90, worst in rows
    ]
    print(markdown_table(head, cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
