"""Stateful property test of the help board's escrow (issue 18) against the real node.

A hypothesis :class:`RuleBasedStateMachine` drives random sequences of posts, withdrawals,
choices, completions (by the requester and, refused, by others), cancellations, helpers
stepping back, expiries, disputes and the city's decisions and takedowns, with the chain's
clock jumping past windows, as real transactions on one dev node. A Python model predicts
each outcome (success, or the custom error it must be refused with) and every balance.

After every step the chain must agree with the model and the issue's invariants must hold:
the board's escrow total equals the sum of the thanks of the unfinished requests, and each
of those requests' escrow address holds exactly its thanks (finished ones hold nothing); a
request pays out at most once and only to its chosen helper (the residents' balances match
the model's, and residents plus escrows always hold every point minted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.points import HELP_MODERATOR_ROLE, PointsSystem

OPEN, MATCHED, COMPLETED, WITHDRAWN, CANCELLED, EXPIRED, DISPUTED, RESOLVED, REMOVED = range(1, 10)
UNFINISHED = (OPEN, MATCHED, DISPUTED)
OTHER_TASK = 8  # thanks 50..1,000 in the default menu
HOUR = 3600
RESIDENTS = 4
MINTED = 1_500
MAX_OPEN, MONTHLY_CAP = 3, 3_000  # DeploySettings' defaults


@dataclass
class Model:
    requester: int
    thanks: int
    starts: int
    ends: int
    escrow: str
    status: int = OPEN
    helper: int | None = None


def make_machine(points: PointsSystem) -> type[RuleBasedStateMachine]:
    board, token = points.board, points.token
    points.grant(HELP_MODERATOR_ROLE, points.admin)

    class Escrow(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            month = points.current_month() + 12  # never expires during a run
            self.people: list[LocalAccount] = []
            for _ in range(RESIDENTS):
                resident = points.resident()
                points.mint(resident, MINTED, month)
                self.people.append(resident)
            self.balances = [MINTED] * RESIDENTS
            self.requests: dict[int, Model] = {}
            self.posted: dict[tuple[int, int], int] = {}  # (resident, month) -> thanks posted
            self.start_totals = board.functions.totals().call()

        # -- helpers ------------------------------------------------------------------
        def ids(self, statuses: tuple[int, ...]) -> list[int]:
            return sorted(i for i, r in self.requests.items() if r.status in statuses)

        def pick(self, data: Any, statuses: tuple[int, ...]) -> int:
            return data.draw(st.sampled_from(self.ids(statuses)))

        def refused(self, who: int | LocalAccount, fn: Any, error: str) -> None:
            account = who if isinstance(who, LocalAccount) else self.people[who]
            points.reverts(account, fn, error)

        def ok(self, who: int | LocalAccount, fn: Any) -> Any:
            account = who if isinstance(who, LocalAccount) else self.people[who]
            return points.send(account, fn)

        def unfinished_of(self, person: int) -> int:
            return sum(1 for r in self.requests.values() if r.requester == person and r.status in UNFINISHED)

        def give_back(self, request: Model, status: int) -> None:
            request.status = status
            self.balances[request.requester] += request.thanks

        # -- rules --------------------------------------------------------------------
        @rule(
            who=st.integers(0, RESIDENTS - 1),
            thanks=st.integers(50, 700),
            started=st.booleans(),
        )
        def post(self, who: int, thanks: int, started: bool) -> None:
            now = points.now()
            starts, ends = (now - 60 if started else now + HOUR), now + 2 * HOUR
            fn = board.functions.post(OTHER_TASK, thanks, starts, ends, keccak(b"details"))
            month = points.current_month()
            posted = self.posted.get((who, month), 0)
            if self.unfinished_of(who) >= MAX_OPEN:
                self.refused(who, fn, "TooManyOpenRequests")
            elif posted + thanks > MONTHLY_CAP:
                self.refused(who, fn, "MonthlyCapReached")
            elif thanks > self.balances[who]:
                self.refused(who, fn, "InsufficientUnexpiredBalance")
            else:
                receipt = self.ok(who, fn)
                (event,) = points.events(receipt, board, "RequestPosted")
                request_id = int(event["args"]["id"])
                escrow = token.functions.escrowAddress(board.address, request_id.to_bytes(32, "big")).call()
                self.requests[request_id] = Model(who, thanks, starts, ends, escrow)
                self.posted[(who, month)] = posted + thanks
                self.balances[who] -= thanks

        @precondition(lambda self: self.ids(UNFINISHED))
        @rule(data=st.data(), by_requester=st.booleans())
        def withdraw(self, data: Any, by_requester: bool) -> None:
            request_id = self.pick(data, UNFINISHED)
            request = self.requests[request_id]
            fn = board.functions.withdraw(request_id)
            if not by_requester:
                self.refused((request.requester + 1) % RESIDENTS, fn, "NotRequester")
            elif request.status != OPEN:
                self.refused(request.requester, fn, "WrongStatus")
            else:
                self.ok(request.requester, fn)
                self.give_back(request, WITHDRAWN)

        @precondition(lambda self: self.ids((OPEN,)))
        @rule(data=st.data(), helper=st.integers(0, RESIDENTS - 1))
        def choose(self, data: Any, helper: int) -> None:
            request_id = self.pick(data, (OPEN,))
            request = self.requests[request_id]
            fn = board.functions.choose(request_id, self.people[helper].address)
            if points.now() + 1 >= request.ends:
                self.refused(request.requester, fn, "WindowOver")
            elif helper == request.requester:
                self.refused(request.requester, fn, "CannotHelpYourself")
            else:
                self.ok(request.requester, fn)
                request.status, request.helper = MATCHED, helper

        @precondition(lambda self: self.ids(UNFINISHED))
        @rule(data=st.data(), by=st.sampled_from(["requester", "helper", "stranger"]))
        def complete(self, data: Any, by: str) -> None:
            request_id = self.pick(data, UNFINISHED)
            request = self.requests[request_id]
            fn = board.functions.complete(request_id)
            if by != "requester":
                who = (
                    request.helper
                    if by == "helper" and request.helper is not None
                    else (request.requester + 1) % RESIDENTS
                )
                if who == request.requester:
                    who = (who + 1) % RESIDENTS
                self.refused(who, fn, "NotRequester")
            elif request.status != MATCHED:
                self.refused(request.requester, fn, "WrongStatus")
            else:
                self.ok(request.requester, fn)
                assert request.helper is not None
                request.status = COMPLETED
                self.balances[request.helper] += request.thanks

        @precondition(lambda self: self.ids((MATCHED,)))
        @rule(data=st.data())
        def cancel(self, data: Any) -> None:
            request_id = self.pick(data, (MATCHED,))
            request = self.requests[request_id]
            fn = board.functions.cancel(request_id)
            if points.now() + 1 >= request.starts:
                self.refused(request.requester, fn, "TooLateToCancel")
            else:
                self.ok(request.requester, fn)
                self.give_back(request, CANCELLED)

        @precondition(lambda self: self.ids((MATCHED,)))
        @rule(data=st.data())
        def step_back(self, data: Any) -> None:
            request_id = self.pick(data, (MATCHED,))
            request = self.requests[request_id]
            assert request.helper is not None
            self.ok(request.helper, board.functions.stepBack(request_id))
            request.helper = None
            if points.now() >= request.ends:
                self.give_back(request, EXPIRED)
            else:
                request.status = OPEN

        @precondition(lambda self: self.ids((OPEN,)))
        @rule(data=st.data())
        def expire(self, data: Any) -> None:
            request_id = self.pick(data, (OPEN,))
            request = self.requests[request_id]
            fn = board.functions.expire(request_id)
            if points.now() + 1 < request.ends:
                self.refused(points.admin, fn, "NotExpiredYet")
            else:
                self.ok(points.admin, fn)  # anyone may
                self.give_back(request, EXPIRED)

        @precondition(lambda self: self.ids((MATCHED,)))
        @rule(data=st.data(), by_helper=st.booleans())
        def dispute(self, data: Any, by_helper: bool) -> None:
            request_id = self.pick(data, (MATCHED,))
            request = self.requests[request_id]
            assert request.helper is not None
            self.ok(request.helper if by_helper else request.requester, board.functions.dispute(request_id, b"\0" * 32))
            request.status = DISPUTED

        @precondition(lambda self: self.ids((DISPUTED,)))
        @rule(data=st.data(), share=st.integers(0, 4))
        def resolve(self, data: Any, share: int) -> None:
            request_id = self.pick(data, (DISPUTED,))
            request = self.requests[request_id]
            assert request.helper is not None
            to_helper = request.thanks * share // 4
            self.ok(points.admin, board.functions.resolve(request_id, to_helper, keccak(b"decision")))
            request.status = RESOLVED
            self.balances[request.helper] += to_helper
            self.balances[request.requester] += request.thanks - to_helper

        @precondition(lambda self: self.ids((OPEN, MATCHED)))
        @rule(data=st.data())
        def remove(self, data: Any) -> None:
            request_id = self.pick(data, (OPEN, MATCHED))
            self.ok(points.admin, board.functions.remove(request_id, keccak(b"moderation")))
            self.give_back(self.requests[request_id], REMOVED)

        @rule()
        def time_passes(self) -> None:
            points.mine_at(points.now() + 2 * HOUR + 1)  # every window posted so far is over

        # -- invariants ---------------------------------------------------------------
        @invariant()
        def escrow_matches_the_unfinished_requests(self) -> None:
            if not hasattr(self, "requests"):
                return
            escrowed, paid, returned = board.functions.totals().call()
            held = sum(r.thanks for r in self.requests.values() if r.status in UNFINISHED)
            base_escrowed, base_paid, base_returned = self.start_totals
            assert escrowed - base_escrowed == held
            finished = sum(r.thanks for r in self.requests.values() if r.status not in UNFINISHED)
            assert (paid - base_paid) + (returned - base_returned) == finished
            in_escrows = 0
            for request_id, request in self.requests.items():
                balance = points.balance(request.escrow)
                assert balance == (request.thanks if request.status in UNFINISHED else 0), request_id
                assert int(board.functions.requestOf(request_id).call()[2]) == request.status
                in_escrows += balance
            balances = [points.balance(p) for p in self.people]
            assert balances == self.balances
            assert sum(balances) + in_escrows == MINTED * RESIDENTS

    return Escrow


def test_help_board_escrow_invariants(fresh_points: PointsSystem) -> None:
    machine = make_machine(fresh_points)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
