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


def test_every_runtime_fits_the_code_size_limit() -> None:
    """EIP-170: a chain refuses to deploy runtime code over 24,576 bytes (the upgrade would fail
    with a bare "out of gas"). The token sits close to it; this names the contract and its size."""
    from contracts.compile import BUILD_DIR

    sizes: dict[str, int] = {}
    for path in sorted(BUILD_DIR.glob("*.json")):
        sizes[path.stem] = len(load_artifact(path.stem).deployed_bytecode)
    assert sizes["RegionalPoints"] > 20_000  # the sizes are read from the real artifacts
    over = {name: size for name, size in sizes.items() if size > 24_576}
    assert over == {}, f"runtime code over EIP-170's 24,576 bytes: {over}"
