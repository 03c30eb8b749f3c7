"""Root hash and nodes of an "ordered" Merkle-Patricia trie (transactions, receipts).

Block bodies key items by ``rlp(index)``. py-evm builds these tries by inserting one
key at a time into a ``HexaryTrie`` (read-modify-write of every node on the path),
which costs about a third of a millisecond per item. Knowing every key up front, the
trie can instead be built bottom-up in one pass, as geth's StackTrie does: sort the
keys, split on the first differing nibble, and encode each node once. The result is
byte-identical (``tests/test_ordered_trie.py`` checks it against py-evm).
"""

from __future__ import annotations

from collections.abc import Sequence

import rlp
from eth_hash.auto import keccak

BLANK_ROOT = keccak(rlp.encode(b""))


def _nibbles(key: bytes) -> bytes:
    out = bytearray()
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return bytes(out)


def _compact(nibbles: bytes, leaf: bool) -> bytes:
    """Hex-prefix encoding (Yellow Paper, appendix C)."""
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        nibbles = bytes([flag + 1]) + nibbles
    else:
        nibbles = bytes([flag, 0]) + nibbles
    return bytes((nibbles[i] << 4) | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _reference(node: list[object], nodes: dict[bytes, bytes]) -> object:
    encoded = rlp.encode(node)
    if len(encoded) < 32:
        return node  # embedded in its parent
    digest = keccak(encoded)
    nodes[digest] = encoded
    return digest


def _build(items: Sequence[tuple[bytes, bytes]], depth: int, nodes: dict[bytes, bytes]) -> list[object]:
    if len(items) == 1:
        key, value = items[0]
        return [_compact(key[depth:], leaf=True), value]
    first, last = items[0][0], items[-1][0]  # sorted: the common prefix of all is theirs
    common = depth
    limit = min(len(first), len(last))
    while common < limit and first[common] == last[common]:
        common += 1
    if common > depth:
        child = _build(items, common, nodes)
        return [_compact(first[depth:common], leaf=False), _reference(child, nodes)]
    branch: list[object] = [b""] * 17
    start = 0
    if len(items[0][0]) == depth:  # a key ending here: the branch's own value
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][depth]
        end = start
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        branch[nibble] = _reference(_build(items[start:end], depth + 1, nodes), nodes)
        start = end
    return branch


def ordered_trie_root_and_nodes(encoded_items: Sequence[bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """Root hash and {hash: node} of the trie mapping rlp(i) -> encoded_items[i]."""
    if not encoded_items:
        return BLANK_ROOT, {}
    pairs = sorted((_nibbles(rlp.encode(index)), item) for index, item in enumerate(encoded_items))
    nodes: dict[bytes, bytes] = {}
    root_encoded = rlp.encode(_build(pairs, 0, nodes))
    root = keccak(root_encoded)
    nodes[root] = root_encoded
    return root, nodes
