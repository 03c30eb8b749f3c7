"""Every change the node makes to py-evm, pyrlp and eth-hash internals, and its guard.

The node runs py-evm with a few pieces replaced by faster equivalents. Each was
copied from, or reproduces the result of, a function of one exact library version;
if that function changes, the copy silently stops being equivalent and blocks could
differ from what any other client computes. So every change is listed here with the
function(s) it stands in for and a fingerprint (sha256 of the source) of each, and
:func:`install` refuses — with :class:`PatchTargetChanged` naming the package, the
function and what to do — when the installed version or any fingerprint differs.

Nothing happens on import. :func:`install` is called explicitly: first thing in
``runner.serve`` (so a mismatch stops the node before it opens its data directory),
and by ``execution.chain_class_for``, through which every in-process chain of the
node is built (the ledger, genesis building, tests and benchmarks), so the node's VM
never runs without its checks. It is idempotent.

The changes (details in :data:`CHANGES`):

* node classes only, nothing outside the node's VM is affected — the faster methods
  in ``evm_speedups.py`` mixed into ``TakasagoVM``/``TakasagoComputation``/
  ``TakasagoTransactionExecutor``: one-pass trie roots, cached jump analysis, the
  leaner interpreter loop, the quiet message builder;
* process-wide, applied by :func:`install` — pyrlp's ``copy`` sharing unchanged fields,
  on py-evm's Prague block and header classes and its account class only (the rlp
  classes the node copies); the keccak backend (``safe-pysha3``, ~3x faster than
  pycryptodome's).

``python -m node.evm_patches`` prints the installed versions and current fingerprints
(for re-deriving the changes after an upgrade).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import os
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rlp.sedes.serializable as _rlp_serializable
from eth.rlp.accounts import Account
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader

PINNED_VERSIONS: dict[str, str] = {"py-evm": "0.12.1b1", "rlp": "5.0.0", "eth-hash": "0.8.0"}
"""The library versions every change below was written against (distribution name: version)."""

KECCAK_BACKEND = "pysha3"
"""eth-hash backend the node hashes with (``ETH_HASH_BACKEND`` in the environment wins)."""


def remedy(package: str) -> str:
    """What to do when ``package`` is not what the node's changes were written against."""
    return (
        f"The node replaces some internals of {package} (node/evm_patches.py) and will not run them against code "
        f"they were not written for. Install {package}=={PINNED_VERSIONS[package]} (pip install "
        f"'{package}=={PINNED_VERSIONS[package]}'), or, when upgrading on purpose, re-check each change listed in "
        "node/evm_patches.py against the new code and update PINNED_VERSIONS and the fingerprints "
        "(python -m node.evm_patches prints the current ones)."
    )


class PatchTargetChanged(RuntimeError):
    """An installed library is not the version, or not the code, the node's changes were written against."""


@dataclass(frozen=True)
class Original:
    """A library function a change stands in for, and the sha256 of its source when the change was written."""

    package: str  # distribution name, as in PINNED_VERSIONS
    path: str  # "module:Class.attribute", as the function is found today
    sha256: str

    def resolve(self) -> Callable[..., Any]:
        module_name, _, attributes = self.path.partition(":")
        target: Any = importlib.import_module(module_name)
        for attribute in attributes.split("."):
            target = getattr(target, attribute)
        return inspect.unwrap(target)  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return self.path.replace(":", ".")


@dataclass(frozen=True)
class Change:
    """One change to a library's internals: where it lives, what it does, why, and what it stands in for."""

    name: str
    where: str  # "node classes" (evm_speedups.py, by subclassing) or "process-wide" (applied by install)
    what: str
    why: str
    originals: tuple[Original, ...]


def fingerprint(function: Callable[..., Any]) -> str:
    """sha256 of a function's source: stable across Python versions, changes with any edit of the code."""
    return hashlib.sha256(textwrap.dedent(inspect.getsource(function)).encode()).hexdigest()


CHANGES: tuple[Change, ...] = (
    Change(
        name="one-pass trie roots",
        where="node classes: evm_speedups.OrderedTrieRootsMixin in TakasagoVM",
        what="set_block_transactions_and_withdrawals builds transaction/receipt roots bottom-up in one pass",
        why="py-evm inserts one key at a time into a HexaryTrie, ~1/3 ms per transaction; the roots and "
        "nodes are byte-identical (ordered_trie.py, tests/test_ordered_trie.py)",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague:PragueVM.set_block_transactions_and_withdrawals",
                "aaa180fbf74c24cf90c7b6ee6c212f1a4da02fcadb02edeed8a0e3d43c7aab9d",
            ),
            Original(
                "py-evm",
                "eth.db.trie:make_trie_root_and_nodes",
                "8efef213793673e7bc8ea933cdd6bae3b98288a478451d85e4a6e16a1e4743e5",
            ),
            Original(
                "py-evm",
                "eth.db.trie:_make_trie_root_and_nodes",
                "87562a2f669f0a727a56e6baaa96d340f6a83ddea0b427ef1a06bf3089215077",
            ),
        ),
    ),
    Change(
        name="cached jump analysis",
        where="node classes: evm_speedups.AnalysedJumpsMixin in TakasagoComputation",
        what="JUMP/JUMPI destinations checked against a per-code bitmap of instruction starts",
        why="py-evm searches the 32 bytes before every jump destination for PUSH data; geth's code bitmap "
        "answers the same question with one forward pass per distinct code",
        originals=(
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.is_valid_opcode",
                "63dc73e80787d07e2e7b12c50de3c2e5696b4afe8b4e3152e8024380e87ea616",
            ),
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.__init__",
                "1a775e8a972f82101ed4bc9d6292029ceb586465ec9297aa83cba3a495bb5a85",
            ),
            Original(
                "py-evm",
                "eth.vm.forks.prague.computation:PragueComputation.__init__",
                "9dbbbaab1665d3b7d674d2d0bcd134de75025db5761d8f8366a1a65ed1382fbf",
            ),
        ),
    ),
    Change(
        name="lean interpreter loop",
        where="node classes: evm_speedups.LeanInterpreterMixin in TakasagoComputation",
        what="apply_computation reads opcodes from the code bytes and charges constant gas inline",
        why="two Python call layers per instruction (CodeStream iterator, _FastOpcode.__call__ -> "
        "consume_gas) and a debug-logging check dominate simple opcodes",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague.computation:PragueComputation.apply_computation",
                "4645a2de61ddb37820c169445ea0c91935e3bc44c74b75091a52cb67d9042471",
            ),
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.__iter__",
                "2802bd4ac30864f942e4ac5e6d0c50cc75febfd4f04496231f73aadbea922839",
            ),
            Original(
                "py-evm",
                "eth.vm.opcode:_FastOpcode.__call__",
                "3b56e4feeac865fa5e30f5258d2ee43ddd007189788519dc19f0c9ef05dbfa74",
            ),
            Original(
                "py-evm",
                "eth.vm.computation:BaseComputation.consume_gas",
                "ba8281107cd076332a2fc1e880567d52a0822471f745cc26fd9fa35fc7f7c3df",
            ),
            Original(
                "py-evm",
                "eth.vm.gas_meter:GasMeter.consume_gas",
                "251db89822497b13eb431eb3f4ef571308cfb9578d6ae9519234674adbc59b3a",
            ),
        ),
    ),
    Change(
        name="quiet message builder",
        where="node classes: evm_speedups.QuietMessageBuilderMixin in TakasagoTransactionExecutor",
        what="build_evm_message without its debug line (and refusing blob transactions)",
        why="py-evm formats repr(transaction), the contract code in hex and a keccak of the calldata for "
        "every transaction before the logger drops the line",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague.state:PragueTransactionExecutor.build_evm_message",
                "0a3e38aac2aaffa92f9c8e77f9ef0fb4dd2e49f8e3a22921b45595fb34cf080f",
            ),
        ),
    ),
    Change(
        name="sharing rlp copy",
        where="process-wide: copy of PragueBlock, PragueBlockHeader and Account (install)",
        what="copy(**changes) shares the unchanged fields instead of deep-copying them",
        why="rlp objects are immutable, but pyrlp's copy deep-copies every unchanged field: each of the "
        "block.copy(header=...) calls py-evm makes while finishing a block re-created all its transactions, "
        "and every balance or nonce change deep-copies the account",
        originals=(
            Original(
                "rlp",
                "rlp.sedes.serializable:BaseSerializable.copy",
                "5d61cc7f0439239dfb04399ed27e0551476acfd89b4ca5a4c9b09a063d265e7d",
            ),
        ),
    ),
    Change(
        name="keccak backend",
        where="process-wide: eth_hash.auto.keccak (install; ETH_HASH_BACKEND for child processes)",
        what=f"keccak256 by eth-hash's {KECCAK_BACKEND!r} backend, whatever was picked at the first hash",
        why="eth-hash picks pycryptodome when both are installed, ~3x slower per hash, and trie hashing is "
        "a large share of block building; the digests are the same",
        originals=(
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.__init__",
                "2779e33533ca2ed8bf38c7d96ac5e439d86e0c154aa272c88b74729f130351e8",
            ),
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.__call__",
                "a7f53a17fd92eba24d0df0a744df13a08aed51f2afea5221b8bd63241593c1c2",
            ),
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.new",
                "ceb5021508f2ae930c7b41c3e3ef54a1a0c0ebffb9785a5df3601cb4c78183a9",
            ),
        ),
    ),
)

SHARING_COPY_CLASSES: tuple[type[Any], ...] = (PragueBlock, PragueBlockHeader, Account)
"""The rlp classes whose ``copy`` shares unchanged fields: the ones the node copies (measured: block
assembly copies blocks and headers, every balance or nonce change copies the account)."""

_ORIGINAL_COPY = _rlp_serializable.BaseSerializable.copy
_install_lock = threading.Lock()
_installed = False


def _copy_sharing_unchanged_fields(self: Any, *args: Any, **kwargs: Any) -> Any:
    """rlp objects are immutable (lists become tuples), so unchanged fields can be shared.

    Positional arguments (which py-evm never passes) fall back to pyrlp's own ``copy``.
    """
    if args:
        return _ORIGINAL_COPY(self, *args, **kwargs)
    values = dict(zip(self._meta.field_names, self, strict=True))
    values.update(kwargs)
    return type(self)(**values)


def installed_version(package: str) -> str:
    return importlib.metadata.version(package)


def verify() -> None:
    """Raise :class:`PatchTargetChanged` unless every library and function is the one the changes expect."""
    for package, expected in PINNED_VERSIONS.items():
        try:
            found = installed_version(package)
        except importlib.metadata.PackageNotFoundError:
            found = "not installed"
        if found != expected:
            raise PatchTargetChanged(
                f"{package} {found} is installed, but the node's changes to it were written against "
                f"{package} {expected}. {remedy(package)}"
            )
    for change in CHANGES:
        for original in change.originals:
            try:
                actual = fingerprint(original.resolve())
            except (ImportError, AttributeError, OSError, TypeError) as exc:
                raise PatchTargetChanged(
                    f"{original.name} ({original.package} {PINNED_VERSIONS[original.package]}), which the node's "
                    f"change {change.name!r} stands in for, cannot be found or read: {exc}. {remedy(original.package)}"
                ) from None
            if actual != original.sha256:
                raise PatchTargetChanged(
                    f"{original.name} is not the code the node's change {change.name!r} was written against "
                    f"(source sha256 {actual[:16]}…, expected {original.sha256[:16]}…): {original.package} was "
                    f"modified or replaced. {remedy(original.package)}"
                )
    for cls in SHARING_COPY_CLASSES:
        own = cls.__dict__.get("copy")
        if own is not None and own is not _copy_sharing_unchanged_fields:
            raise PatchTargetChanged(
                f"{cls.__module__}.{cls.__qualname__} now defines its own copy(); the node's change "
                f"'sharing rlp copy' would replace it. {remedy('py-evm')}"
            )


def install() -> None:
    """Check the libraries (:func:`verify`), then apply the process-wide changes once.

    Verifies on every call (cheap) and patches only on the first; raises
    :class:`PatchTargetChanged` before changing anything when a check fails.
    """
    global _installed
    verify()
    with _install_lock:
        if _installed:
            return
        for cls in SHARING_COPY_CLASSES:
            cls.copy = _copy_sharing_unchanged_fields  # type: ignore[method-assign]
        _use_keccak_backend(os.environ.get("ETH_HASH_BACKEND") or KECCAK_BACKEND)
        _installed = True


def is_installed() -> bool:
    return _installed


def _use_keccak_backend(name: str) -> None:
    """Hash with eth-hash's ``name`` backend from now on, in this process and in processes it starts.

    ``eth_hash.auto.keccak`` picks its backend at the first hash (possibly already done by
    an import); replacing its two bound functions switches it for every caller, since all
    of py-evm, trie and eth-utils call that one object. Child processes (the admission
    workers) inherit ``ETH_HASH_BACKEND`` and pick the same backend at their first hash.
    """
    from eth_hash.auto import keccak
    from eth_hash.utils import load_environment_backend

    backend = load_environment_backend(name)
    keccak.hasher = backend.keccak256  # type: ignore[method-assign]
    keccak.preimage = backend.preimage  # type: ignore[method-assign]
    os.environ.setdefault("ETH_HASH_BACKEND", name)


def _print_fingerprints() -> None:
    for package in PINNED_VERSIONS:
        print(f"{package}: installed {installed_version(package)}, pinned {PINNED_VERSIONS[package]}")
    for change in CHANGES:
        print(f"{change.name}:")
        for original in change.originals:
            print(f"    {original.path}  {fingerprint(original.resolve())}")


if __name__ == "__main__":
    _print_fingerprints()
