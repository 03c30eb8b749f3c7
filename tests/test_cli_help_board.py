"""``takasago help-board``: the city's menu, limits, request list and moderation (issue 18), on the real node."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_utils import keccak

from tests.points import HELP_MODERATOR_ROLE, PointsSystem
from tests.test_cli_city import read, run
from tests.test_help_board import DISPUTED, RESOLVED, funded, post, status


def test_menu_and_limits_are_set_and_listed(points: PointsSystem, tmp_path: Path) -> None:
    listed = read(points, "help-board", "task-types")
    assert listed.exit_code == 0, listed.text
    assert "買い物 / shopping" in listed.text and "100–500" in listed.text
    assert "3 unfinished requests, 3,000 pt posted per month" in listed.text
    done = run(points, tmp_path, "help-board", "set-task-type", "10", "--min", "30", "--max", "90")
    assert done.exit_code == 0, done.text
    assert re.search(r"│ 10 │ type 10 *│ 30–90 *│ yes", read(points, "help-board", "task-types").text)
    refused = run(points, tmp_path, "help-board", "set-task-type", "64", "--min", "1", "--max", "2")
    assert refused.exit_code == 2 and "a number from 0 to 63" in refused.text
    backwards = run(points, tmp_path, "help-board", "set-task-type", "10", "--min", "90", "--max", "30")
    assert backwards.exit_code == 2 and "--min must not be above --max" in backwards.text
    limits = run(points, tmp_path, "help-board", "set-limits", "--max-open", "5", "--monthly-cap", "4000")
    assert limits.exit_code == 0, limits.text
    assert tuple(points.board.functions.limits().call()) == (5, 4000)
    run(points, tmp_path, "help-board", "set-limits", "--max-open", "3", "--monthly-cap", "3000")
    entries = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [e["command"] for e in entries if e["status"] == "done"] == [
        "help-board set-task-type",
        "help-board set-limits",
        "help-board set-limits",
    ]


def test_a_moderator_decides_a_dispute_and_takes_a_request_down(points: PointsSystem, tmp_path: Path) -> None:
    requester, helper = funded(points), funded(points, 0)
    disputed = post(points, requester, thanks=400, task=8)
    points.send(requester, points.board.functions.choose(disputed.id, helper.address))
    points.send(requester, points.board.functions.dispute(disputed.id, keccak(b"not done")))
    assert status(points, disputed.id) == DISPUTED
    listing = read(points, "help-board", "requests", "--status", "disputed")
    assert listing.exit_code == 0 and requester.address in listing.text and helper.address in listing.text
    points.send(points.admin, points.registry.functions.revokeRole(HELP_MODERATOR_ROLE, points.admin.address))
    denied = run(points, tmp_path, "help-board", "resolve", str(disputed.id), "--to-helper", "100",
                 "--decision", "half done")  # fmt: skip
    assert denied.exit_code != 0 and "HELP_MODERATOR_ROLE" in denied.text, denied.text
    run(points, tmp_path, "roles", "grant", "help-moderator", points.admin.address)
    too_much = run(points, tmp_path, "help-board", "resolve", str(disputed.id), "--to-helper", "401",
                   "--decision", "x")  # fmt: skip
    assert too_much.exit_code == 2 and "more than the request's thanks (400 pt)" in too_much.text
    decided = run(points, tmp_path, "help-board", "resolve", str(disputed.id), "--to-helper", "100",
                  "--decision", "一部のみ実施 / partly done")  # fmt: skip
    assert decided.exit_code == 0, decided.text
    assert status(points, disputed.id) == RESOLVED
    assert (points.balance(helper), points.balance(requester)) == (100, 1_900)
    again = run(points, tmp_path, "help-board", "resolve", str(disputed.id), "--to-helper", "0", "--decision", "x")
    assert again.exit_code == 2 and "is resolved, not disputed" in again.text

    unwanted = post(points, requester, thanks=200)
    removed = run(points, tmp_path, "help-board", "remove", str(unwanted.id), "--reason", "不適切な内容")
    assert removed.exit_code == 0, removed.text
    assert points.balance(requester) == 1_900
    missing = run(points, tmp_path, "help-board", "remove", "999999", "--reason", "x")
    assert missing.exit_code == 2 and "no help request 999999" in missing.text
    suspended = run(points, tmp_path, "help-board", "suspend", helper.address)
    assert suspended.exit_code == 0 and points.board.functions.isSuspended(helper.address).call()
    run(points, tmp_path, "help-board", "suspend", helper.address, "--readmit")
    assert not points.board.functions.isSuspended(helper.address).call()
    bad = run(points, tmp_path, "help-board", "suspend", "not-an-address")
    assert bad.exit_code == 2, bad.text
