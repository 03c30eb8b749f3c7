"""The Takasago ledger node: a permissioned EVM chain (py-evm, Prague rules) with
proof-of-authority sealing, an on-chain allowlist, durable LMDB storage and standard
Ethereum JSON-RPC.

Importing the package changes nothing in the libraries it uses: the node's changes to
py-evm, pyrlp and eth-hash are installed explicitly (``evm_patches.install``).
"""

CLIENT_VERSION = "takasago-node/0.1.0/python3.11/py-evm-0.12"
