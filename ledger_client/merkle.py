"""OpenZeppelin-compatible Merkle trees (``StandardMerkleTree``) in Python.

The oracle builds a report's tree here and the OracleReports contract checks
proofs with OpenZeppelin's ``MerkleProof``; both follow the layout of the
``@openzeppelin/merkle-tree`` library: leaves are ``keccak256(keccak256(abi.encode(
values)))``, sorted; the tree is a complete binary tree stored as an array with
the leaves at the end in reverse order; a parent hashes its two children sorted.
Multiproofs use the same algorithm as ``getMultiProof``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    return keccak(keccak(abi_encode(list(types), list(values))))


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


@dataclass(frozen=True)
class MultiProof:
    """Leaves (as values, in the order the contract must receive them), proof hashes and flags."""

    leaf_indices: list[int]
    proof: list[bytes]
    proof_flags: list[bool]


class StandardMerkleTree:
    """A tree over ``values`` (each a tuple matching ``types``)."""

    def __init__(self, values: Sequence[Sequence[Any]], types: Sequence[str]) -> None:
        if not values:
            raise ValueError("a Merkle tree needs at least one leaf")
        self.types = list(types)
        self.values = [tuple(v) for v in values]
        hashed = sorted(((leaf_hash(self.types, v), i) for i, v in enumerate(self.values)), key=lambda x: x[0])
        n = len(hashed)
        tree: list[bytes] = [b""] * (2 * n - 1)
        self._tree_index: dict[int, int] = {}
        for position, (h, value_index) in enumerate(hashed):
            tree_index = len(tree) - 1 - position
            tree[tree_index] = h
            self._tree_index[value_index] = tree_index
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = node_hash(tree[2 * i + 1], tree[2 * i + 2])
        self.tree = tree

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def value_order(self) -> list[int]:
        """Value indices in the order of their leaves in the tree (by leaf hash).

        Leaves next to each other here share most of their path to the root, so a multiproof
        of a run of them needs a few hashes; the same number of leaves picked by value index
        are scattered, and their proof grows with every leaf (500 such leaves made a
        223 kB transaction)."""
        return sorted(self._tree_index, key=lambda value: -self._tree_index[value])

    def proof(self, value_index: int) -> list[bytes]:
        """The sibling hashes from leaf ``value_index`` up to the root."""
        i = self._tree_index[value_index]
        proof = []
        while i > 0:
            proof.append(self.tree[i - 1 if i % 2 == 0 else i + 1])
            i = (i - 1) // 2
        return proof

    def multiproof(self, value_indices: Sequence[int]) -> MultiProof:
        """A multiproof for several leaves; ``leaf_indices`` gives the order to send their values in."""
        tree_indices = sorted((self._tree_index[v] for v in value_indices), reverse=True)
        if len(set(tree_indices)) != len(tree_indices):
            raise ValueError("cannot prove a duplicated index")
        by_tree_index = {t: v for v, t in self._tree_index.items()}
        stack = list(tree_indices)
        proof: list[bytes] = []
        flags: list[bool] = []
        while stack and stack[0] > 0:
            j = stack.pop(0)
            sibling = j - 1 if j % 2 == 0 else j + 1
            parent = (j - 1) // 2
            if stack and stack[0] == sibling:
                flags.append(True)
                stack.pop(0)
            else:
                flags.append(False)
                proof.append(self.tree[sibling])
            stack.append(parent)
        if not tree_indices:
            proof.append(self.tree[0])
        return MultiProof([by_tree_index[t] for t in tree_indices], proof, flags)


def verify_multiproof(root: bytes, leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool]) -> bool:
    """Recomputes the root as ``MerkleProof.multiProofVerify`` does."""
    if len(leaves) + len(proof) != len(flags) + 1:
        return False
    stack = list(leaves)
    remaining = list(proof)
    for flag in flags:
        if not stack:
            return False
        a = stack.pop(0)
        if flag:
            if not stack:
                return False
            b = stack.pop(0)
        else:
            if not remaining:
                return False
            b = remaining.pop(0)
        stack.append(node_hash(a, b))
    if len(stack) + len(remaining) != 1:
        return False
    return (stack[0] if stack else remaining[0]) == root
