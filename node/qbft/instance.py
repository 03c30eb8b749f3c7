"""One height of QBFT: from proposal to a block with a quorum of commit seals.

The rules (QBFT specification; Moniz 2020), for ``n`` validators and quorum ``q = ⌈2n/3⌉``:

1. The leader of (height, round) — round robin — proposes a block. In round 0 it needs no
   justification; later it must show ``q`` ROUND-CHANGEs for that round and, if any of
   them reported a prepared block, re-propose the one prepared in the highest round,
   with that round's ``q`` PREPAREs.
2. A validator accepting the proposal (valid block, right leader, valid justification,
   not a second different proposal for the same round — equivocation) sends PREPARE.
3. With ``q`` PREPAREs for the accepted block it is *prepared* and sends COMMIT with its
   commit seal (its signature of the block digest).
4. With ``q`` COMMITs for a block it knows, the block is decided (final): it carries those
   seals.
5. If the round's timer (``base × 2^round``) expires first, the validator moves to the
   next round and sends ROUND-CHANGE with what it prepared, if anything; ``f + 1``
   ROUND-CHANGEs for higher rounds pull a lagging validator forward to the lowest of them.

Safety does not depend on timing: two different blocks can only both be decided at one
height if two quorums intersect in a validator that signed both, i.e. more than ``f`` are
faulty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import rlp
from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_keys.exceptions import BadSignature

from node.qbft.messages import Code, InvalidMessage, Message, SignedMessage, faulty_tolerated, proposer, quorum, sign


@dataclass(frozen=True)
class Broadcast:
    message: SignedMessage


@dataclass(frozen=True)
class StartTimer:
    height: int
    round: int
    seconds: float


@dataclass(frozen=True)
class Decided:
    height: int
    round: int
    block: bytes
    digest: bytes
    seals: tuple[tuple[bytes, bytes], ...]  # (validator, commit seal), ordered by validator


@dataclass(frozen=True)
class PreparedCertificate:
    """A block this validator prepared, with the PREPARE quorum that proves it.

    Reported in every later ROUND-CHANGE (so a later round re-proposes this block rather
    than deciding another one) and kept in the vote journal across a restart.
    """

    round: int
    digest: bytes
    block: bytes
    prepares: tuple[SignedMessage, ...]


Action = Broadcast | StartTimer | Decided
ProposeFn = Callable[[int, int], bytes | None]  # (height, round) → a new block, or None if none is ready yet
ValidateFn = Callable[[bytes], bytes | None]  # block → its digest if valid for this height, else None


def seal_author(digest: bytes, seal: bytes) -> bytes | None:
    try:
        return keys.Signature(seal).recover_public_key_from_msg_hash(digest).to_canonical_address()
    except (BadSignature, ValueError):
        return None


def round_change_body(prepared_round: int | None, block: bytes | None) -> bytes:
    return rlp.encode([prepared_round or 0, block or b""]) if prepared_round is not None else b""


@dataclass(frozen=True)
class PreparedClaim:
    """What a ROUND-CHANGE says its author prepared: the round and the block (its proof,
    the PREPARE quorum, travels as the message's justification and is checked separately)."""

    round: int
    block: bytes


def round_change_prepared(message: Message) -> PreparedClaim | None:
    """The prepared round and block a ROUND-CHANGE reports, if it reports one."""
    if not message.body:
        return None
    try:
        prepared_round, block = rlp.decode(message.body)
    except (rlp.DecodingError, ValueError):
        raise InvalidMessage("malformed ROUND-CHANGE body") from None
    return PreparedClaim(int.from_bytes(prepared_round, "big"), block)


@dataclass
class Instance:
    height: int
    validators: list[bytes]
    key: PrivateKey
    propose: ProposeFn
    validate: ValidateFn
    base_timeout: float = 1.0
    round: int = 0
    prepared: PreparedCertificate | None = None
    decided: Decided | None = None
    equivocations: set[bytes] = field(default_factory=set)
    _proposals: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # round → (digest, block)
    _prepares: dict[tuple[int, bytes], dict[bytes, SignedMessage]] = field(default_factory=lambda: defaultdict(dict))
    _commits: dict[tuple[int, bytes], dict[bytes, SignedMessage]] = field(default_factory=lambda: defaultdict(dict))
    _round_changes: dict[int, dict[bytes, SignedMessage]] = field(default_factory=lambda: defaultdict(dict))
    _sent: set[tuple[Code, int]] = field(default_factory=set)

    @property
    def me(self) -> bytes:
        return self.key.public_key.to_canonical_address()

    @property
    def q(self) -> int:
        return quorum(len(self.validators))

    def _send(
        self, code: Code, round_: int, digest: bytes, body: bytes = b"", justification: tuple[SignedMessage, ...] = ()
    ) -> list[Action]:
        if (code, round_) in self._sent:
            return []
        self._sent.add((code, round_))
        message = sign(Message(code, self.height, round_, digest, body, justification), self.key)
        return [Broadcast(message)]

    # -- entry points ----------------------------------------------------------------------------
    def start(self) -> list[Action]:
        return [StartTimer(self.height, 0, self.base_timeout), *self.lead()]

    def timeout(self, round_: int) -> list[Action]:
        """The timer of ``round_`` expired: move to the next round (unless already decided or moved on)."""
        if self.decided is not None or round_ != self.round:
            return []
        return self._enter_round(round_ + 1)

    def restore(
        self,
        sent: list[SignedMessage],
        prepared: PreparedCertificate | None,
    ) -> list[Action]:
        """Resume after a restart from what the journal says this validator already sent and prepared.

        Nothing already said is said again differently: every (message kind, round) sent is
        marked, the round is the highest one spoken in, and a prepared block is reported by
        later ROUND-CHANGEs.
        """
        self._sent |= {(m.message.code, m.message.round) for m in sent}
        self.round = max([self.round, *(m.message.round for m in sent)])
        if prepared is not None and (self.prepared is None or self.prepared.round < prepared.round):
            self.prepared = prepared
        seconds = self.base_timeout * 2**self.round
        return [StartTimer(self.height, self.round, seconds)]

    def lead(self) -> list[Action]:
        """Try again to propose in the current round (the caller now has a block ready)."""
        if self.decided is not None:
            return []
        if self.round == 0:
            if proposer(self.validators, self.height, 0) != self.me or (Code.PROPOSAL, 0) in self._sent:
                return []
            block = self.propose(self.height, 0)
            digest = self.validate(block) if block is not None else None
            if block is None or digest is None:
                return []
            return self._send(Code.PROPOSAL, 0, digest, block)
        return self._maybe_lead(self.round)

    def handle(self, signed: SignedMessage) -> list[Action]:
        message = signed.message
        if self.decided is not None or message.height != self.height or signed.author not in self.validators:
            return []
        try:
            if message.code == Code.PROPOSAL:
                return self._on_proposal(signed)
            if message.code == Code.PREPARE:
                self._prepares[(message.round, message.digest)].setdefault(signed.author, signed)
                return self._check_prepared(message.round, message.digest)
            if message.code == Code.COMMIT:
                if seal_author(message.digest, message.body) != signed.author:
                    return []
                self._commits[(message.round, message.digest)].setdefault(signed.author, signed)
                return self._check_decided(message.round, message.digest)
            return self._on_round_change(signed)
        except InvalidMessage:
            return []

    # -- rules ---------------------------------------------------------------------------------------
    def _enter_round(self, round_: int) -> list[Action]:
        self.round = round_
        body, digest = b"", b""
        justification: tuple[SignedMessage, ...] = ()
        if self.prepared is not None:
            digest = self.prepared.digest
            body = round_change_body(self.prepared.round, self.prepared.block)
            justification = self.prepared.prepares
        actions: list[Action] = [StartTimer(self.height, round_, self.base_timeout * 2**round_)]
        actions += self._send(Code.ROUND_CHANGE, round_, digest, body, justification)
        return actions + self._maybe_lead(round_)

    def _valid_prepares(self, prepares: tuple[SignedMessage, ...], round_: int, digest: bytes) -> bool:
        authors = {
            p.author for p in prepares
            if p.author in self.validators and p.message.code == Code.PREPARE and p.message.height == self.height
            and p.message.round == round_ and p.message.digest == digest
        }  # fmt: skip
        return len(authors) >= self.q

    def _valid_round_change(self, signed: SignedMessage, round_: int) -> bool:
        message = signed.message
        if signed.author not in self.validators or message.code != Code.ROUND_CHANGE:
            return False
        if message.height != self.height or message.round != round_:
            return False
        prepared = round_change_prepared(message)
        if prepared is None:
            return True
        return (
            prepared.round < round_
            and self.validate(prepared.block) == message.digest
            and self._valid_prepares(message.justification, prepared.round, message.digest)
        )

    def _highest_prepared(self, round_changes: list[SignedMessage]) -> PreparedCertificate | None:
        best = None
        for rc in round_changes:
            prepared = round_change_prepared(rc.message)
            if prepared is not None and (best is None or prepared.round > best.round):
                best = PreparedCertificate(prepared.round, rc.message.digest, prepared.block, rc.message.justification)
        return best

    def _on_proposal(self, signed: SignedMessage) -> list[Action]:
        message = signed.message
        r = message.round
        if r < self.round or signed.author != proposer(self.validators, self.height, r):
            return []
        seen = self._proposals.get(r)
        if seen is not None:
            if seen[0] != message.digest:
                self.equivocations.add(signed.author)  # two proposals for one round: keep the first
            return []
        if self.validate(message.body) != message.digest:
            return []
        if r > 0:
            round_changes = [m for m in message.justification if m.message.code == Code.ROUND_CHANGE]
            valid = {m.author: m for m in round_changes if self._valid_round_change(m, r)}
            if len(valid) < self.q:
                return []
            highest = self._highest_prepared(list(valid.values()))
            if highest is not None and highest.digest != message.digest:
                return []  # a value may have been decided: the leader must re-propose it
        self._proposals[r] = (message.digest, message.body)
        actions: list[Action] = []
        if r > self.round:
            self.round = r
            actions.append(StartTimer(self.height, r, self.base_timeout * 2**r))
        actions += self._send(Code.PREPARE, r, message.digest)
        return actions + self._check_prepared(r, message.digest) + self._check_decided(r, message.digest)

    def _check_prepared(self, round_: int, digest: bytes) -> list[Action]:
        proposal = self._proposals.get(round_)
        prepares = self._prepares.get((round_, digest), {})
        if proposal is None or proposal[0] != digest or len(prepares) < self.q or round_ != self.round:
            return []
        if self.prepared is None or self.prepared.round < round_:
            self.prepared = PreparedCertificate(round_, digest, proposal[1], tuple(prepares.values()))
        seal = self.key.sign_msg_hash(digest).to_bytes()
        return self._send(Code.COMMIT, round_, digest, seal) + self._check_decided(round_, digest)

    def _check_decided(self, round_: int, digest: bytes) -> list[Action]:
        commits = self._commits.get((round_, digest), {})
        proposal = self._proposals.get(round_)
        if len(commits) < self.q or proposal is None or proposal[0] != digest or self.decided is not None:
            return []
        seals = tuple(sorted((author, m.message.body) for author, m in commits.items()))
        self.decided = Decided(self.height, round_, proposal[1], digest, seals)
        return [self.decided]

    def _on_round_change(self, signed: SignedMessage) -> list[Action]:
        r = signed.message.round
        if r <= 0 or not self._valid_round_change(signed, r):
            return []
        self._round_changes[r].setdefault(signed.author, signed)
        actions: list[Action] = []
        if r > self.round:  # f + 1 validators are ahead: follow the lowest round they are in
            ahead = {a: min(rr for rr, msgs in self._round_changes.items() if rr > self.round and a in msgs)
                     for rr, msgs in self._round_changes.items() if rr > self.round for a in msgs}  # fmt: skip
            if len(ahead) > faulty_tolerated(len(self.validators)):
                actions += self._enter_round(min(ahead.values()))
        return actions + self._maybe_lead(self.round)

    def _maybe_lead(self, round_: int) -> list[Action]:
        if (
            round_ == 0
            or proposer(self.validators, self.height, round_) != self.me
            or (Code.PROPOSAL, round_) in self._sent
        ):
            return []
        round_changes = list(self._round_changes.get(round_, {}).values())
        if len(round_changes) < self.q:
            return []
        justification = tuple(round_changes[: self.q])
        highest = self._highest_prepared(list(justification))
        if highest is not None:
            digest, block = highest.digest, highest.block
            justification += highest.prepares
        else:
            proposed = self.propose(self.height, round_)
            found = self.validate(proposed) if proposed is not None else None
            if proposed is None or found is None:
                return []
            block, digest = proposed, found
        return self._send(Code.PROPOSAL, round_, digest, block, justification)
