"""The token's copy of the registry's account kinds (the kinds mirror): pushed by the registry with
every change, trusted only under the registry's present link, and never a different answer."""

from __future__ import annotations

from eth_utils import keccak

from contracts.deploy import deploy
from tests.points import (
    MERCHANT,
    RESIDENT,
    REVOKED,
    SUSPENDED,
    PointsSystem,
    text32,
)

ACTIVE = 1
NONE_KIND, BUSINESS = 0, 6
ZERO_ADDRESS = "0x" + "00" * 20


def mirrored(p: PointsSystem, account: object) -> tuple[int, bool]:
    address = account if isinstance(account, str) else account.address  # type: ignore[attr-defined]
    kind, current = p.token.functions.mirroredKindOf(address).call()
    return int(kind), bool(current)


def test_deploy_links_the_token_and_the_registry_pushes_every_change(points: PointsSystem) -> None:
    p = points
    assert p.registry.functions.kindsMirror().call() == p.token.address
    assert p.token.functions.kindsMirrorLinked().call()
    resident, shop = p.resident(), p.merchant()
    firm = p.new_account()
    p.register(BUSINESS, firm)
    assert mirrored(p, resident) == (RESIDENT, True)
    assert mirrored(p, shop) == (MERCHANT, True)
    assert mirrored(p, firm) == (BUSINESS, True)
    # The batch registration reaches the token in one push.
    batch = [p.new_account().address for _ in range(3)]
    p.send(p.admin, p.registry.functions.registerBatch(batch, RESIDENT, [b"\0" * 32] * 3))
    assert all(mirrored(p, a) == (RESIDENT, True) for a in batch)
    # A shop's copy sits beside its ledger: suspending it keeps the ledger, and the copy follows.
    p.mint(resident, 300)
    p.pay(resident, shop, 120)
    ledger = p.token.functions.merchantLedgerOf(shop.address).call()
    p.send(p.admin, p.registry.functions.setStatus(shop.address, SUSPENDED))
    assert mirrored(p, shop) == (NONE_KIND, True)
    assert p.token.functions.merchantLedgerOf(shop.address).call() == ledger
    error = p.reverts(resident, p.token.functions.pay(shop.address, 10, b"\x01" * 32), "AccountNotActive")
    assert error.args["status"] == SUSPENDED
    p.send(p.admin, p.registry.functions.setStatus(shop.address, ACTIVE))
    assert mirrored(p, shop) == (MERCHANT, True)
    assert p.token.functions.merchantLedgerOf(shop.address).call() == ledger
    p.pay(resident, shop, 10)
    # Recovery: the lost account is no longer active; its successor is, with the same kind.
    successor = p.new_account()
    p.recover(resident, successor)
    assert mirrored(p, resident) == (NONE_KIND, True)
    assert mirrored(p, successor) == (RESIDENT, True)
    p.send(p.admin, p.token.functions.recoverBalance(resident.address))
    assert p.balance(successor) == 300 - 120 - 10
    error = p.reverts(resident, p.token.functions.transfer(shop.address, 1), "AccountNotActive")
    assert error.args["status"] == REVOKED


def test_only_the_registry_pushes_kinds_or_links_the_copy(points: PointsSystem) -> None:
    p = points
    stranger = p.new_account()
    for fn in (
        p.token.functions.mirrorKinds([stranger.address], RESIDENT),
        p.token.functions.onKindsMirrorLinked(False),
    ):
        error = p.reverts(p.admin, fn, "NotRegistry")
        assert error.args["caller"] == p.admin.address
    assert mirrored(p, stranger) == (NONE_KIND, False)
    resident = p.resident()
    error = p.reverts(resident, p.registry.functions.setKindsMirror(ZERO_ADDRESS), "AccessControlUnauthorizedAccount")
    assert error.args["neededRole"] == b"\0" * 32
    # syncKinds is anyone's, but copies only what the registry says, and only active accounts.
    suspended = p.resident()
    p.send(p.admin, p.registry.functions.setStatus(suspended.address, SUSPENDED))
    p.send(resident, p.token.functions.syncKinds([stranger.address, resident.address, suspended.address]))
    assert mirrored(p, stranger) == (NONE_KIND, False)
    assert mirrored(p, resident) == (RESIDENT, True)
    assert mirrored(p, suspended) == (NONE_KIND, True)  # pushed by the suspension itself


def test_an_unlinked_or_relinked_token_asks_the_registry_until_copied(fresh_points: PointsSystem) -> None:
    """A chain upgraded in place: accounts registered while the registry pushed nothing have no
    current copy; the token asks the registry for them (same answers, same refusals), and
    ``takasago deploy`` links the mirror and copies every registered account."""
    p = fresh_points
    token = p.token.functions
    early, shop = p.resident(), p.merchant()
    p.mint(early, 500)
    receipt = p.send(p.admin, p.registry.functions.setKindsMirror(ZERO_ADDRESS))
    (changed,) = p.events(receipt, p.registry, "KindsMirrorChanged")
    assert changed["args"]["previous"] == p.token.address and changed["args"]["mirror"] == ZERO_ADDRESS
    (linked,) = p.events(receipt, p.token, "KindsMirrorLinked")
    assert linked["args"]["link"] == 0 and not token.kindsMirrorLinked().call()
    p.reverts(p.admin, token.syncKinds([early.address]), "KindsMirrorNotLinked")
    # Unlinked: nothing is pushed, every movement asks the registry.
    late, suspended = p.resident(), p.resident()
    p.mint(late, 200)
    p.send(p.admin, p.registry.functions.setStatus(suspended.address, SUSPENDED))
    assert mirrored(p, late) == (NONE_KIND, False) and mirrored(p, early) == (RESIDENT, False)
    p.pay(late, shop, 50)
    p.thank(early, late, 20)
    p.reverts(p.admin, token.mint(suspended.address, 5, p.current_month()), "AccountNotActive")
    p.reverts(early, token.thank(shop.address, 5, text32("help"), keccak(b"m")), "TransferNotPermitted")
    # Relinked: a new link, under which the copies made before do not count.
    receipt = p.send(p.admin, p.registry.functions.setKindsMirror(p.token.address))
    (linked,) = p.events(receipt, p.token, "KindsMirrorLinked")
    assert linked["args"]["link"] == 2  # deploy made link 1
    assert mirrored(p, early) == (RESIDENT, False) and mirrored(p, shop) == (MERCHANT, False)
    p.send(p.admin, p.registry.functions.setStatus(early.address, SUSPENDED))  # pushed under link 2
    assert mirrored(p, early) == (NONE_KIND, True)
    p.reverts(early, token.pay(shop.address, 10, b"\x02" * 32), "AccountNotActive")
    p.send(p.admin, p.registry.functions.setStatus(early.address, ACTIVE))
    p.pay(early, shop, 10)  # early's copy is current, the shop's is not: asked of the registry
    assert p.balance(early) == 500 - 20 - 10
    # takasago deploy: already linked, so it leaves the copy alone; unlinked, it links and copies.
    p.send(p.admin, p.registry.functions.setKindsMirror(ZERO_ADDRESS))
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir)
    (action,) = [a for a in report.actions if "kinds mirror" in a]
    assert action.startswith("linked the registry's kinds mirror to the token")
    assert token.kindsMirrorLinked().call()
    for account, kind in ((early, RESIDENT), (late, RESIDENT), (shop, MERCHANT)):
        assert mirrored(p, account) == (kind, True)
    assert mirrored(p, suspended) == (NONE_KIND, False)  # inactive: not copied, refused through the registry
    p.reverts(p.admin, token.mint(suspended.address, 5, p.current_month()), "AccountNotActive")
    assert deploy(p.w3, p.sender(p.admin), p.deployments_dir).actions == []
