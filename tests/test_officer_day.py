"""An officer's working day (issue 20) through the wallet API and the CLI, on SQLite and PostgreSQL, over the real node.

The desk lists accounts by status with member code, address and name (each opening audited),
searches by member code, rejects with a reason the applicant is told, approves, suspends in the
wallet at once (showing the registrar's command, as the service key holds no REGISTRAR), reactivates
and unlocks, every action on the counter's log with the officer. Minting without hand-copied
addresses: ``wallet export-accounts`` feeds ``mint --members`` (a member code in place of an
address), and ``wallet match-register`` turns a cp932 resident register extract into a mint file
for "every household with a child under 6" without printing a name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak
from sqlalchemy import create_engine, text

from tests.conftest import REPO
from tests.points import PointsSystem
from tests.wallet_support import PASSWORD, Api, WalletServer, officer, shared_points, shared_wallet

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallet

REGISTRAR = keccak(text="REGISTRAR_ROLE")


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def person(server: WalletServer, name: str, born: str, address: str = "兵庫県高砂市荒井町千鳥1-1-1") -> Api:
    """A sign-up (pending) under this name and birth date."""
    login = "day-" + keccak(text=name + born + str(id(server))).hex()[:10]
    body = {"login": login, "password": PASSWORD, "role": "resident", "full_name": name,
            "postal_address": address, "date_of_birth": born, "display_name": None}  # fmt: skip
    response = httpx.post(server.url + "/v1/auth/signup", json=body, timeout=30)
    assert response.status_code == 201, response.text
    api = Api(server, login)
    api.info = response.json()
    assert api.login().status_code == 200
    return api


def verified(server: WalletServer, desk: Api, name: str, born: str) -> Api:
    api = person(server, name, born)
    response = desk.post(f"/v1/officer/accounts/{api.info['id']}/approve", {"reason": "運転免許証で確認"})
    assert response.status_code == 200, response.text
    for _ in range(60):
        if api.me()["status"] == "active":
            break
    api.info.update(api.me())
    assert api.info["status"] == "active"
    return api


def sql(server: WalletServer, query: str, **params: Any) -> list[Any]:
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as db:
            result = db.execute(text(query), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def members(desk: Api, status: str, **params: str) -> list[dict[str, Any]]:
    response = desk.get("/v1/officer/members", params={"status": status, "limit": "200", **params})
    assert response.status_code == 200, response.text
    return list(response.json())


def test_desk_lists_decides_suspends_and_unlocks(wallet: WalletServer) -> None:
    desk = officer(wallet)
    assert desk.me()["display_name"] == "Officer One"
    a = person(wallet, "日程 一郎", "1970-01-02")
    b = person(wallet, "日程 二郎", "1971-03-04")

    pending = members(desk, "pending", reason="本人確認")
    ids = [m["id"] for m in pending]
    assert ids.index(a.info["id"]) < ids.index(b.info["id"])  # oldest first: a stable order
    row_b = next(m for m in pending if m["id"] == b.info["id"])
    assert row_b["name"] == "日程 二郎" and row_b["date_of_birth"] == "1971-03-04"
    assert row_b["address"].startswith("0x") and row_b["short_code"] == b.me()["short_code"]
    found = members(desk, "pending", code=row_b["short_code"][:5].lower())
    assert [m["id"] for m in found] == [b.info["id"]]
    assert members(desk, "pending", code="ZZZZZZZZ") == []
    # the listings are audited reads with their reason
    reads = desk.get("/v1/officer/reads", params={"limit": "20"}).json()
    assert any(r["account"] == b.info["id"] and r["reason"] == "本人確認" for r in reads)

    # reject with a reason: logged with the officer, told to the applicant in the sign-up notice
    reason = "本人確認書類の氏名が一致しません"
    assert code(desk.post(f"/v1/officer/accounts/{b.info['id']}/reject", {"reason": ""})) == "VALIDATION_ERROR"
    response = desk.post(f"/v1/officer/accounts/{b.info['id']}/reject", {"reason": reason})
    assert response.status_code == 200 and response.json()["status"] == "rejected", response.text
    notice = sql(wallet, "SELECT n.params FROM notices n JOIN users u ON u.id = n.user_id "
                 "WHERE u.public_id = :id AND n.kind = 'signup_rejected'", id=b.info["id"])  # fmt: skip
    params = notice[0][0] if isinstance(notice[0][0], dict) else json.loads(notice[0][0])
    assert len(notice) == 1 and params["message"] == reason
    assert b.login().status_code == 403
    assert [m["id"] for m in members(desk, "rejected")].count(b.info["id"]) == 1

    # approve with a reason; the member is then on the active list with address and name
    response = desk.post(f"/v1/officer/accounts/{a.info['id']}/approve", {"reason": "マイナンバーカードで確認"})
    assert response.status_code == 200, response.text
    a.info.update(a.me())
    assert a.info["status"] == "active"
    active = {m["id"]: m for m in members(desk, "active")}
    assert active[a.info["id"]]["address"] == a.info["address"] and active[a.info["id"]]["name"] == "日程 一郎"
    assert active[a.info["id"]]["date_of_birth"] is None  # the ID-check fields only while pending

    # suspend: the service key may not (REGISTRAR), so the wallet refuses the member at once and shows the command
    assert not wallet.points.registry.functions.hasRole(REGISTRAR, wallet.service_address).call()
    response = desk.post(f"/v1/officer/accounts/{a.info['id']}/suspend", {"reason": "不正利用の疑い"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": a.info["id"],
        "status": "suspended",
        "registrar_command": f"takasago account suspend {a.info['address']}",
    }
    assert code(a.get("/v1/me/balance")) == "ACCOUNT_NOT_ACTIVE"
    assert a.login().status_code == 403
    assert a.info["id"] in [m["id"] for m in members(desk, "suspended")]
    response = desk.post(f"/v1/officer/accounts/{a.info['id']}/reactivate", {"reason": "確認の結果問題なし"})
    assert response.json()["status"] == "active"
    assert response.json()["registrar_command"] == f"takasago account reactivate {a.info['address']}"
    assert a.login().status_code == 200

    # unlock: failed log-ins and the lock cleared
    sql(wallet, "UPDATE users SET failed_logins = 7 WHERE public_id = :id", id=a.info["id"])
    assert next(m for m in members(desk, "active") if m["id"] == a.info["id"])["locked"] is True
    response = desk.post(f"/v1/officer/accounts/{a.info['id']}/unlock", {"reason": "本人から電話"})
    assert response.status_code == 200, response.text
    row = next(m for m in members(desk, "active") if m["id"] == a.info["id"])
    assert row["failed_logins"] == 0 and row["locked"] is False

    # every action on the counter's log with the officer and the reason
    log = sql(wallet, "SELECT c.action, c.reason, o.login FROM counter_log c JOIN users o ON o.id = c.officer_id "
              "JOIN users u ON u.id = c.user_id WHERE u.public_id IN (:a, :b) ORDER BY c.id",
              a=a.info["id"], b=b.info["id"])  # fmt: skip
    assert [(r[0], r[1], r[2]) for r in log] == [
        ("reject", reason, "officer1"),
        ("approve", "マイナンバーカードで確認", "officer1"),
        ("suspend", "不正利用の疑い", "officer1"),
        ("reactivate", "確認の結果問題なし", "officer1"),
        ("unlock", "本人から電話", "officer1"),
    ]
    # a resident may not use the desk
    assert a.get("/v1/officer/members").status_code == 403


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "COLUMNS": "400"})  # fmt: skip
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def mint_args(points: PointsSystem, tmp: Path, programme: int) -> list[str]:
    return ["--programme", str(programme), "--yes", "--rpc-url", points.node.url,
            "--deployments", str(points.deployments_dir), "--dev-keys", str(points.node.data_dir / "dev-keys.json"),
            "--audit-log", str(tmp / "audit.log")]  # fmt: skip


def db_args(server: WalletServer) -> list[str]:
    return ["--data-dir", str(server.data_dir), "--database-url", server.database_url]


def test_export_accounts_and_mint_by_member_code(wallet: WalletServer, tmp_path: Path) -> None:
    desk = officer(wallet)
    one = verified(wallet, desk, "輸出 花子", "1985-06-07")
    out = tmp_path / "accounts.csv"
    cli("wallet", "export-accounts", "--out", str(out), "--points", "300", *db_args(wallet))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["address", "points", "note", "short_code", "account_id", "role", "display_name"]
    mine = next(r for r in rows if r["short_code"] == one.info["short_code"])
    assert mine["address"] == one.info["address"] and mine["points"] == "300" and mine["account_id"] == one.info["id"]
    assert "輸出" not in out.read_text(encoding="utf-8")  # no real names without --with-names
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    refused = cli("wallet", "export-accounts", "--out", str(out), "--with-names", *db_args(wallet), check=False)
    assert refused.returncode == 2 and "--reason" in refused.stdout + refused.stderr
    named = tmp_path / "named.csv"
    cli("wallet", "export-accounts", "--out", str(named), "--with-names", "--officer", "officer1",
        "--reason", "給付の照合", *db_args(wallet))  # fmt: skip
    assert "輸出 花子" in named.read_text(encoding="utf-8")
    reads = desk.get("/v1/officer/reads", params={"limit": "50"}).json()
    assert any(r["account"] == one.info["id"] and r["reason"] == "export-accounts: 給付の照合" for r in reads)

    # one mint by member code (lower case, as read aloud), resolved from the exported file only
    programme = wallet.points.create_programme(name="officer day", budget=10**9)
    before = wallet.points.balance(one.info["address"])
    cli(
        "mint",
        "--members",
        str(out),
        one.info["short_code"].lower(),
        "120",
        *mint_args(wallet.points, tmp_path, programme),
    )
    assert wallet.points.balance(one.info["address"]) == before + 120
    unknown = cli("mint", "--members", str(out), "ZZZZZZZZ", "1", *mint_args(wallet.points, tmp_path, programme),
                  check=False)  # fmt: skip
    assert unknown.returncode == 2 and "member code" in unknown.stdout + unknown.stderr
    # a mint CSV written with member codes in the address column
    by_code = tmp_path / "by_code.csv"
    by_code.write_text(f"address,points,note\n{one.info['short_code']},80,清掃活動\n", encoding="utf-8")
    cli("mint", "--csv", str(by_code), "--members", str(out), "--batch-id", "7",
        *mint_args(wallet.points, tmp_path, programme))  # fmt: skip
    assert wallet.points.balance(one.info["address"]) == before + 200


REGISTER_HEADER = ["氏名", "生年月日", "住所", "世帯番号", "続柄"]


def test_match_register_builds_a_mint_file_for_households_with_a_child_under_6(
    wallet: WalletServer, tmp_path: Path
) -> None:
    desk = officer(wallet)
    tag = wallet.database_url[-6:].replace("/", "x")  # distinct people per database
    # household 1: head verified, mother verified, a child of 3 → one row, the head
    head = verified(wallet, desk, f"台帳 太郎{tag}", "1941-05-03")
    mother = verified(wallet, desk, f"台帳 花子{tag}", "1990-02-10")
    # household 2: a child of 2, the head not signed up, the other adult verified → that adult
    adult2 = verified(wallet, desk, f"台帳 次郎{tag}", "1988-08-08")
    # household 3: no child under 6 (a verified adult) → nobody
    verified(wallet, desk, f"台帳 三郎{tag}", "1960-01-01")
    as_of = "2026-12-01"
    lines = [
        REGISTER_HEADER,
        [f"台帳　太郎{tag}", "昭和16年5月3日", "兵庫県高砂市曽根町1-1", "0001", "世帯主"],  # line 2 (full-width space)
        [f"台帳 花子{tag}", "平成2年2月10日", "兵庫県高砂市曽根町1-1", "0001", "妻"],  # line 3
        [f"台帳 一子{tag}", "令和5年4月1日", "兵庫県高砂市曽根町1-1", "0001", "子"],  # line 4: 3 years old
        [f"台帳 未登録{tag}", "1985-01-01", "兵庫県高砂市伊保1-2", "0002", "世帯主"],  # line 5: not in the wallet
        [f"台帳 次郎{tag}", "S63.8.8", "兵庫県高砂市伊保1-2", "0002", "同居人"],  # line 6
        [f"台帳 二子{tag}", "2024/10/10", "兵庫県高砂市伊保1-2", "0002", "子"],  # line 7: 2 years old
        [f"台帳 三郎{tag}", "1960年1月1日", "兵庫県高砂市米田町3", "0003", "世帯主"],  # line 8
        [f"台帳 三子{tag}", "2015-01-01", "兵庫県高砂市米田町3", "0003", "子"],  # line 9: 11 years old
        [f"台帳 四子{tag}", "令和6年1月1日", "兵庫県高砂市阿弥陀4", "0004", "子"],  # line 10: no adult at all
        [f"台帳 誤記{tag}", "昭和99年1月1日", "兵庫県高砂市阿弥陀4", "0004", "世帯主"],  # line 11: not a date
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    register = tmp_path / "juki_extract.csv"
    register.write_bytes(buffer.getvalue().encode("cp932"))
    mint_file = tmp_path / "mint.csv"
    result = cli("wallet", "match-register", "--register", str(register), "--policy", "child-under-6",
                 "--points", "10000", "--as-of", as_of, "--out", str(mint_file), *db_args(wallet))  # fmt: skip
    output = result.stdout + result.stderr
    assert "台帳" not in output and "曽根町" not in output  # no name or address ever printed
    assert "(cp932)" in output and "3 household(s)" in output
    assert "line 11: not read" in output
    assert "adults without a verified account, lines: 5" in output
    assert "households with no verified adult (first line of each): 10" in output
    rows = list(csv.DictReader(io.StringIO(mint_file.read_text(encoding="utf-8"))))
    assert [(r["address"], r["points"], r["short_code"]) for r in rows] == [
        (head.info["address"], "10000", head.info["short_code"]),
        (adult2.info["address"], "10000", adult2.info["short_code"]),
    ]
    assert "台帳" not in mint_file.read_text(encoding="utf-8")
    assert mother.info["address"] not in mint_file.read_text(encoding="utf-8")
    assert str(date(2026, 12, 1)) in rows[0]["note"]

    # --per adult: every verified adult of the selected households
    per_adult = tmp_path / "per_adult.csv"
    cli("wallet", "match-register", "--register", str(register), "--policy", "child-under-6", "--per", "adult",
        "--points", "5000", "--as-of", as_of, "--out", str(per_adult), *db_args(wallet))  # fmt: skip
    addresses = [r["address"] for r in csv.DictReader(io.StringIO(per_adult.read_text(encoding="utf-8")))]
    assert sorted(addresses) == sorted([head.info["address"], mother.info["address"], adult2.info["address"]])

    # the mint file goes straight to `takasago mint --csv`
    programme = wallet.points.create_programme(name="child-under-6", budget=10**9)
    before = wallet.points.balance(head.info["address"])
    cli("mint", "--csv", str(mint_file), "--batch-id", "20261201", *mint_args(wallet.points, tmp_path, programme))
    assert wallet.points.balance(head.info["address"]) == before + 10000

    # a UTF-8 extract with English headers reads the same; a bad policy is refused
    english = tmp_path / "extract-utf8.csv"
    english.write_text("name,date_of_birth,address,household\n" + f"台帳 次郎{tag},1988-08-08,x,9\n"
                       + f"台帳 五子{tag},令和4年1月1日,x,9\n", encoding="utf-8")  # fmt: skip
    utf8_out = tmp_path / "utf8.csv"
    cli("wallet", "match-register", "--register", str(english), "--policy", "child-under-6", "--points", "1",
        "--as-of", as_of, "--out", str(utf8_out), *db_args(wallet))  # fmt: skip
    assert adult2.info["address"] in utf8_out.read_text(encoding="utf-8")
    bad = cli("wallet", "match-register", "--register", str(english), "--policy", "everyone", "--points", "1",
              "--out", str(utf8_out), *db_args(wallet), check=False)  # fmt: skip
    assert bad.returncode == 2 and "child-under-N" in bad.stdout + bad.stderr
