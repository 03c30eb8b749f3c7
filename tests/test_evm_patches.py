"""The node's changes to py-evm internals are installed explicitly, once, and only on the code they fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth.vm.code_stream import CodeStream
from eth.vm.forks.prague.blocks import PragueBlock

from node import evm_patches
from node.evm_patches import PatchTargetChanged

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> Any:
    """Run ``code`` in a fresh interpreter (the changes are process-wide) and return the JSON it prints."""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_node_changes_nothing_until_install() -> None:
    """``import node`` (and every module of it) patches nothing; install() applies the process-wide changes."""
    state = _run(
        "import json, os\n"
        "os.environ.pop('ETH_HASH_BACKEND', None)\n"
        "import node.runner, node.ledger, node.execution, node.calls\n"
        "from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader\n"
        "from eth.rlp.accounts import Account\n"
        "from eth_hash.auto import keccak\n"
        "def patched():\n"
        "    return [('copy' in c.__dict__) for c in (PragueBlock, PragueBlockHeader, Account)]\n"
        "before = patched(), 'pysha3' in repr(keccak.hasher), os.environ.get('ETH_HASH_BACKEND')\n"
        "from node import evm_patches\n"
        "evm_patches.install()\n"
        "after = patched(), 'PySha3' in repr(keccak.hasher), os.environ.get('ETH_HASH_BACKEND')\n"
        "print(json.dumps([before, after]))\n"
    )
    before, after = state
    assert before == [[False, False, False], False, None]
    assert after == [[True, True, True], True, "pysha3"]


def test_install_is_idempotent() -> None:
    evm_patches.install()
    patched_copy = PragueBlock.__dict__["copy"]
    evm_patches.install()
    assert PragueBlock.__dict__["copy"] is patched_copy
    assert evm_patches.is_installed()


def test_a_changed_py_evm_function_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    def is_valid_opcode(self: CodeStream, position: int) -> bool:  # not the function the change was written for
        return True

    monkeypatch.setattr(CodeStream, "is_valid_opcode", is_valid_opcode)
    with pytest.raises(PatchTargetChanged) as refused:
        evm_patches.install()
    message = str(refused.value)
    assert "eth.vm.code_stream.CodeStream.is_valid_opcode" in message
    assert "cached jump analysis" in message
    assert "py-evm was modified or replaced" in message
    assert "python -m node.evm_patches" in message  # what to do


def test_another_py_evm_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = evm_patches.installed_version
    monkeypatch.setattr(
        evm_patches, "installed_version", lambda package: "0.13.0" if package == "py-evm" else real(package)
    )
    with pytest.raises(PatchTargetChanged) as refused:
        evm_patches.verify()
    message = str(refused.value)
    assert "py-evm 0.13.0 is installed" in message and "written against py-evm 0.12.1b1" in message
    assert "Install py-evm==0.12.1b1" in message


def test_a_refused_install_changes_nothing() -> None:
    """The check runs before any change: a process that fails it keeps stock py-evm and pyrlp."""
    state = _run(
        "import json\n"
        "from node import evm_patches\n"
        "evm_patches.PINNED_VERSIONS['rlp'] = '4.0.0'\n"
        "try:\n"
        "    evm_patches.install()\n"
        "    refused = None\n"
        "except evm_patches.PatchTargetChanged as exc:\n"
        "    refused = str(exc)\n"
        "from eth.vm.forks.prague.blocks import PragueBlock\n"
        "print(json.dumps([refused, 'copy' in PragueBlock.__dict__, evm_patches.is_installed()]))\n"
    )
    refused, patched, installed = state
    assert refused is not None and refused.startswith("rlp 5.0.0 is installed")
    assert (patched, installed) == (False, False)


def test_the_node_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    """``takasago node run`` prints the refusal as an error line (no traceback) and exits non-zero."""
    code = (
        "import sys\n"
        "from node import evm_patches\n"
        "evm_patches.PINNED_VERSIONS['py-evm'] = '0.11.0'\n"
        "from scripts.cli import app\n"
        f"sys.argv = ['takasago', 'node', 'run', '--data-dir', {str(tmp_path)!r}]\n"
        "app()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert output.startswith("error") and "py-evm 0.12.1b1 is installed" in output, output
    assert "Traceback" not in output


def test_every_change_names_its_originals_and_they_match_today() -> None:
    evm_patches.verify()
    for change in evm_patches.CHANGES:
        assert change.what and change.why and change.originals
        for original in change.originals:
            assert original.package in evm_patches.PINNED_VERSIONS
            assert evm_patches.fingerprint(original.resolve()) == original.sha256
