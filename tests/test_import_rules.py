"""The import rules of docs/architecture.md hold, and the checker would notice if they did not.

Two independent readings of the same rules:

* the import-linter contracts in ``pyproject.toml`` (run by ``.ci/run`` too), each shown to
  fail on a deliberate violation planted in a copy of the tree;
* each package README's "May import:" paragraph, read as the package's allow-list and
  checked against the real import graph (grimp, import-linter's engine): a README that
  says less than the code does, or code that outgrows its README, fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
RULES = PYPROJECT["tool"]["importlinter"]
ROOTS: list[str] = RULES["root_packages"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))

# One planted import per contract: (contract id, module of the copy, the import added to it).
VIOLATIONS = [
    ("services-independent", "wallet_api/_planted.py", "import indexer.queries\n"),
    ("node-imports-no-service", "node/_planted.py", "import ledger_client.fees\n"),
    ("services-over-json-rpc", "oracle/_planted.py", "import node.ledger\n"),
    ("cli-is-composition-root", "indexer/_planted.py", "import scripts\n"),
    ("cli-libraries-import-no-command", "scripts/mint_csv.py", "import scripts.cli\n"),  # appended
    ("client-library-below-services", "ledger_client/_planted.py", "import contracts.deploy\n"),
    ("artifacts-are-data", "contracts/predeploys.py", "import ledger_client.jst\n"),  # appended
]


def _contract_name(contract_id: str) -> str:
    return next(c["name"] for c in RULES["contracts"] if c["id"] == contract_id)


def _run_lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_every_contract_is_kept_by_the_tree() -> None:
    result = _run_lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(RULES['contracts'])} kept, 0 broken." in result.stdout


def test_every_contract_has_a_planted_violation() -> None:
    assert {v[0] for v in VIOLATIONS} == {c["id"] for c in RULES["contracts"]}


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's Python packages (sources only) and pyproject.toml, in a scratch folder."""
    root = tmp_path_factory.mktemp("tree")
    for package in ROOTS:
        shutil.copytree(
            REPO / package,
            root / package,
            ignore=lambda folder, names: [
                n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir() or n == "__pycache__"
            ],
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("contract_id", "module", "source"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_a_planted_violation_breaks_its_contract(source_copy: Path, contract_id: str, module: str, source: str) -> None:
    planted = source_copy / module
    before = planted.read_text(encoding="utf-8") if planted.exists() else None
    planted.write_text((before or "") + source, encoding="utf-8")
    try:
        result = _run_lint(source_copy)
    finally:
        if before is None:
            planted.unlink()
        else:
            planted.write_text(before, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    assert f"{_contract_name(contract_id)} BROKEN" in result.stdout, result.stdout


def _may_import(package: str) -> list[str]:
    """The modules a package's README allows it to import: the backticked names of its "May import:" paragraph
    up to "Never" (``contracts.*`` allows the whole package, ``node.keys`` that module and below)."""
    text = (REPO / package / "README.md").read_text(encoding="utf-8")
    match = re.search(r"May import:(.*?)(?:\bNever\b|\n\n|$)", text, re.S)
    assert match, f"{package}/README.md has no 'May import:' paragraph"
    names = re.findall(r"`([a-z_][a-z0-9_.*]*)`", match.group(1))
    return [n.removesuffix(".*") for n in names if n.split(".")[0] in ROOTS]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(REPO))
    return grimp.build_graph(*ROOTS, cache_dir=None)


@pytest.mark.parametrize("package", [p for p in ROOTS if (REPO / p / "README.md").exists()])
def test_readme_may_import_matches_the_code(graph: grimp.ImportGraph, package: str) -> None:
    allowed = _may_import(package)
    outside: set[str] = set()
    for module in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(module):
            root = imported.split(".")[0]
            if root == package or root not in ROOTS:
                continue
            if not any(imported == a or imported.startswith(a + ".") for a in allowed):
                outside.add(f"{module} -> {imported}")
    assert not outside, f"{package}/README.md 'May import:' allows {allowed}; the code also imports {sorted(outside)}"
