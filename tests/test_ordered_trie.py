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


def test_code_bitmap_matches_py_evm_jump_analysis() -> None:
    """The cached forward scan agrees with py-evm's own backward search."""
    import random

    from eth.vm.code_stream import CodeStream

    from node.evm_speedups import AnalysedCodeStream, code_start_bitmap

    rng = random.Random(7)
    for _ in range(40):
        code = bytes(rng.choice([0x60, 0x61, 0x7F, 0x5B, 0x00, 0x56, rng.randrange(256)]) for _ in range(300))
        bitmap = code_start_bitmap(code)
        stream = CodeStream(code)
        analysed = AnalysedCodeStream(code)
        for position in range(len(code) + 2):
            ours = position < len(code) and bitmap[position] == 1
            assert ours == stream.is_valid_opcode(position), (code.hex(), position)
            assert analysed.is_valid_opcode(position) == ours
