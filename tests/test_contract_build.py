"""The committed contract artifacts match a fresh compile and load correctly."""

from __future__ import annotations

import shutil

import pytest

from contracts.artifacts import load_artifact


@pytest.mark.skipif(shutil.which("node") is None, reason="`node` is not on PATH; solcjs needs Node.js")
def test_committed_artifacts_match_fresh_compile() -> None:
    from contracts.compile import BUILD_DIR, compile_contracts, stale_artifacts

    result = compile_contracts()
    assert "AccountRegistry.json" in result.artifacts
    differing = stale_artifacts(result.artifacts)
    assert differing == [], (
        f"{BUILD_DIR} is out of date ({', '.join(differing)}); run `python -m contracts.compile` and commit the result"
    )


def test_load_account_registry() -> None:
    artifact = load_artifact("AccountRegistry")
    assert artifact.contract_name == "AccountRegistry"
    assert artifact.bytecode
    assert artifact.deployed_bytecode
    assert any(entry.get("name") == "isAllowed" for entry in artifact.abi)
    assert load_artifact("AccountRegistry") is artifact


def test_missing_artifact_says_how_to_build() -> None:
    with pytest.raises(FileNotFoundError, match="python -m contracts.compile"):
        load_artifact("NoSuchContract")
