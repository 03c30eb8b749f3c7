"""``takasago wallet …`` for operators: verification from the command line, KEK rotation, bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.points import PointsSystem
from tests.wallet_support import WalletServer, member, running_wallet, shared_points, signup
from wallet_api.crypto.envelope import KeyEncryptionKey, kek_id_of

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (stopped and re-keyed)
points = shared_points


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("wallet-cli"), "sqlite")


def test_an_officer_verifies_a_person_from_the_command_line(wallet: WalletServer) -> None:
    resident = signup(wallet, name="播磨 花子")
    listing = wallet.cli("pending", "--json", "--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url)
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    mine = [row for row in rows if row["id"] == resident.info["id"]]
    assert mine and mine[0]["name"] == "播磨 花子" and mine[0]["date_of_birth"] == "1980-04-01"
    approved = wallet.cli("approve", resident.info["id"], "--officer", "officer1", *wallet._args())
    assert "registered on-chain in block" in approved.stdout
    assert resident.me()["status"] == "active"
    again = wallet.cli("approve", resident.info["id"], "--officer", "officer1", *wallet._args(), check=False)
    assert again.returncode == 3 and "ACCOUNT_NOT_PENDING" in again.stderr and "Traceback" not in again.stderr


def test_cli_bad_input_is_one_clear_line(wallet: WalletServer, tmp_path: Path) -> None:
    resident = signup(wallet)
    nobody = wallet.cli("approve", resident.info["id"], "--officer", "ghost", *wallet._args(), check=False)
    assert nobody.returncode == 2 and "no officer with log-in 'ghost'" in nobody.stderr
    unknown = wallet.cli("approve", "not-an-id", "--officer", "officer1", *wallet._args(), check=False)
    assert unknown.returncode == 2 and "NOT_FOUND" in unknown.stderr
    loose = tmp_path / "kek"
    loose.write_text(KeyEncryptionKey.generate().to_base64())
    loose.chmod(0o644)
    refused = wallet.cli("rotate-kek", "--new-kek-file", str(loose), "--data-dir", str(wallet.data_dir), check=False)
    assert refused.returncode == 2 and "chmod 600" in refused.stderr
    short = wallet.cli("add-officer", "x", "--name", "X", "--data-dir", str(wallet.data_dir), check=False)
    assert short.returncode == 2 and "log-in ID" in short.stderr
    for result in (nobody, unknown, refused, short):
        assert "Traceback" not in result.stderr


def test_an_officer_rejects_a_sign_up_from_the_command_line(wallet: WalletServer) -> None:
    resident = signup(wallet, name="偽名 太郎")
    store = ("--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url)
    rejected = wallet.cli("reject", resident.info["id"], "--officer", "officer1", *store)
    assert f"{resident.info['id']} rejected" in rejected.stdout
    engine = create_engine(wallet.database_url)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM users WHERE public_id = :id"), {"id": resident.info["id"]})
        assert status.scalar_one() == "rejected"
    engine.dispose()
    listing = wallet.cli("pending", "--json", *store)
    assert resident.info["id"] not in listing.stdout
    later = wallet.cli("approve", resident.info["id"], "--officer", "officer1", *wallet._args(), check=False)
    assert later.returncode == 3 and "ACCOUNT_NOT_PENDING" in later.stderr  # a rejected sign-up is never registered
    twice = wallet.cli("reject", resident.info["id"], "--officer", "officer1", *store, check=False)
    assert twice.returncode == 3 and "ACCOUNT_NOT_PENDING" in twice.stderr
    nobody = wallet.cli("reject", "not-an-id", "--officer", "officer1", *store, check=False)
    assert nobody.returncode == 2 and "NOT_FOUND" in nobody.stderr
    ghost = wallet.cli("reject", resident.info["id"], "--officer", "ghost", *store, check=False)
    assert ghost.returncode == 2 and "no officer with log-in 'ghost'" in ghost.stderr
    for result in (twice, nobody, ghost):
        assert "Traceback" not in result.stderr


def test_pending_prints_each_id_whole_on_one_line_even_on_a_narrow_terminal(wallet: WalletServer) -> None:
    people = [signup(wallet, name="長い 名前の 住民 " * 3) for _ in range(2)]
    wallet.env["COLUMNS"] = "60"  # narrower than the table: other columns wrap, ids never do
    try:
        table = wallet.cli("pending", "--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url)
    finally:
        wallet.env.pop("COLUMNS")
    lines = table.stdout.splitlines()
    for person in people:
        assert any(person.info["id"] in line for line in lines), table.stdout


def test_kek_rotation_rewraps_every_sealed_value_and_payments_keep_working(
    wallet: WalletServer, tmp_path: Path
) -> None:
    resident = member(wallet, points=300)
    shop = member(wallet, "merchant")
    old_kek = KeyEncryptionKey.from_file(wallet.data_dir / "kek")
    new_kek = KeyEncryptionKey.generate()
    new_file = tmp_path / "new-kek"
    fd = os.open(new_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, new_kek.to_base64().encode())
    os.close(fd)
    wallet.stop()
    args = ("--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url)
    first = wallet.cli("rotate-kek", "--new-kek-file", str(new_file), *args)
    assert "re-wrapped" in first.stdout and " 0 were already" in first.stdout
    second = wallet.cli("rotate-kek", "--new-kek-file", str(new_file), *args)  # resumable: nothing left
    assert "re-wrapped 0 sealed values" in second.stdout

    engine = create_engine(wallet.database_url)
    with engine.connect() as conn:
        blobs = [
            bytes(b) for row in conn.execute(text("SELECT sealed_key, sealed_personal FROM users")) for b in row if b
        ]
        blobs += [bytes(row[0]) for row in conn.execute(text("SELECT sealed_key FROM service_keys"))]
    engine.dispose()
    assert blobs and all(kek_id_of(b) == new_kek.key_id for b in blobs)

    # the service now runs on the new KEK alone: the old one can be destroyed
    wallet.env["TAKASAGO_WALLET_KEK_FILE"] = str(new_file)
    try:
        wallet.start()
        request = shop.post("/v1/payment-requests", {"amount": 100}, key=None).json()
        paid = resident.post("/v1/payments", {"uri": request["uri"]})
        assert paid.status_code == 200, paid.text
        assert resident.balance() == 200
    finally:
        wallet.stop()
        wallet.env.pop("TAKASAGO_WALLET_KEK_FILE")
    assert old_kek.key_id != new_kek.key_id
