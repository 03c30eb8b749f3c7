"""README's "A city's first day", run exactly as written: the shell block of that section, in a fresh
directory beside a fresh ``takasago up`` on the default ports, from the first officer to a first payment.

If the README changes, this runs the new text; if a command in it stops working, this fails.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

PORTS = (8545, 8600, 8700, 8800, 8900, 8950)


def first_day_block() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A city's first day", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section holds exactly one bash block"
    assert "    .venv/bin/takasago up\n" in section  # the first terminal's command
    return blocks[0]


def busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_readme_takes_a_new_city_from_takasago_up_to_a_first_payment(tmp_path: Path) -> None:
    if any(busy(port) for port in PORTS):
        pytest.skip("the default ports are in use (a `takasago up` already running here?)")
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    up = subprocess.Popen([str(tmp_path / ".venv/bin/takasago"), "up"], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180
        assert up.stdout is not None
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "running; Ctrl-C" in line:
                break
        assert lines and "running; Ctrl-C" in lines[-1], "\n".join(lines)
        script = tmp_path / "first-day.sh"
        script.write_text("set -euo pipefail\n" + first_day_block(), encoding="utf-8")
        done = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout.split()
        assert out[-2:] == ["confirmed", "380"], done.stdout  # paid 120 of the 500 granted
        assert "programme id 1" in done.stdout
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
