"""The indexer's word-by-word event decoding gives exactly what ``eth_abi`` gives, and refuses what it refuses."""

from __future__ import annotations

import random

from eth_abi import encode

from contracts.predeploys import REGISTRY_ADDRESS
from indexer.decode import Decoder, EventSpec

CONTRACTS = ("AccountRegistry", "RegionalPoints", "RewardProgrammes", "OracleReports")


def sample(abi_type: str, rng: random.Random) -> object:
    if abi_type == "address":
        return "0x" + rng.randbytes(20).hex()
    if abi_type == "bool":
        return rng.random() < 0.5
    if abi_type.startswith("bytes"):
        return rng.randbytes(int(abi_type[5:]))
    bits = int(abi_type.lstrip("uint") or 256)
    if abi_type.startswith("uint"):
        return rng.choice([0, 1, (1 << bits) - 1, rng.getrandbits(bits)])
    return rng.choice(
        [0, -1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, rng.getrandbits(bits - 1) * rng.choice([1, -1])]
    )


def one_word_specs() -> list[EventSpec]:
    decoder = Decoder({name: REGISTRY_ADDRESS if name == "AccountRegistry" else "0x" + "11" * 20 for name in CONTRACTS})
    specs = [spec for spec in decoder.events.values() if spec._word_types is not None]
    assert len(specs) >= 10  # Transfer, Paid, AccountRegistered, ... take the fast path
    return specs


def test_word_decoding_matches_eth_abi_on_every_one_word_event() -> None:
    rng = random.Random(7)
    for spec in one_word_specs():
        indexed = [i for i in spec.inputs if i.get("indexed")]
        plain = [i for i in spec.inputs if not i.get("indexed")]
        for _ in range(20):
            topics = ["0x" + "ab" * 32] + ["0x" + encode([i["type"]], [sample(i["type"], rng)]).hex() for i in indexed]
            data = "0x" + encode([i["type"] for i in plain], [sample(i["type"], rng) for i in plain]).hex()
            fast = spec._decode_words(topics, data)
            assert fast is not None, spec.name
            assert fast == spec._decode_abi(topics, data), spec.name
            assert [type(v) for v in fast.values()] == [type(v) for v in spec._decode_abi(topics, data).values()]


def test_words_that_are_not_valid_encodings_fall_back_to_eth_abi() -> None:
    transfer = next(s for s in one_word_specs() if s.name == "Transfer" and s.contract == "RegionalPoints")
    dirty_address = "0x" + "01" + "00" * 11 + "22" * 20  # non-zero padding above the 160 bits
    topics = ["0x" + "ab" * 32, dirty_address, "0x" + "00" * 12 + "33" * 20]
    assert transfer._decode_words(topics, "0x" + "00" * 31 + "05") is None
    assert transfer._decode_words(topics[:2], "0x" + "00" * 31 + "05") is None  # a topic missing
    assert transfer._decode_words(["0x" + "ab" * 32, topics[2], topics[2]], "0x05") is None  # short data
