"""What a first-time officer trips on (issue 16): reading needs no key, a missing role is named
with the command that grants it, who holds which role, a same-day repeat mint says so (and
``--again`` mints deliberately), and every option's default is in ``--help``. Real node."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.points import PointsSystem

runner = CliRunner(mix_stderr=False)
app = get_command(typer_app)
ENV = {"COLUMNS": "300", "TERM": "dumb", "TAKASAGO_KEYSTORE": None, "TAKASAGO_DEV_KEYS": None}


def _invoke(args: list[str]) -> Any:
    result = runner.invoke(app, args, env=ENV)
    result.text = " ".join((result.stdout + result.stderr).split())  # rich may wrap long lines
    return result


def read(points: PointsSystem, *args: str) -> Any:
    """A command with the node and the deployment only: no key, no audit log."""
    return _invoke([*args, "--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)])


def write(points: PointsSystem, tmp: Path, *args: str, key: str | None = None) -> Any:
    """A command signed with the dev chain's admin key, or with ``key`` (0x private key hex)."""
    keyfile = points.node.data_dir / "dev-keys.json"
    if key is not None:
        keyfile = tmp / f"key-{key[2:10]}.json"
        keyfile.write_text(json.dumps({"admin": {"privateKey": key}}))
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
              "--dev-keys", str(keyfile), "--audit-log", str(tmp / "audit.log"), "--yes"]  # fmt: skip
    return _invoke([*args, *common])


def test_reading_commands_need_no_signing_key(points: PointsSystem) -> None:
    resident = points.resident()
    points.create_programme()
    listed = read(points, "programme", "list")
    assert listed.exit_code == 0 and "test programme" in listed.text, listed.text
    shown = read(points, "account", "show", resident.address)
    assert shown.exit_code == 0 and f"{resident.address}: resident, active" in shown.text, shown.text
    assert read(points, "roles", "list").exit_code == 0
    assert read(points, "status").exit_code == 0
    # and they do not offer a key option at all: nothing to unlock, nothing to leak
    offered = _invoke(["programme", "list", "--help"])
    assert "--rpc-url" in offered.text and "--keystore" not in offered.text and "--dev-keys" not in offered.text


def test_a_missing_role_names_the_role_the_command_and_how_to_grant_it(points: PointsSystem, tmp_path: Path) -> None:
    outsider = points.resident()
    key = "0x" + outsider.key.hex()
    paused = write(points, tmp_path, "pause", key=key)
    assert paused.exit_code == 3, paused.text
    assert (
        f"{outsider.address} lacks PAUSER_ROLE, needed by `takasago pause`; grant it with "
        f"`takasago roles grant pauser {outsider.address}`" in paused.text
    )
    assert f"{outsider.address} には PAUSER_ROLE がありません" in paused.text  # and in Japanese
    granted = write(points, tmp_path, "roles", "grant", "minter", outsider.address, key=key)
    assert granted.exit_code == 3
    assert "lacks DEFAULT_ADMIN_ROLE, needed by `takasago roles grant`" in granted.text
    assert f"`takasago roles grant admin {outsider.address}`" in granted.text
    # found before anything is sent: mint checks the programme's verifier role first
    programme = points.create_programme()
    minted = write(points, tmp_path, "mint", points.resident().address, "5", "--programme", str(programme), key=key)
    assert minted.exit_code == 3 and "Traceback" not in minted.text
    grant = f"`takasago roles grant minter {outsider.address}`"
    assert f"lacks MINTER_ROLE, needed by `takasago mint`; grant it with {grant}" in minted.text
    entries = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [(e["command"], e["status"]) for e in entries] == [
        ("pause", "refused"),
        ("roles grant", "refused"),
        ("mint", "refused"),
    ]


def test_roles_list_shows_who_holds_each_role_now(points: PointsSystem, tmp_path: Path) -> None:
    officer = points.resident().address
    before = read(points, "roles", "list")
    assert before.exit_code == 0 and f"admin (DEFAULT_ADMIN_ROLE): 1 holder {points.admin.address}" in before.text
    assert officer not in before.text
    assert write(points, tmp_path, "roles", "grant", "pauser", officer).exit_code == 0
    listed = read(points, "roles", "list", "pauser")
    assert listed.exit_code == 0 and "pauser (PAUSER_ROLE)" in listed.text and officer in listed.text
    assert "minter" not in listed.text  # only the role asked for
    assert write(points, tmp_path, "roles", "revoke", "pauser", officer).exit_code == 0
    assert officer not in read(points, "roles", "list", "pauser").text  # revoked: no longer listed
    unknown = read(points, "roles", "list", "king")
    assert unknown.exit_code == 2 and "unknown role 'king'" in unknown.text


def test_a_same_day_repeat_mint_says_it_was_already_minted_and_again_mints_deliberately(
    points: PointsSystem, tmp_path: Path
) -> None:
    programme = str(points.create_programme())
    resident = points.resident()
    assert write(points, tmp_path, "mint", resident.address, "300", "--programme", programme).exit_code == 0
    repeat = write(points, tmp_path, "mint", resident.address, "300", "--programme", programme)
    assert repeat.exit_code == 0 and points.balance(resident) == 300  # a mistake repeated is not an error
    claim = re.search(
        r"already minted today: 300 units of programme \d+ to \S+; claim (\d+) was already paid", repeat.text
    )
    assert claim is not None, repeat.text
    assert "pass --again" in repeat.text and "本日すでに付与済みです" in repeat.text
    again = write(points, tmp_path, "mint", resident.address, "300", "--programme", programme, "--again")
    assert again.exit_code == 0, again.text
    assert points.balance(resident) == 600
    third = write(points, tmp_path, "mint", resident.address, "300", "--programme", programme, "--again")
    assert third.exit_code == 0 and points.balance(resident) == 900  # each --again is one more mint
    claims = [e["claim"] for e in map(json.loads, (tmp_path / "audit.log").read_text().splitlines())
              if e["command"] == "mint" and e["status"] == "done"]  # fmt: skip
    assert len(set(claims)) == 3 and claims[0] == int(claim[1])
    both = write(
        points, tmp_path, "mint", resident.address, "300", "--programme", programme, "--again", "--claim-id", "5"
    )
    assert both.exit_code == 2 and "--again or --claim-id, not both" in both.text


def _commands(command: Any, path: list[str]) -> Any:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, [*path, name])
    else:
        yield path, command


def test_every_option_shows_its_default_in_help() -> None:
    missing = []
    for path, command in _commands(app, []):
        context = type(app).context_class(command, info_name=" ".join(path))
        for param in command.params:
            if param.param_type_name != "option" or param.name == "help" or param.required:
                continue
            record = param.get_help_record(context)
            shown = re.search(r"default: \(?([^)\]]*)", record[1] if record else "")
            if shown is None or not shown[1].strip():
                missing.append(f"takasago {' '.join(path)} {param.opts[0]}")
    assert missing == []
    rendered = _invoke(["mint", "--help"])
    assert "--again" in rendered.text and "[default: (off)]" in rendered.text
    assert "[default: (one per resident, amount and JST day)]" in rendered.text
