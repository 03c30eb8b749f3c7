"""Running the whole sequence on our node and on anvil, side by side, into one report."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account

from tests.differential.chain import Chain, ChainRunner, RPCFailure
from tests.differential.compare import Difference, Report, compare_step
from tests.differential.sequence import CHAIN_ID, build_sequence, build_views


def run_sequence(
    node_url: str,
    anvil_url: str,
    private_key: str,
    spender_key: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Runs the sequence on both chains; ``private_key`` deploys and sends most steps.

    ``spender_key`` (a second sender, registered on the node) is used for transferFrom;
    without it the main key approves and spends for itself. Both chains get byte-identical
    signed transactions (same keys, nonces, gas limits, zero fees, chain id 1337), so
    transaction hashes and contract addresses must match. ``anvil_url`` should be a fresh
    anvil: its nonces are raised to the node's, never lowered.
    """
    keys = {"main": private_key, "spender": spender_key or private_key}
    node = Chain("node", node_url)
    anvil = Chain("anvil", anvil_url)
    report = Report()
    for chain in (node, anvil):
        cid = int(chain.call("eth_chainId", []), 16)
        if cid != CHAIN_ID:
            report.differences.append(Difference("setup", f"{chain.name} chainId", cid, CHAIN_ID))
    if report.differences:
        return report
    # Same nonces on both chains => same signed transactions => same contract addresses.
    for key in set(keys.values()):
        address = Account.from_key(key).address
        ours = int(node.call("eth_getTransactionCount", [address, "latest"]), 16)
        theirs = int(anvil.call("eth_getTransactionCount", [address, "latest"]), 16)
        if theirs > ours:
            raise RPCFailure(f"anvil nonce {theirs} of {address} is ahead of the node's {ours}; use a fresh anvil")
        if theirs < ours:
            anvil.call("anvil_setNonce", [address, hex(ours)])
        anvil.call("anvil_setBalance", [address, hex(10**21)])  # not needed at zero fees; harmless

    main_address = Account.from_key(keys["main"]).address
    spender_address = Account.from_key(keys["spender"]).address
    views = build_views(main_address, spender_address)
    node_runner, anvil_runner = ChainRunner(node, keys), ChainRunner(anvil, keys)
    for step in build_sequence(main_address, spender_address):
        if progress:
            progress(step.name)
        n = node_runner.run_step(step, views)
        a = anvil_runner.run_step(step, views)
        report.node_results.append(n)
        report.anvil_results.append(a)
        compare_step(step, n, a, report)

    # final state
    for label, address in sorted(node_runner.contracts.items()):
        other = anvil_runner.contracts.get(label)
        if other is None or other.lower() != address.lower():
            report.differences.append(Difference("final", f"address of {label}", address, other))
            continue
        node_code = node.call("eth_getCode", [address, "latest"])
        anvil_code = anvil.call("eth_getCode", [address, "latest"])
        if node_code.lower() != anvil_code.lower():
            report.differences.append(Difference("final", f"eth_getCode {label}", node_code, anvil_code))
        slot0 = [
            node.call("eth_getStorageAt", [address, "0x0", "latest"]),
            anvil.call("eth_getStorageAt", [address, "0x0", "latest"]),
        ]
        if int(slot0[0], 16) != int(slot0[1], 16):
            report.differences.append(Difference("final", f"eth_getStorageAt {label} slot 0", *slot0))
    for role, address in (("main", main_address), ("spender", spender_address)):
        n_nonce = node.call("eth_getTransactionCount", [address, "latest"])
        a_nonce = anvil.call("eth_getTransactionCount", [address, "latest"])
        if int(n_nonce, 16) != int(a_nonce, 16):
            report.differences.append(Difference("final", f"nonce of {role}", n_nonce, a_nonce))
    return report
