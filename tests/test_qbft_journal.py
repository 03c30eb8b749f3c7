"""The vote journal: a validator restarted mid-height neither votes twice nor forgets what it prepared."""

from __future__ import annotations

from pathlib import Path

from eth_keys import keys
from eth_utils import keccak

from node.qbft.instance import Broadcast, Instance, PreparedCertificate, PreparedClaim, round_change_prepared
from node.qbft.journal import HeightRecord, VoteJournal
from node.qbft.messages import Code, Message, SignedMessage, decode, proposer, sign
from tests.test_qbft_simulation import block_for, validate_for

HEIGHT = 5


def validators() -> tuple[list[bytes], dict[bytes, keys.PrivateKey]]:
    found = [keys.PrivateKey(keccak(f"journal-{i}".encode())) for i in range(4)]
    by_address = {k.public_key.to_canonical_address(): k for k in found}
    return sorted(by_address), by_address


def instance_for(me: keys.PrivateKey, order: list[bytes]) -> Instance:
    def propose(height: int, round_: int) -> bytes:
        return block_for(height, round_, me.public_key.to_canonical_address())

    return Instance(HEIGHT, order, me, propose, validate_for(HEIGHT), base_timeout=1.0)


def broadcasts(actions: list[object]) -> list[SignedMessage]:
    return [a.message for a in actions if isinstance(a, Broadcast)]


def test_journal_round_trip_and_anything_else_reads_as_nothing(tmp_path: Path) -> None:
    journal = VoteJournal(tmp_path / "journal.rlp")
    assert journal.load(HEIGHT) is None
    record = HeightRecord(HEIGHT, [b"one", b"two"], 2, b"block", [b"p1", b"p2", b"p3"])
    journal.write(record)
    assert journal.load(HEIGHT) == record
    assert journal.load(HEIGHT + 1) is None  # a record is for one height only
    (tmp_path / "journal.rlp").write_bytes(b"\xff\x00 torn write")
    assert journal.load(HEIGHT) is None
    assert not (tmp_path / "journal.tmp").exists()


def test_a_restored_validator_keeps_its_prepared_block_and_never_votes_for_another(tmp_path: Path) -> None:
    order, key_of = validators()
    leader = key_of[proposer(order, HEIGHT, 0)]
    me = key_of[next(a for a in order if a != proposer(order, HEIGHT, 0))]
    block_x = block_for(HEIGHT, 0, leader.public_key.to_canonical_address())
    digest_x = keccak(block_x)
    first = instance_for(me, order)
    said = broadcasts(first.handle(sign(Message(Code.PROPOSAL, HEIGHT, 0, digest_x, block_x), leader)))
    prepares = [sign(Message(Code.PREPARE, HEIGHT, 0, digest_x), key_of[a]) for a in order if a != me]
    for prepare in prepares:
        said += broadcasts(first.handle(prepare))
    assert [m.message.code for m in said] == [Code.PREPARE, Code.COMMIT] and first.prepared is not None

    # What the engine journals, written and read back as after a power cut.
    journal = VoteJournal(tmp_path / "journal.rlp")
    prepared = first.prepared
    journal.write(
        HeightRecord(
            HEIGHT, [m.encode() for m in said], prepared.round, prepared.block, [p.encode() for p in prepared.prepares]
        )
    )
    saved = journal.load(HEIGHT)
    assert saved is not None

    restarted = instance_for(me, order)
    restarted.restore(
        [decode(raw) for raw in saved.said],
        PreparedCertificate(
            saved.prepared_round or 0, digest_x, saved.prepared_block, tuple(decode(p) for p in saved.prepares)
        ),
    )
    # The leader equivocates with another round-0 block: the restarted validator stays silent.
    block_y = block_for(HEIGHT, 0, leader.public_key.to_canonical_address(), b"other")
    other = sign(Message(Code.PROPOSAL, HEIGHT, 0, keccak(block_y), block_y), leader)
    assert broadcasts(restarted.handle(other)) == []
    # Its round change still reports X, with the PREPARE quorum that proves it.
    (round_change,) = broadcasts(restarted.timeout(0))
    assert round_change.message.code == Code.ROUND_CHANGE and round_change.message.digest == digest_x
    assert round_change_prepared(round_change.message) == PreparedClaim(0, block_x)
    assert len(round_change.message.justification) >= 3

    # Without the journal the same restart would have voted for Y: the test can fail.
    forgetful = instance_for(me, order)
    assert [m.message.code for m in broadcasts(forgetful.handle(other))] == [Code.PREPARE]
