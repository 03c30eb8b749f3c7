"""The Takasago ledger node: a permissioned EVM chain (py-evm, Prague rules) with
proof-of-authority sealing, an on-chain allowlist, durable LMDB storage and standard
Ethereum JSON-RPC."""

CLIENT_VERSION = "takasago-node/0.1.0/python3.11/py-evm-0.12"
