"""The one-pass ordered trie equals py-evm's incremental HexaryTrie, node for node."""

import os

import pytest
from eth.db.trie import _make_trie_root_and_nodes

from node.ordered_trie import ordered_trie_root_and_nodes


@pytest.mark.parametrize("count", [0, 1, 2, 3, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 4100])
def test_matches_py_evm(count: int) -> None:
    items = tuple(os.urandom(1 + (i * 37) % 140) for i in range(count))
    expected_root, expected_nodes = _make_trie_root_and_nodes(items)
    root, nodes = ordered_trie_root_and_nodes(items)
    assert root == expected_root
    assert nodes == {k: v for k, v in expected_nodes.items() if k in nodes}
    assert set(expected_nodes) - set(nodes) <= set()  # every node py-evm stores, we store
