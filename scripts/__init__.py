"""The ``takasago`` command line for city officers and operators."""

import os

# Fast keccak for everything this process hashes (see node/__init__.py).
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
