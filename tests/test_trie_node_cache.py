"""Trie nodes decoded once per hash (``evm_patches``) give the same tries as the trie package's own reads.

The trie edits decoded nodes in place while it sets and deletes keys, so each caller must get
its own copy; two tries, one reading through the cache and one through the original
``get_node``, take the same random edits and must agree on every root and value.
"""

from __future__ import annotations

import random

from trie import HexaryTrie

from node import evm_patches


class StockTrie(HexaryTrie):
    get_node = evm_patches._ORIGINAL_GET_NODE


def test_random_edits_give_the_same_roots_and_values_through_the_cache() -> None:
    evm_patches.install()
    assert HexaryTrie.get_node is evm_patches._get_node_decoding_once
    rng = random.Random(17)
    cached, stock = HexaryTrie({}, prune=True), StockTrie({}, prune=True)
    keys = [rng.randbytes(32) for _ in range(400)] + [rng.randbytes(3) for _ in range(40)]
    for step in range(6_000):
        key = rng.choice(keys)
        if rng.random() < 0.25:
            del cached[key]
            del stock[key]
        else:
            value = rng.randbytes(rng.choice((1, 5, 31, 40)))  # short values make embedded nodes
            cached[key] = value
            stock[key] = value
        assert cached.root_hash == stock.root_hash, step
        probe = rng.choice(keys)
        assert cached[probe] == stock[probe]
    # A fresh trie over the same database, reading only through the cache, sees every value.
    reread = HexaryTrie(cached.db, root_hash=cached.root_hash)
    assert all(reread[k] == stock[k] for k in keys)
