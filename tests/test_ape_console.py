"""`ape console` extras: the deployed point contracts appear in the console, from the deployment file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.points import PointsSystem
from tests.test_ape_client import _project
from tests.wallet_support import shared_points

# the worker's shared chain (no deployment of its own): fresh accounts, no settings changed
points = shared_points

pytestmark = pytest.mark.ape
pytest.importorskip("ape", reason='eth-ape not installed: pip install -e ".[ape]"')

SCRIPT = """
import json, sys
from ape import networks, project
import ape_console_extras
with networks.parse_network_choice("ethereum:takasago:node"):
    loaded = ape_console_extras.ape_init_extras(networks, project)
    token = loaded["token"]
    print(json.dumps({
        "names": sorted(loaded),
        "addresses": {name: contract.address for name, contract in loaded.items()},
        "symbol": token.symbol(),
        "decimals": token.decimals(),
        "balance": token.balanceOf(sys.argv[1]),
    }))
"""


def test_console_loads_the_deployed_contracts(points: PointsSystem, tmp_path: Path) -> None:
    resident = points.resident()
    points.mint(resident, 321)
    project = _project(tmp_path, points.node.url)
    (project / "ape_console_extras.py").write_text((Path(__file__).parents[1] / "ape_console_extras.py").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APE_", "WEB3_"))}
    (tmp_path / "home").mkdir()
    env.update(APE_DATA_FOLDER=str(tmp_path / "ape-data"), HOME=str(tmp_path / "home"),
               TAKASAGO_DEPLOYMENTS=str(points.deployments_dir))  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", SCRIPT, resident.address], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["names"] == ["programmes", "registry", "reports", "token"]
    assert summary["addresses"]["token"] == points.token.address
    assert summary["addresses"]["registry"] == points.registry.address
    assert (summary["symbol"], summary["decimals"], summary["balance"]) == ("TRP", 0, 321)
