"""The account registry: kinds, statuses, roles, recovery — and the node obeying it."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger_client.transactions import TransactionFailed
from tests.points import (
    ACTIVE,
    CITY,
    ENROLLER_ROLE,
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
    receipt = points.recover(lost, replacement)
    (event,) = points.events(receipt, points.registry, "AccountRecovered")
    assert event["args"]["lostAccount"] == lost.address and event["args"]["newAccount"] == replacement.address
    assert points.registry.functions.accountOf(lost.address).call()[1] == REVOKED
    assert points.registry.functions.accountOf(replacement.address).call() == (RESIDENT, ACTIVE, record)
    assert points.registry.functions.successorOf(lost.address).call() == replacement.address
    assert points.registry.functions.recoveryOf(lost.address).call() == [ZERO_ADDRESS, 0]  # the announcement is used
    # Only residents and merchants are recovered; a registered address cannot be the successor.
    announce = points.registry.functions.announceRecovery
    points.reverts(points.admin, announce(points.admin.address, points.new_account().address), "NotRecoverable")
    merchant = points.merchant()
    points.reverts(points.admin, announce(merchant.address, replacement.address), "AccountAlreadyRegistered")
    points.reverts(points.admin, announce(merchant.address, merchant.address), "InvalidSuccessor")
    points.reverts(points.admin, announce(merchant.address, ZERO_ADDRESS), "InvalidSuccessor")


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
    points.recover(lost, first)
    error = points.reverts(
        points.admin,
        points.registry.functions.announceRecovery(lost.address, second.address),
        "AccountAlreadyRecovered",
    )
    assert error.args["successor"] == first.address
    # The first replacement phone is lost too, before the balance was moved.
    points.recover(first, second)
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


def test_finding15_service_key_cannot_recover_accounts(points: PointsSystem) -> None:
    """Issue 15, finding 15: the wallet service's online key holds ENROLLER_ROLE, which only
    registers new residents and merchants; recovery, balance moves, status and record
    changes need an officer's own key (REGISTRAR_ROLE)."""
    service = points.new_account()
    points.register(CITY, service)
    points.grant(ENROLLER_ROLE, service)
    assert points.registry.functions.ENROLLER_ROLE().call() == ENROLLER_ROLE
    registry, token = points.registry.functions, points.token.functions
    # What the wallet's approval does: register a verified resident (and merchant).
    resident, shop = points.new_account(), points.new_account()
    points.send(service, registry.register(resident.address, RESIDENT, keccak(text="record")))
    points.send(service, registry.registerBatch([shop.address], MERCHANT, [keccak(text="shop record")]))
    assert registry.accountOf(resident.address).call()[:2] == (RESIDENT, ACTIVE)
    assert registry.accountOf(shop.address).call()[:2] == (MERCHANT, ACTIVE)
    points.mint(resident, 500)
    thief = points.new_account()
    for fn in (
        registry.announceRecovery(resident.address, thief.address),
        registry.recover(resident.address, thief.address),
        registry.setStatus(resident.address, SUSPENDED),
        registry.setStatus(resident.address, REVOKED),
        registry.setRecordHash(resident.address, keccak(text="forged")),
        token.recoverBalance(resident.address),
    ):
        error = points.reverts(service, fn, "AccessControlUnauthorizedAccount")
        assert error.args["account"] == service.address and error.args["neededRole"] == REGISTRAR_ROLE
    points.reverts(service, registry.register(thief.address, CITY, keccak(text="x")), "KindRequiresAdmin")
    points.reverts(service, registry.grantRole(REGISTRAR_ROLE, service.address), "AccessControlUnauthorizedAccount")
    assert registry.accountOf(resident.address).call()[:2] == (RESIDENT, ACTIVE)
    assert registry.recoveryOf(resident.address).call() == [ZERO_ADDRESS, 0]
    assert points.balance(resident) == 500 and registry.accountOf(thief.address).call()[0] == 0


def test_finding15_recovery_takes_effect_only_after_its_announced_delay(points: PointsSystem) -> None:
    """An officer announces a recovery; it completes only once the delay (72 h by default)
    has passed, only to the announced address, and the account itself or another officer
    can cancel it meanwhile."""
    registry = points.registry.functions
    lost, new, other = points.resident(), points.new_account(), points.new_account()
    points.mint(lost, 300)
    assert registry.recoveryDelay().call() == 72 * 3600
    receipt = points.send(points.admin, registry.announceRecovery(lost.address, new.address))
    (announced,) = points.events(receipt, points.registry, "RecoveryAnnounced")
    executable_at = announced["args"]["executableAt"]
    assert executable_at == points.w3.eth.get_block(receipt["blockNumber"])["timestamp"] + 72 * 3600
    assert announced["args"]["officer"] == points.admin.address
    assert registry.recoveryOf(lost.address).call() == [new.address, executable_at]
    # Nothing has changed yet: the account still works, its holder can see and stop this.
    assert registry.accountOf(lost.address).call()[1] == ACTIVE and registry.accountOf(new.address).call()[0] == 0
    error = points.reverts(points.admin, registry.recover(lost.address, new.address), "RecoveryDelayNotElapsed")
    assert error.args["executableAt"] == executable_at
    points.reverts(points.admin, registry.recover(lost.address, other.address), "RecoveryNotAnnounced")
    points.reverts(points.admin, registry.announceRecovery(lost.address, other.address), "RecoveryAlreadyAnnounced")
    stranger = points.resident()
    points.reverts(stranger, registry.cancelRecovery(lost.address), "NotAllowedToCancel")
    # The account itself cancels; even after the delay the recovery can no longer complete.
    receipt = points.send(lost, registry.cancelRecovery(lost.address))
    (cancelled,) = points.events(receipt, points.registry, "RecoveryCancelled")
    assert (cancelled["args"]["newAccount"], cancelled["args"]["by"]) == (new.address, lost.address)
    points.mine_at(executable_at + 1)
    points.reverts(points.admin, registry.recover(lost.address, new.address), "RecoveryNotAnnounced")
    points.reverts(points.admin, registry.cancelRecovery(lost.address), "RecoveryNotAnnounced")
    # Announced again: refused one second before the delay ends, done at its end.
    receipt = points.send(points.admin, registry.announceRecovery(lost.address, new.address))
    _, executable_at = registry.recoveryOf(lost.address).call()
    points.mine_at(executable_at - 2)
    points.next_block_at(executable_at - 1)
    points.reverts(points.admin, registry.recover(lost.address, new.address), "RecoveryDelayNotElapsed")
    points.mine_at(executable_at)
    points.send(points.admin, registry.recover(lost.address, new.address))
    points.send(points.admin, points.token.functions.recoverBalance(lost.address))
    assert registry.accountOf(lost.address).call()[1] == REVOKED and points.balance(new) == 300


def test_recovery_delay_is_set_by_the_admin_within_bounds(fresh_points: PointsSystem) -> None:
    points = fresh_points
    registry = points.registry.functions
    officer = points.new_account()
    points.register(CITY, officer)
    points.grant(REGISTRAR_ROLE, officer)
    points.reverts(officer, registry.setRecoveryDelay(3600), "AccessControlUnauthorizedAccount")
    points.reverts(points.admin, registry.setRecoveryDelay(3599), "RecoveryDelayOutOfRange")
    points.reverts(points.admin, registry.setRecoveryDelay(30 * 86400 + 1), "RecoveryDelayOutOfRange")
    receipt = points.send(points.admin, registry.setRecoveryDelay(3600))
    assert points.events(receipt, points.registry, "RecoveryDelayChanged")[0]["args"]["delay"] == 3600
    assert registry.recoveryDelay().call() == 3600
    # Another officer cancels a recovery announced by the first.
    lost = points.resident()
    points.send(officer, registry.announceRecovery(lost.address, points.new_account().address))
    assert registry.recoveryOf(lost.address).call()[1] <= points.now() + 3600
    points.send(points.admin, registry.cancelRecovery(lost.address))
    assert registry.recoveryOf(lost.address).call() == [ZERO_ADDRESS, 0]
