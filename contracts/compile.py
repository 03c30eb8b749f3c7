"""Compile ``contracts/src/**/*.sol`` into the committed artifacts in ``contracts/build/``.

Usage::

    python -m contracts.compile          # (re)write contracts/build/*.json
    python -m contracts.compile --check  # exit 1 if the committed artifacts are stale

The compiler is solcjs from the repo's ``node_modules`` (``npm ci``), driven through
py-solc-x with ``contracts/solc-wrapper.js`` standing in for a native ``solc``
binary, so no compiler download (``solcx.install_solc``) and no network is needed.
Compiler version and settings come from ``hardhat.config.json`` (key ``solidity``:
``version`` and ``settings``); the settings are passed to solc verbatim, plus our
own ``outputSelection``. The solc found must report exactly that version.

All sources are compiled in one standard-JSON run. Each contract *defined* in
``contracts/src`` (not the OpenZeppelin contracts it imports) gets one artifact,
``contracts/build/<contractName>.json``, with the keys:

``contractName``
    e.g. ``"AccountRegistry"``; contract names must be unique across contracts/src.
``sourceName``
    the solc source unit name, the path relative to the repo root, e.g.
    ``"contracts/src/AccountRegistry.sol"``.
``abi``, ``storageLayout``
    as emitted by solc.
``bytecode``, ``deployedBytecode``
    ``"0x"``-prefixed hex (``"0x"`` alone for interfaces and abstract contracts).
``metadata``
    solc's metadata JSON, as the string solc emitted (its hash is in the bytecode).
``sourceHash``
    see below.
``compiler``
    ``{"version": "<x.y.z+commit.hash>", "settings": <hardhat settings>}``; the
    version is the one recorded in solc's metadata, which is the same for solcjs and
    a native build of the same release.

``sourceHash`` is defined as follows. Let *S* be the source units listed in the
contract's solc metadata (``metadata["sources"]``): its own file plus every file it
imports, directly or transitively, OpenZeppelin files included -- exactly the source
files that determine its bytecode. Sort the unit names of *S* by code point. The
hash is the lowercase hex SHA-256 of the concatenation, over those names in that
order, of ``name.encode("utf-8") + b"\\0" + <file bytes> + b"\\0"``. Files are read
from disk (resolved like the wrapper resolves imports: repo root, then
``node_modules``, then ``contracts/src``) and each one's keccak-256 is checked
against the one solc recorded in the metadata, so the hash covers exactly the bytes
the compiler saw. Editing an unrelated contract therefore leaves an artifact
byte-identical.

Artifacts are rendered as JSON with sorted keys, an indent of 2, ASCII-only and a
trailing newline, so a compile is byte-reproducible; ``--check`` (and
``tests/test_contract_build.py``) compiles into memory and compares bytes.
JSON files in ``contracts/build/`` that no current contract produces are deleted
on write and reported as differing by ``--check``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HARDHAT_CONFIG = REPO_ROOT / "hardhat.config.json"
SOURCE_DIR = REPO_ROOT / "contracts" / "src"
BUILD_DIR = REPO_ROOT / "contracts" / "build"
NODE_MODULES = REPO_ROOT / "node_modules"
WRAPPER = REPO_ROOT / "contracts" / "solc-wrapper.js"

# Where a source unit name is looked up; keep in step with solc-wrapper.js (which
# gets REPO_ROOT as --base-path).
IMPORT_ROOTS = (REPO_ROOT, NODE_MODULES, SOURCE_DIR)

OUTPUT_SELECTION = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "metadata",
    "storageLayout",
]


class CompileError(Exception):
    """The contracts could not be compiled; the message says why and what to do."""


@dataclass(frozen=True)
class CompilerConfig:
    """The ``solidity`` entry of hardhat.config.json."""

    version: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class CompileResult:
    """Rendered artifacts by file name (``"AccountRegistry.json"``) and solc warnings."""

    artifacts: dict[str, bytes]
    warnings: list[str]


def load_compiler_config(path: Path = HARDHAT_CONFIG) -> CompilerConfig:
    """Reads the compiler version and settings from hardhat.config.json."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        solidity = config["solidity"]
        version = solidity["version"]
        settings = solidity.get("settings", {})
    except FileNotFoundError:
        raise CompileError(f"{path} not found") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CompileError(
            f'{path}: expected {{"solidity": {{"version": ..., "settings": {{...}}}}}} ({exc!r})'
        ) from None
    if not isinstance(version, str) or not isinstance(settings, dict):
        raise CompileError(f"{path}: solidity.version must be a string, settings a dict")
    return CompilerConfig(version=version, settings=settings)


def _check_toolchain() -> None:
    if shutil.which("node") is None:
        raise CompileError(
            "`node` is not on PATH: the contracts are compiled with solcjs, which needs"
            " Node.js (install it, then run `npm ci` in the repo root)"
        )
    if not (NODE_MODULES / "solc" / "package.json").is_file():
        raise CompileError(f"{NODE_MODULES / 'solc'} is missing: run `npm ci` in {REPO_ROOT}")


def _check_version(expected: str) -> None:
    from solcx.exceptions import SolcError
    from solcx.wrapper import get_version_str_from_solc_binary

    try:
        found = get_version_str_from_solc_binary(WRAPPER)
    except (OSError, SolcError) as exc:
        raise CompileError(f"could not run `{WRAPPER} --version`: {exc}") from None
    base = found.split("+", 1)[0]
    if base != expected:
        raise CompileError(
            f"solc version mismatch: {HARDHAT_CONFIG.name} wants {expected}, but"
            f" node_modules/solc is {found}; run `npm ci` (package.json pins solc)"
        )


def _sources() -> dict[str, bytes]:
    files = sorted(SOURCE_DIR.rglob("*.sol"))
    if not files:
        raise CompileError(f"no Solidity sources under {SOURCE_DIR}")
    return {f.relative_to(REPO_ROOT).as_posix(): f.read_bytes() for f in files}


def _read_unit(name: str, inputs: Mapping[str, bytes]) -> bytes:
    if name in inputs:
        return inputs[name]
    for root in IMPORT_ROOTS:
        candidate = (root / name).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate.read_bytes()
    raise CompileError(f"cannot find source unit {name!r} under {IMPORT_ROOTS}")


def _source_hash(metadata: Mapping[str, Any], inputs: Mapping[str, bytes]) -> str:
    from eth_hash.auto import keccak

    digest = hashlib.sha256()
    for name in sorted(metadata["sources"]):
        content = _read_unit(name, inputs)
        recorded = metadata["sources"][name]["keccak256"]
        if "0x" + keccak(content).hex() != recorded:
            raise CompileError(
                f"{name}: the file on disk differs from what solc compiled (was it modified during the compile?)"
            )
        digest.update(name.encode("utf-8") + b"\0" + content + b"\0")
    return digest.hexdigest()


def render(artifact: Mapping[str, Any]) -> bytes:
    """The canonical, byte-reproducible JSON encoding of an artifact."""
    return (json.dumps(artifact, sort_keys=True, indent=2) + "\n").encode("ascii")


def compile_contracts(config: CompilerConfig | None = None) -> CompileResult:
    """Compiles every contract under contracts/src into memory; writes nothing."""
    import solcx
    from solcx.exceptions import SolcError, UnknownOption, UnknownValue

    config = config or load_compiler_config()
    _check_toolchain()
    _check_version(config.version)

    inputs = _sources()
    settings = dict(config.settings)
    settings["outputSelection"] = {"*": {"*": OUTPUT_SELECTION}}
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": src.decode("utf-8")} for name, src in inputs.items()},
        "settings": settings,
    }
    try:
        output = solcx.compile_standard(
            standard_input,
            base_path=REPO_ROOT,
            allow_paths=[NODE_MODULES],
            solc_binary=WRAPPER,
        )
    except SolcError as exc:
        if exc.error_dict is not None:  # solc ran and reported compile errors
            raise CompileError(f"compilation failed:\n{exc.message}") from None
        raise CompileError(f"{WRAPPER.name} failed:\n{exc}") from None
    except (UnknownOption, UnknownValue) as exc:
        raise CompileError(f"{WRAPPER.name} rejected its arguments: {exc}") from None

    warnings = [
        e.get("formattedMessage", e.get("message", ""))
        for e in output.get("errors", [])
        if e.get("severity") != "error"
    ]
    artifacts: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    for source_name in inputs:
        for contract_name, out in sorted(output.get("contracts", {}).get(source_name, {}).items()):
            if contract_name in origin:
                raise CompileError(
                    f"contract {contract_name} is defined in both"
                    f" {origin[contract_name]} and {source_name}; names must be unique"
                )
            origin[contract_name] = source_name
            metadata = json.loads(out["metadata"])
            artifact = {
                "contractName": contract_name,
                "sourceName": source_name,
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                "metadata": out["metadata"],
                "storageLayout": out["storageLayout"],
                "sourceHash": _source_hash(metadata, inputs),
                "compiler": {
                    "version": metadata["compiler"]["version"],
                    "settings": config.settings,
                },
            }
            artifacts[f"{contract_name}.json"] = render(artifact)
    return CompileResult(artifacts=dict(sorted(artifacts.items())), warnings=warnings)


def stale_artifacts(artifacts: Mapping[str, bytes], build_dir: Path = BUILD_DIR) -> list[str]:
    """File names in build_dir that are missing, differ from ``artifacts`` or are extra."""
    committed = {p.name for p in build_dir.glob("*.json")} if build_dir.is_dir() else set()
    differing = []
    for name in sorted(committed | set(artifacts)):
        path = build_dir / name
        if name not in artifacts or not path.is_file() or path.read_bytes() != artifacts[name]:
            differing.append(name)
    return differing


def write_artifacts(artifacts: Mapping[str, bytes], build_dir: Path = BUILD_DIR) -> list[str]:
    """Writes ``artifacts`` into build_dir, deleting other JSON files; returns changed names."""
    changed = stale_artifacts(artifacts, build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in changed:
        path = build_dir / name
        if name in artifacts:
            path.write_bytes(artifacts[name])
        else:
            path.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.compile",
        description="Compile contracts/src into contracts/build (offline, via solcjs).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile into memory and exit 1 if contracts/build differs",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    try:
        result = compile_contracts()
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started
    for warning in result.warnings:
        print(warning, file=sys.stderr)

    build = BUILD_DIR.relative_to(REPO_ROOT)
    if args.check:
        differing = stale_artifacts(result.artifacts)
        if differing:
            print(
                f"{build} is out of date; run `python -m contracts.compile`:",
                file=sys.stderr,
            )
            for name in differing:
                print(f"  {build / name}", file=sys.stderr)
            return 1
        print(f"{len(result.artifacts)} artifacts in {build} are up to date ({elapsed:.1f}s)")
        return 0

    changed = write_artifacts(result.artifacts)
    for name in changed:
        print(f"{'wrote' if name in result.artifacts else 'deleted'} {build / name}")
    print(f"compiled {len(result.artifacts)} contracts in {elapsed:.1f}s; {len(changed)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
