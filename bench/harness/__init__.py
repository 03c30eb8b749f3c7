"""What every benchmark shares: ports, processes, JSON-RPC for load, figures and report stamps.

Modules: ``ports`` (free loopback ports), ``processes`` (children in their own process group,
stopped as a group on exit), ``anvil`` (the reference EVM), ``systems`` (our node, anvil and
Hardhat as ledgers under test), ``rpc`` (``ledger_client``'s ``Rpc`` with per-thread sessions
and batches whose failures come back as values), ``erc20`` (signing and sending the token
workload), ``stats`` (percentiles) and ``report`` (log lines, tables, the commit stamp).
"""
