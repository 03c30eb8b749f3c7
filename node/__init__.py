"""The Takasago ledger node: a permissioned EVM chain (py-evm, Prague rules) with
proof-of-authority sealing, an on-chain allowlist, durable LMDB storage and standard
Ethereum JSON-RPC."""

import os

# eth-hash otherwise picks pycryptodome, ~3x slower per keccak than safe-pysha3,
# and trie hashing is a large share of block building. Must precede eth imports.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

CLIENT_VERSION = "takasago-node/0.1.0/python3.11/py-evm-0.12"
