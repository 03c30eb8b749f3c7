"""schemathesis over every wallet API operation: generated and mutated requests never get a 5xx.

Runs against the real server process, the real node and SQLite, as a verified resident, a verified
merchant, a business (法人) the city approved, a city officer and a help coordinator in turn (and
without a token), so the generated requests reach the handlers rather than stopping at authentication.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.points import PointsSystem
from tests.wallet_support import WalletServer, approved_business, coordinator, member, officer, running_wallet

EXAMPLES_PER_OPERATION = 12
STATUSES: dict[int, int] = {}
SKIP = {
    "GET /v1/payment-requests/{request_pk}/events",  # a stream; covered by test_wallet_api
    "POST /v1/auth/logout",  # would log the fuzzing users out; covered by test_wallet_api
}


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    directory = tmp_path_factory.mktemp("wallet-fuzz")
    env = {"TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_IP": "100000", "TAKASAGO_WALLET_CONFIRM_WAIT_SECONDS": "1"}
    yield from running_wallet(points, directory, "sqlite", **env)


def test_no_operation_answers_with_a_server_error(wallet: WalletServer) -> None:
    schema = schemathesis.openapi.from_url(wallet.url + "/openapi.json")
    resident = member(wallet, points=100_000)
    shop = member(wallet, "merchant")
    city = officer(wallet)
    helpdesk = coordinator(wallet)  # 社協: reaches the coordinator routes as their own role
    firm = approved_business(wallet, "高砂運輸株式会社")  # issue 21: the business routes as a business
    tokens = [f"Bearer {api.token}" for api in (resident, shop, firm, city, helpdesk)] + [None]
    failures: list[str] = []
    calls = [0]

    def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
        """Runs generated cases of one operation in one mode; records any 5xx."""

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode), who=st.sampled_from(tokens))
        def run(case: schemathesis.Case, who: str | None) -> None:
            headers = {"Authorization": who} if who else {}
            headers["Idempotency-Key"] = f"fuzz-{calls[0]}"
            response = case.call(base_url=wallet.url, headers=headers, timeout=30)
            calls[0] += 1
            STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{operation.label} ({mode.value}): {response.status_code} {response.text[:300]}")

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid in this operation (negative mode)
            assert mode is GenerationMode.NEGATIVE

    operations = [r.ok() for r in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        if operation.label not in SKIP:
            fuzz(operation, mode)
    print("statuses:", dict(sorted(STATUSES.items())))
    assert calls[0] > 300 and sum(n for code, n in STATUSES.items() if code < 300) > 20
    assert not failures, "\n".join(failures[:20])
