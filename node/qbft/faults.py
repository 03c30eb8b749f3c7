"""Test-only misbehaviour for the consensus engine: a no-op unless a test switches it on.

The network tests (``tests/test_network.py``) prove that honest validators survive a
faulty one, so a node must be able to *be* the faulty one on request. The engine calls
this object at the few points where a fault can enter; configured with nothing (every
production node) each call answers "behave normally". Tests configure it through the
environment of the node process they start (docs/consensus.md):

``TAKASAGO_QBFT_FAULT``
    ``equivocate`` sends two different proposals for one round to two halves of the
    peers; ``invalid-block`` proposes a block whose state root is wrong; ``silent``
    never proposes.
``TAKASAGO_QBFT_FAILPOINT``
    ``exit-after-commit`` ends the process the moment its first COMMIT is journaled,
    before it reaches any peer, as a power cut would ("the vote journal").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from eth.abc import BlockAPI
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from eth_utils import keccak

from node.ledger import decode_block
from node.qbft.messages import Code, Message, SignedMessage, sign
from node.qbft.network import Kind, PeerNetwork
from node.seal import sign_seal, unsealed_extra_data

log = logging.getLogger("takasago.qbft")

FAULT_ENV = "TAKASAGO_QBFT_FAULT"
FAILPOINT_ENV = "TAKASAGO_QBFT_FAILPOINT"


@dataclass(frozen=True)
class FaultInjection:
    """Which fault (if any) this node injects; the default injects none."""

    fault: str | None = None
    failpoint: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> FaultInjection:
        return cls(environ.get(FAULT_ENV) or None, environ.get(FAILPOINT_ENV) or None)

    @property
    def withholds_proposals(self) -> bool:
        """``silent``: this validator never proposes, so its rounds must time out."""
        return self.fault == "silent"

    @property
    def equivocates(self) -> bool:
        """``equivocate``: build a second block for the same round to show half the peers."""
        return self.fault == "equivocate"

    def corrupt(self, block: BlockAPI, validators: tuple[bytes, ...], key: PrivateKey) -> BlockAPI:
        """``invalid-block``: the block re-sealed with a wrong state root; otherwise the block unchanged."""
        if self.fault != "invalid-block":
            return block
        header = block.header.copy(state_root=keccak(b"not the state root"))
        header = header.copy(extra_data=unsealed_extra_data(tuple(Address(v) for v in validators)))
        return block.copy(header=sign_seal(header, key))

    def split_proposal(
        self, message: SignedMessage, alternative: bytes | None, network: PeerNetwork, key: PrivateKey
    ) -> bool:
        """``equivocate``: send ``message`` to half the peers and a proposal of ``alternative`` to the rest.

        True when it did (the caller must not broadcast ``message`` as well).
        """
        if not self.equivocates or alternative is None or message.message.code != Code.PROPOSAL:
            return False
        peers = sorted(network.peers())
        first = message.message
        digest = decode_block(alternative).hash
        other = Message(Code.PROPOSAL, first.height, first.round, digest, alternative, first.justification)
        network.broadcast(Kind.CONSENSUS, message.encode(), only=peers[0::2])
        network.broadcast(Kind.CONSENSUS, sign(other, key).encode(), only=peers[1::2])
        log.warning("fault injection: equivocating at height %d", first.height)
        return True

    def after_journaled(self, message: SignedMessage) -> None:
        """``exit-after-commit``: a power cut right after the first COMMIT reached the journal."""
        if self.failpoint == "exit-after-commit" and message.message.code == Code.COMMIT:
            log.warning("failpoint: power cut right after journaling a COMMIT")
            logging.shutdown()
            os._exit(3)
