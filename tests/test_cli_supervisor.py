"""How ``takasago up`` starts its children: never from packages found in its working directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.supervisor import Supervisor

DECOY = 'raise SystemExit("decoy {name} package imported from the working directory")\n'


def test_finding22_children_ignore_packages_shadowed_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15, finding 22: `takasago up` started inside a directory holding a `scripts/` or
    `node/` package (its own data directory, a checkout) must still run the real code."""
    here = tmp_path / "workdir"
    for name in ("scripts", "node"):
        (here / name).mkdir(parents=True)
        (here / name / "__init__.py").write_text(DECOY.format(name=name))
    monkeypatch.chdir(here)
    supervisor = Supervisor(tmp_path / "logs")
    # A real child that imports both packages: `takasago node init` writes keys and a genesis.
    child = supervisor.start("probe", ["node", "init", "--data-dir", "chain", "--dev"])
    try:
        code = child.wait(timeout=120)
    finally:
        supervisor.stop()
    log = supervisor.tail("probe", 40)
    assert "decoy" not in log, log
    assert code == 0, log
    genesis = json.loads((here / "chain" / "genesis.json").read_text())  # the working directory is the child's
    assert genesis["config"]["chainId"] == 1337
