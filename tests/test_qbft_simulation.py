"""QBFT by simulation: 4 (and 7) validators exchanging real signed, encoded messages over a virtual
network with delays, drops, crashes, an equivocating leader and invalid proposals.

Safety (no two different blocks decided at a height) must hold in every run; liveness
(every honest validator decides) whenever at most f validators misbehave and the network
eventually delivers.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import rlp
from eth_keys import keys
from eth_utils import keccak

from node.qbft.instance import Action, Broadcast, Decided, Instance, StartTimer
from node.qbft.messages import Code, InvalidMessage, Message, decode, proposer, quorum, sign


def block_for(height: int, round_: int, author: bytes, salt: bytes = b"") -> bytes:
    return rlp.encode([height, round_, author, salt])


def validate_for(height: int) -> Callable[[bytes], bytes | None]:
    def validate(block: bytes) -> bytes | None:
        try:
            items = rlp.decode(block)
        except rlp.DecodingError:
            return None
        if (
            not isinstance(items, list)
            or len(items) != 4
            or int.from_bytes(items[0], "big") != height
            or items[3] == b"bad"
        ):
            return None
        return keccak(block)

    return validate


@dataclass
class Simulation:
    n: int = 4
    seed: int = 0
    drop: float = 0.0
    max_delay: float = 0.05
    keys_: list[keys.PrivateKey] = field(default_factory=list)
    silent: set[int] = field(default_factory=set)
    down: dict[int, tuple[float, float]] = field(default_factory=dict)  # validator → (from, until): no traffic
    bad_proposer: set[int] = field(default_factory=set)
    equivocator: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.keys_ = [keys.PrivateKey(keccak(f"validator-{i}-{self.seed}".encode())) for i in range(self.n)]
        self.validators = sorted(k.public_key.to_canonical_address() for k in self.keys_)
        self.keys_.sort(key=lambda k: k.public_key.to_canonical_address())
        self.now = 0.0
        self.queue: list[tuple[float, int, int, str, object]] = []
        self.counter = itertools.count()
        self.decisions: dict[int, dict[int, Decided]] = {}
        self.instances: dict[int, Instance] = {}
        self.future: dict[
            int, list[bytes]
        ] = {}  # messages for heights a validator has not reached (as a node buffers them)

    def reachable(self, i: int) -> bool:
        window = self.down.get(i)
        return window is None or not (window[0] <= self.now < window[1])

    def instance(self, i: int, height: int) -> Instance:
        me = self.validators[i]

        def propose(h: int, r: int) -> bytes:
            return block_for(h, r, me, b"bad" if i in self.bad_proposer else b"")

        def validate(block: bytes) -> bytes | None:
            return validate_for(height)(block)

        if i in self.bad_proposer:  # its own check passes, so it does send the invalid block

            def validate_own(block: bytes) -> bytes | None:
                return keccak(block) if rlp.decode(block)[3] == b"bad" else validate_for(height)(block)

            return Instance(height, self.validators, self.keys_[i], propose, validate_own, base_timeout=1.0)
        return Instance(height, self.validators, self.keys_[i], propose, validate, base_timeout=1.0)

    def schedule(self, at: float, who: int, kind: str, item: object) -> None:
        heapq.heappush(self.queue, (at, next(self.counter), who, kind, item))

    def apply(self, i: int, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Decided):
                self.decisions.setdefault(action.height, {})[i] = action
            elif isinstance(action, StartTimer):
                self.schedule(self.now + action.seconds, i, "timeout", (action.height, action.round))
            elif isinstance(action, Broadcast):
                if i in self.silent or not self.reachable(i):
                    continue
                message = action.message
                if i in self.equivocator and message.message.code == Code.PROPOSAL:
                    self.equivocate(i, message.message)
                    continue
                wire = message.encode()
                for j in range(self.n):
                    if j != i and self.rng.random() < self.drop:
                        continue
                    self.schedule(self.now + self.rng.uniform(0.001, self.max_delay), j, "message", wire)

    def equivocate(self, i: int, message: Message) -> None:
        """Half the validators get one block, half another, for the same height and round."""
        for j in range(self.n):
            block = block_for(message.height, message.round, self.validators[i], b"A" if j % 2 else b"B")
            variant = Message(Code.PROPOSAL, message.height, message.round, keccak(block), block, message.justification)
            self.schedule(self.now + 0.01, j, "message", sign(variant, self.keys_[i]).encode())

    def run(self, heights: int, until: float = 120.0) -> None:
        for i in range(self.n):
            self.instances[i] = self.instance(i, 1)
            self.apply(i, self.instances[i].start())
        while self.queue and self.queue[0][0] <= until:
            self.now, _, who, kind, item = heapq.heappop(self.queue)
            if who in self.silent or not self.reachable(who):
                continue
            instance = self.instances[who]
            if kind == "timeout":
                height, round_ = item  # type: ignore[misc]
                actions = instance.timeout(round_) if height == instance.height else []
            else:
                signed = decode(item)  # type: ignore[arg-type]
                if signed.message.height > instance.height:
                    self.future.setdefault(who, []).append(item)  # type: ignore[arg-type]
                    continue
                actions = instance.handle(signed)
            self.apply(who, actions)
            if instance.decided is not None and instance.height < heights:
                self.instances[who] = successor = self.instance(who, instance.height + 1)
                self.apply(who, successor.start())
                for wire in self.future.pop(who, []):
                    message = decode(wire)
                    if message.message.height == successor.height:
                        self.apply(who, successor.handle(message))
                    elif message.message.height > successor.height:
                        self.future.setdefault(who, []).append(wire)
            if all(len(self.decisions.get(h, {})) >= self.n - len(self.silent) for h in range(1, heights + 1)):
                break

    def assert_safe(self) -> None:
        for height, decided in self.decisions.items():
            digests = {d.digest for d in decided.values()}
            assert len(digests) <= 1, f"height {height}: conflicting blocks decided {digests}"
            for d in decided.values():
                assert len(d.seals) >= quorum(self.n)
                assert {a for a, _ in d.seals} <= set(self.validators)

    def honest(self) -> list[int]:
        return [i for i in range(self.n) if i not in self.silent | self.equivocator | self.bad_proposer]


def test_quorum_and_proposer_rotation() -> None:
    assert [quorum(n) for n in (1, 3, 4, 5, 6, 7, 10)] == [1, 2, 3, 4, 4, 5, 7]
    validators = [bytes([i]) * 20 for i in range(4)]
    assert [proposer(validators, 5, r) for r in range(4)] == [
        validators[1],
        validators[2],
        validators[3],
        validators[0],
    ]


def test_all_honest_decide_every_height_in_round_zero() -> None:
    sim = Simulation(seed=1)
    sim.run(heights=5)
    sim.assert_safe()
    for height in range(1, 6):
        decided = sim.decisions[height]
        assert len(decided) == 4 and {d.round for d in decided.values()} == {0}


def test_a_silent_proposer_causes_a_round_change_and_the_chain_goes_on() -> None:
    sim = Simulation(seed=2)
    sim.silent = {sim.validators.index(proposer(sim.validators, 1, 0))}
    sim.run(heights=4)
    sim.assert_safe()
    assert all(len(sim.decisions[h]) == 3 for h in range(1, 5))
    assert max(d.round for d in sim.decisions[1].values()) >= 1


def test_an_invalid_proposal_is_ignored() -> None:
    sim = Simulation(seed=3)
    sim.bad_proposer = {sim.validators.index(proposer(sim.validators, 1, 0))}
    sim.run(heights=2)
    sim.assert_safe()
    first = sim.decisions[1]
    assert all(rlp.decode(d.block)[3] != b"bad" for d in first.values())
    assert {i for i in first} >= set(sim.honest())


def test_an_equivocating_leader_cannot_split_the_validators() -> None:
    for seed in range(6):
        sim = Simulation(seed=10 + seed)
        sim.equivocator = {sim.validators.index(proposer(sim.validators, 1, 0))}
        sim.run(heights=2)
        sim.assert_safe()
        assert set(sim.decisions[1]) >= set(sim.honest())


def test_two_of_four_down_halts_safely_and_resumes_when_one_returns() -> None:
    sim = Simulation(seed=4)
    sim.down = {0: (0.0, 1e9), 1: (0.0, 30.0)}
    sim.run(heights=1, until=25.0)
    assert not sim.decisions.get(1)  # no quorum: nothing is decided, nothing conflicting
    sim2 = Simulation(seed=4)
    sim2.down = {0: (0.0, 1e9), 1: (0.0, 30.0)}
    sim2.run(heights=2, until=400.0)
    sim2.assert_safe()
    assert len(sim2.decisions[1]) >= 2 and len(sim2.decisions[2]) >= 2


@pytest.mark.parametrize("seed", range(8))
def test_safety_under_random_delays_and_drops(seed: int) -> None:
    sim = Simulation(n=7 if seed % 2 else 4, seed=100 + seed, drop=0.15, max_delay=0.8)
    if seed % 3 == 0:
        sim.silent = {seed % sim.n}
    sim.run(heights=3, until=600.0)
    sim.assert_safe()


def test_forged_and_foreign_messages_are_ignored() -> None:
    sim = Simulation(seed=5)
    instance = sim.instance(0, 1)
    outsider = keys.PrivateKey(keccak(b"outsider"))
    forged = sign(Message(Code.COMMIT, 1, 0, b"\x11" * 32, b"\x00" * 65), outsider)
    assert instance.handle(decode(forged.encode())) == []
    other_height = sign(Message(Code.PREPARE, 9, 0, b"\x11" * 32), sim.keys_[1])
    assert instance.handle(decode(other_height.encode())) == []
    with pytest.raises(InvalidMessage):
        decode(b"\x01\x02garbage")
    tampered = bytearray(other_height.encode())
    tampered[-5] ^= 1
    try:  # a flipped signature bit either fails to recover or recovers someone else: never the validator
        assert decode(bytes(tampered)).author != other_height.author
    except InvalidMessage:
        pass
