"""The account registry: kinds, statuses, roles, recovery — and the node obeying it."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from contracts.transactions import TransactionFailed
from tests.points import (
    ACTIVE,
    CITY,
    MERCHANT,
    MINTER_ROLE,
    ORACLE,
    REGISTRAR_ROLE,
    RESIDENT,
    REVOKED,
    SUSPENDED,
    VALIDATOR,
    PointsSystem,
)

ZERO_ADDRESS = "0x" + "00" * 20


def test_registrar_registers_residents_and_merchants_with_a_record_hash_only(points: PointsSystem) -> None:
    officer, resident = points.new_account(), points.new_account()
    points.register(CITY, officer)
    points.grant(REGISTRAR_ROLE, officer)
    record = keccak(text="resident record #1 (kept off-chain)")
    receipt = points.send(officer, points.registry.functions.register(resident.address, RESIDENT, record))
    (event,) = points.events(receipt, points.registry, "AccountRegistered")
    assert event["args"]["kind"] == RESIDENT and event["args"]["recordHash"] == record
    assert points.registry.functions.accountOf(resident.address).call() == (RESIDENT, ACTIVE, record)
    assert points.registry.functions.isAllowed(resident.address).call()


def test_registrar_cannot_register_privileged_kinds(points: PointsSystem) -> None:
    officer = points.new_account()
    points.register(CITY, officer)
    points.grant(REGISTRAR_ROLE, officer)
    for kind in (CITY, ORACLE, VALIDATOR):
        error = points.reverts(
            officer,
            points.registry.functions.register(points.new_account().address, kind, b"\0" * 32),
            "KindRequiresAdmin",
        )
        assert error.args["kind"] == kind


def test_resident_cannot_register_anyone(points: PointsSystem) -> None:
    resident = points.resident()
    error = points.reverts(
        resident,
        points.registry.functions.register(points.new_account().address, RESIDENT, b"\0" * 32),
        "AccessControlUnauthorizedAccount",
    )
    assert error.args["neededRole"] == REGISTRAR_ROLE


def test_register_twice_and_bad_input_are_refused(points: PointsSystem) -> None:
    resident = points.resident()
    points.reverts(
        points.admin,
        points.registry.functions.register(resident.address, RESIDENT, b"\0" * 32),
        "AccountAlreadyRegistered",
    )
    points.reverts(
        points.admin, points.registry.functions.register("0x" + "00" * 20, RESIDENT, b"\0" * 32), "InvalidAccount"
    )
    points.reverts(
        points.admin,
        points.registry.functions.register(points.new_account().address, 0, b"\0" * 32),
        "InvalidAccount",
    )


def test_register_batch_is_idempotent_and_refuses_conflicts(points: PointsSystem) -> None:
    accounts = [points.new_account().address for _ in range(5)]
    hashes = [keccak(text=f"row {i}") for i in range(5)]
    fn = points.registry.functions.registerBatch(accounts, RESIDENT, hashes)
    first = points.send(points.admin, fn)
    assert len(points.events(first, points.registry, "AccountRegistered")) == 5
    again = points.send(points.admin, fn)
    assert points.events(again, points.registry, "AccountRegistered") == []
    changed = hashes[:4] + [keccak(text="other")]
    points.reverts(
        points.admin, points.registry.functions.registerBatch(accounts, RESIDENT, changed), "AccountAlreadyRegistered"
    )
    points.reverts(
        points.admin, points.registry.functions.registerBatch(accounts, RESIDENT, hashes[:2]), "LengthMismatch"
    )


def test_suspension_blocks_transactions_at_the_node_and_reactivation_restores_them(points: PointsSystem) -> None:
    resident = points.resident()
    other = points.resident()
    points.mint(resident, 100)
    points.send(points.admin, points.registry.functions.setStatus(resident.address, SUSPENDED))
    # The contract refuses (as estimateGas shows) and the node refuses to even admit the transaction.
    fn = points.token.functions.thank(other.address, 10, b"help".ljust(32, b"\0"), b"\0" * 32)
    points.reverts(resident, fn, "AccountNotActive")
    with pytest.raises(TransactionFailed) as info:
        points.sender(resident).submit(fn.address, bytes.fromhex(fn._encode_transaction_data()[2:]), gas=200_000)
    assert "not permitted" in str(info.value) or "allowlist" in str(info.value), str(info.value)
    # Points cannot reach a suspended account either.
    error = points.reverts(
        other, points.token.functions.thank(resident.address, 1, b"h".ljust(32, b"\0"), b"\0" * 32), "AccountNotActive"
    )
    assert error.args["status"] == SUSPENDED
    points.send(points.admin, points.registry.functions.setStatus(resident.address, ACTIVE))
    points.thank(resident, other, 10)
    assert points.balance(other) == 10


def test_revoked_is_final(points: PointsSystem) -> None:
    resident = points.resident()
    points.send(points.admin, points.registry.functions.setStatus(resident.address, REVOKED))
    points.reverts(points.admin, points.registry.functions.setStatus(resident.address, ACTIVE), "AccountIsRevoked")
    points.reverts(
        points.admin, points.registry.functions.setStatus(points.new_account().address, ACTIVE), "AccountNotRegistered"
    )


def test_recover_registers_successor_with_same_kind_and_record(points: PointsSystem) -> None:
    lost, replacement = points.resident(), points.new_account()
    record = points.registry.functions.accountOf(lost.address).call()[2]
    receipt = points.send(points.admin, points.registry.functions.recover(lost.address, replacement.address))
    (event,) = points.events(receipt, points.registry, "AccountRecovered")
    assert event["args"]["lostAccount"] == lost.address and event["args"]["newAccount"] == replacement.address
    assert points.registry.functions.accountOf(lost.address).call()[1] == REVOKED
    assert points.registry.functions.accountOf(replacement.address).call() == (RESIDENT, ACTIVE, record)
    assert points.registry.functions.successorOf(lost.address).call() == replacement.address
    # Only residents and merchants are recovered; a registered address cannot be the successor.
    points.reverts(
        points.admin,
        points.registry.functions.recover(points.admin.address, points.new_account().address),
        "NotRecoverable",
    )
    merchant = points.merchant()
    points.reverts(
        points.admin,
        points.registry.functions.recover(merchant.address, replacement.address),
        "AccountAlreadyRegistered",
    )


def test_record_hash_can_be_corrected_with_an_event(points: PointsSystem) -> None:
    resident = points.resident()
    new_hash = keccak(text="corrected record")
    receipt = points.send(points.admin, points.registry.functions.setRecordHash(resident.address, new_hash))
    (event,) = points.events(receipt, points.registry, "RecordHashChanged")
    assert event["args"]["newHash"] == new_hash
    assert points.registry.functions.accountOf(resident.address).call()[2] == new_hash


def test_roles_are_granted_by_the_admin_only(points: PointsSystem) -> None:
    resident = points.resident()
    points.reverts(
        resident, points.registry.functions.grantRole(MINTER_ROLE, resident.address), "AccessControlUnauthorizedAccount"
    )
    assert not points.registry.functions.hasRole(MINTER_ROLE, resident.address).call()


def test_active_kinds_view_reports_none_for_inactive_accounts(points: PointsSystem) -> None:
    resident, merchant = points.resident(), points.merchant()
    assert points.registry.functions.activeKindsOf(resident.address, merchant.address).call() == [RESIDENT, MERCHANT]
    points.send(points.admin, points.registry.functions.setStatus(merchant.address, SUSPENDED))
    assert points.registry.functions.activeKindsOf(resident.address, merchant.address).call() == [RESIDENT, 0]
    assert points.registry.functions.activeKindsOfBatch([resident.address, merchant.address]).call() == [RESIDENT, 0]


def test_the_validator_set_changes_only_by_a_majority_vote_of_the_validators(fresh_points: PointsSystem) -> None:
    points = fresh_points
    registry = points.registry.functions
    validator = Account.from_key(points.node.dev_keys["validator"]["privateKey"])
    assert registry.validators().call() == [validator.address] == registry.getValidators().call()
    resident, newcomer = points.resident(), points.new_account()
    points.reverts(resident, registry.voteValidator(newcomer.address, True), "NotAValidator")
    points.reverts(points.admin, registry.voteValidator(newcomer.address, True), "NotAValidator")
    points.reverts(validator, registry.voteValidator(validator.address, True), "NoValidatorChange")
    points.reverts(validator, registry.voteValidator(validator.address, False), "NoValidatorChange")  # the last one
    points.reverts(validator, registry.voteValidator(ZERO_ADDRESS, True), "NoValidatorChange")

    receipt = points.send(validator, registry.voteValidator(newcomer.address, True))  # 1 of 1: decided
    vote = points.events(receipt, points.registry, "ValidatorVoteCast")[0]["args"]
    assert (vote["voter"], vote["candidate"], vote["add"], vote["votes"], vote["needed"]) == (
        validator.address, newcomer.address, True, 1, 1,
    )  # fmt: skip
    changed = [validator.address, newcomer.address]
    assert points.events(receipt, points.registry, "ValidatorsChanged")[0]["args"]["validators"] == changed
    assert registry.validators().call() == changed
    assert registry.accountOf(newcomer.address).call()[:2] == (VALIDATOR, ACTIVE)
    # Takes effect from the next block: its header lists the new set (this node still seals alone).
    after = points.send(points.admin, registry.setStatus(resident.address, SUSPENDED))
    header_set = points.w3.provider.make_request("qbft_getValidatorsByBlockNumber", [hex(after["blockNumber"])])
    assert header_set["result"] == changed
    assert points.w3.provider.make_request("qbft_getValidatorsByBlockNumber", [hex(receipt["blockNumber"])])[
        "result"
    ] == [validator.address]

    # Removing now needs 2 of 2; one vote is recorded, a repeat is refused, the second decides.
    receipt = points.send(validator, registry.voteValidator(newcomer.address, False))
    assert not points.events(receipt, points.registry, "ValidatorsChanged")
    assert registry.validatorVotes(newcomer.address, False).call() == [1, 2]
    points.reverts(validator, registry.voteValidator(newcomer.address, False), "ValidatorVoteAlreadyCast")
    points.send(newcomer, registry.voteValidator(newcomer.address, False))
    assert registry.validators().call() == [validator.address]
    assert registry.validatorVotes(newcomer.address, False).call() == [0, 1]  # a new round of voting


def test_an_account_is_recovered_once_and_a_lost_successor_is_recovered_in_turn(points: PointsSystem) -> None:
    lost, first, second = points.resident(), points.new_account(), points.new_account()
    points.mint(lost, 70)
    points.send(points.admin, points.registry.functions.recover(lost.address, first.address))
    error = points.reverts(
        points.admin, points.registry.functions.recover(lost.address, second.address), "AccountAlreadyRecovered"
    )
    assert error.args["successor"] == first.address
    # The first replacement phone is lost too, before the balance was moved.
    points.send(points.admin, points.registry.functions.recover(first.address, second.address))
    receipt = points.send(points.admin, points.token.functions.recoverBalance(lost.address))
    assert points.events(receipt, points.token, "BalanceRecovered")[0]["args"]["newAccount"] == second.address
    assert points.balance(second) == 70


def test_registrars_cannot_change_records_of_privileged_accounts(points: PointsSystem) -> None:
    officer = points.new_account()
    points.register(CITY, officer)
    points.grant(REGISTRAR_ROLE, officer)
    points.reverts(
        officer, points.registry.functions.setRecordHash(points.admin.address, keccak(text="x")), "KindRequiresAdmin"
    )
    points.reverts(
        officer,
        points.registry.functions.setRecordHash(points.new_account().address, keccak(text="x")),
        "AccountNotRegistered",
    )
