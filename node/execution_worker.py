"""Block execution in a long-lived worker process, on PyPy where it is installed (issue 23, lever 2).

Why a worker: py-evm is pure Python, and executing a block held the node's GIL for most of
each second under load, so the event loop (JSON-RPC, admission, consensus messages) waited
behind it. In its own process execution no longer competes for that lock, and the process
can run on PyPy, whose JIT runs py-evm about twice as fast once warm (``../shared/FINDINGS.md``:
0.43 ms against 0.98 ms a transfer, identical state roots).

How it stays the same execution: the worker runs the node's own VM (``execution.chain_class_for``,
with ``evm_patches`` checked and installed there, against that interpreter's pinned stack) and
the very functions the ledger runs in-process (``block_body.open_block``, ``apply_body``,
``finish_block``). It reads the committed chain from the node's LMDB environment, read-only (LMDB
readers in other processes never block the writer, and a read transaction sees one commit), and
keeps every write of the block in memory. Its answer is the block's header, receipts and those
writes; the ledger puts the writes in its own write buffer and commits them with the block
exactly as if it had executed the block itself. Only the ledger writes the database. A worker
whose py-evm or trie release differs from the node's is refused before it executes anything,
and the ledger falls back to executing in-process whenever the worker is missing or fails.

Signatures never reach the worker: every transaction arrives with its sender, checked by the
node (coincurve does not build on PyPy, and recovering there would cost milliseconds each).

Protocol, on the worker's stdin and stdout: frames of a 4-byte big-endian length and a pickle
(protocol 4) of builtin values only (dict, list, tuple, bytes, int, str, bool, None), which
CPython 3.11 and PyPy 3.9 both read. The worker first sends ``hello`` (its interpreter and
library versions, or ``refused`` with why), then answers one ``execute`` request per frame.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import pickle
import platform
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, cast

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, ReceiptAPI, SignedTransactionAPI
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.vm.forks.prague.blocks import PragueBlockHeader

from node.block_body import apply_body, finish_block, open_block, prevalidated
from node.execution import TakasagoVM
from node.storage import BufferedWrites

log = logging.getLogger("takasago.node")

WORKER_MODES = ("auto", "pypy", "cpython", "off")
"""``auto``: PyPy if its environment is installed, else in-process; ``pypy``: PyPy or the node does not
start; ``cpython``: a worker on the node's own interpreter (execution off the node's GIL, no JIT);
``off``: execute in the node's process, as before this lever."""

MODE_VARIABLE = "TAKASAGO_EXECUTION_WORKER"
PYPY_VARIABLE = "TAKASAGO_PYPY"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_PYPY = REPO / ".venv-pypy" / "bin" / "python"
MATCHING_PACKAGES = ("py-evm", "trie")
"""Must be the same release in the worker and the node: execution itself. (rlp and eth-hash may differ by
interpreter, see ``evm_patches.PYPY_VERSIONS``: encodings and digests are fixed by their specifications.)"""

WARM_UP_VARIABLE = "TAKASAGO_EXECUTION_WARMUP"
WARM_UP_TRANSACTIONS = 12_000
"""ERC-20 transfers the worker executes on a scratch chain of its own after it starts, a block at a time
and only while no request waits: measured here, PyPy's JIT reaches its speed after ~10,000 transfers
(1,000-transfer blocks: 917 ms cold, 90 ms warm; CPython in-process 215 ms), so without it a fresh
node would run its first busy minute slower than CPython. 0 (``TAKASAGO_EXECUTION_WARMUP=0``) skips it."""
WARM_UP_BLOCK = 100
"""Small blocks: a request that arrives while one runs waits for it (≤ ~90 ms cold)."""
START_SECONDS = 60.0
EXECUTE_SECONDS = 300.0
"""A block of 100 M gas runs for well under a minute; a worker silent for this long is killed."""
RESTART_AFTER_SECONDS = 30.0
PYPY_NURSERY = "64MB"
"""PyPy's young-generation size for the worker (``PYPY_GC_NURSERY``; a value in the node's environment wins).
Executing a block allocates millions of short-lived objects (rlp fields, stack items, trie nodes); with
PyPy's default nursery here they were collected so often that a 1,000-transfer block took 362 ms warm,
against 212 ms with 64 MB (and 214 ms with 256 MB): ``bench.execution_worker --modes pypy``."""
_LENGTH = struct.Struct(">I")


class WorkerRefused(RuntimeError):
    """The worker cannot be used: not installed, a different py-evm, or it failed its own checks."""


class WorkerFailed(RuntimeError):
    """The worker died or stopped answering during a request; the block is executed in-process instead."""


class WorkerExecutionError(RuntimeError):
    """Execution itself raised in the worker (what in-process execution would have raised)."""

    def __init__(self, message: str, validation: bool) -> None:
        super().__init__(message)
        self.validation = validation


# -- frames ---------------------------------------------------------------------------------------
def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=4)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: IO[bytes]) -> Any:
    """The next value, or None at end of stream."""
    head = _read_exactly(stream, _LENGTH.size)
    if head is None:
        return None
    body = _read_exactly(stream, _LENGTH.unpack(head)[0])
    if body is None:
        return None
    return pickle.loads(body)  # noqa: S301 - a pipe to our own child process, never a network peer


# -- the node's side ------------------------------------------------------------------------------
def worker_mode(configured: str = "auto") -> str:
    """The mode in force: ``TAKASAGO_EXECUTION_WORKER`` in the environment wins over node.json."""
    mode = os.environ.get(MODE_VARIABLE) or configured
    if mode not in WORKER_MODES:
        raise WorkerRefused(f"{MODE_VARIABLE}/execution.worker must be one of {', '.join(WORKER_MODES)}, not {mode!r}")
    return mode


def pypy_interpreter() -> Path | None:
    """The PyPy environment the bootstrap installs (``.venv-pypy``), or ``TAKASAGO_PYPY``; None if absent."""
    path = pypy_location()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def pypy_location() -> Path:
    configured = os.environ.get(PYPY_VARIABLE)
    return Path(configured) if configured else DEFAULT_PYPY


def interpreter_for(mode: str) -> Path | None:
    """The interpreter to run the worker on, None to execute in-process; ``WorkerRefused`` if ``pypy`` is absent."""
    if mode == "off":
        return None
    if mode == "cpython":
        return Path(sys.executable)
    pypy = pypy_interpreter()
    if pypy is None and mode == "pypy":
        raise WorkerRefused(
            f"execution worker 'pypy' asked for, but no PyPy environment at {pypy_location()} (run "
            f"scripts/bootstrap.sh, or set {PYPY_VARIABLE})"
        )
    return pypy


class ExecutionWorker:
    """The node's handle on one worker process: start, check, execute requests one at a time, restart."""

    def __init__(self, interpreter: Path, chaindata: Path, chain_id: int) -> None:
        self.interpreter = interpreter
        self.chaindata = chaindata.resolve()  # the worker runs in the repository, not in our working directory
        self.chain_id = chain_id
        self.description = ""
        self.warmed = 0  # warm-up transfers the worker had run by its last answer
        self.warm = False  # False while a PyPy worker warms its JIT: the ledger executes in-process meanwhile
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._failed_at = 0.0

    def start(self) -> None:
        """Start the worker and check its stack; ``WorkerRefused`` if it cannot execute for this node."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env.pop("ETH_HASH_BACKEND", None)  # each interpreter's own fast backend (evm_patches.KECCAK_BACKEND)
        env.setdefault("PYPY_GC_NURSERY", PYPY_NURSERY)  # ignored by CPython
        try:
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [str(self.interpreter), "-m", "node.execution_worker", str(self.chaindata), str(self.chain_id)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=str(REPO),
            )
        except OSError as exc:
            raise WorkerRefused(f"cannot start the execution worker {self.interpreter}: {exc}") from None
        self._process = process
        try:
            hello = self._answer(START_SECONDS)
        except WorkerFailed as exc:
            self.close()
            raise WorkerRefused(f"the execution worker on {self.interpreter} did not start: {exc}") from None
        if "refused" in hello:
            self.close()
            raise WorkerRefused(f"the execution worker on {self.interpreter} refused to run: {hello['refused']}")
        for package in MATCHING_PACKAGES:
            ours, theirs = importlib.metadata.version(package), hello["versions"].get(package)
            if theirs != ours:
                self.close()
                raise WorkerRefused(
                    f"the execution worker on {self.interpreter} has {package} {theirs}, the node {ours}: "
                    "both must execute with the same release"
                )
        self.description = f"{hello['implementation']} {hello['python']} (pid {process.pid})"
        self.warm = not hello.get("warming", False)

    def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """One block executed in the worker; ``WorkerFailed`` if it died (it is then restarted later)."""
        with self._lock:
            if self._process is None:
                raise WorkerFailed("the execution worker is not running")
            assert self._process.stdin is not None
            try:
                write_frame(self._process.stdin, request)
            except OSError as exc:  # BrokenPipeError among them
                self._lost(f"cannot send it the block: {exc}")
            answer = self._answer(EXECUTE_SECONDS)
            if "warm" in answer:  # the warm-up's notice, sent before this request arrived
                self._note_warm(answer)
                answer = self._answer(EXECUTE_SECONDS)
        self.warmed = answer.get("warmed", 0)
        if "error" in answer:
            raise WorkerExecutionError(answer["error"], answer.get("validation", False))
        return answer

    def ready(self) -> bool:
        """Running and warm. A cold JIT runs py-evm several times slower than CPython (1.9 s against 0.45 s
        for the first 1,000 transfers, measured), so until the worker says its warm-up is over the
        ledger executes in its own process; the notice arrives unasked, between requests."""
        if not self.running:
            return False
        if not self.warm:
            with self._lock:
                process = self._process
                assert process is not None and process.stdout is not None
                if select.select([process.stdout], [], [], 0)[0]:
                    try:
                        notice = self._answer(1.0)
                    except WorkerFailed:
                        return False
                    self._note_warm(notice)
        return self.warm

    def _note_warm(self, notice: dict[str, Any]) -> None:
        self.warm = True
        self.warmed = notice["warm"]
        log.info("block execution: the worker's JIT is warm (%d transfers run); executing blocks there", self.warmed)

    def _answer(self, timeout: float) -> dict[str, Any]:
        process = self._process
        assert process is not None and process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)  # stdout unbuffered: whole frames or nothing
        if not ready:
            self._lost(f"no answer within {timeout:g} s")
        try:
            answer = read_frame(process.stdout)
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            self._lost(f"unreadable answer: {exc}")
        if answer is None:
            self._lost(f"it exited (status {process.poll()})")
        return answer  # type: ignore[no-any-return]

    def _lost(self, why: str) -> NoReturn:
        self.mark_failed()
        raise WorkerFailed(f"the execution worker stopped: {why}")

    def mark_failed(self) -> None:
        """Kill it (it may be hung), and try again only after ``RESTART_AFTER_SECONDS``."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self.close()
        self._failed_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def restart_due(self) -> bool:
        return not self.running and time.monotonic() - self._failed_at >= RESTART_AFTER_SECONDS

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def decoded_block(
    answer: dict[str, Any], transactions: list[SignedTransactionAPI]
) -> tuple[BlockAPI, list[ReceiptAPI]]:
    """The (unsealed) block and receipts a worker's answer describes, ``transactions`` being those it applied."""
    block_class = TakasagoVM.get_block_class()
    header = rlp.decode(answer["header"], sedes=PragueBlockHeader)
    receipt_builder = block_class.get_receipt_builder()
    receipts = [receipt_builder.decode(encoded) for encoded in answer["receipts"]]
    return block_class(header, transactions=transactions, uncles=[], withdrawals=[]), receipts


# -- the worker's side ----------------------------------------------------------------------------
@dataclass
class _Candidate:
    """A transaction the node checked: its index in the request, the decoded transaction and its sender."""

    index: int
    tx: Any
    sender: Any


class _ReadView(BufferedWrites):
    """The committed chain as one LMDB read transaction shows it, under this block's writes (kept in memory)."""

    def __init__(self, txn: Any) -> None:
        super().__init__()
        self.txn = txn

    def get_durable(self, key: bytes) -> bytes | None:
        return self.txn.get(key)  # type: ignore[no-any-return]


def _execute(chain_class: Any, env: Any, request: dict[str, Any]) -> dict[str, Any]:
    builder = TakasagoVM.get_transaction_builder()
    senders = request["senders"]
    candidates = [
        _Candidate(index, builder.decode(raw), senders[index]) for index, raw in enumerate(request["transactions"])
    ]
    refused: list[str | None] = request.get("refused") or [None] * len(candidates)
    with env.begin(buffers=False) as txn:
        view = _ReadView(txn)
        chain = chain_class(AtomicDB(view))
        parent = chain.get_block_header_by_hash(request["parent"])
        vm, header = open_block(chain, parent, **request["fields"])
        body = apply_body(
            vm,
            header,
            candidates,
            prevalidated,
            building=request["building"],
            refuse=lambda candidate: refused[candidate.index],
        )
        block = finish_block(vm, body, [c.tx for c in body.applied])
    return {
        "header": rlp.encode(block.header),
        "receipts": [receipt.encode() for receipt in body.receipts],
        "applied": [c.index for c in body.applied],
        "dropped": [(c.index, reason) for c, reason in body.dropped],
        "writes": view.buffered,
    }


class _ScratchEnv:
    """An in-memory stand-in for the LMDB environment: ``begin()`` gives a read view with ``get``."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    @contextmanager
    def begin(self, buffers: bool = False) -> Iterator[Any]:
        yield self.data


def _warm_up(chain_class: Any, chain_id: int, transactions: int) -> Iterator[int]:
    """A generator that runs ``transactions`` EIP-1559 ERC-20 transfers through :func:`_execute` itself on a
    scratch chain in memory, yielding after each block of ``WARM_UP_BLOCK``: raw transactions decoded, the
    read view, the VM, the roots, the answer's encoding — what the JIT must compile for requests. (Measured:
    a synthetic loop of legacy transactions on py-evm's memory database left blocks 2.5x slower than
    after real ones.) Nothing of it reaches the node.
    """
    env = _ScratchEnv()
    holder = bytes.fromhex("7e57" * 10)
    timestamp = 1_800_000_000
    params = {
        "difficulty": 0, "gas_limit": 100_000_000, "timestamp": timestamp, "extra_data": b"",
        "nonce": b"\0" * 8, "base_fee_per_gas": 0, "coinbase": b"\0" * 20,
    }  # fmt: skip
    genesis = chain_class.from_genesis(
        AtomicDB(MemoryDB(cast(Any, env.data))),
        params,
        {holder: {"balance": 0, "nonce": 0, "code": b"", "storage": {}}},
    )
    parent = genesis.get_canonical_head()
    creation = bytes.fromhex(json.loads((REPO / "contracts" / "build" / "TestToken.json").read_text())["bytecode"][2:])
    token = generate_contract_address(cast(Any, holder), 0)

    def raw(nonce: int, to: bytes, data: bytes, gas: int) -> bytes:
        # an EIP-1559 transaction never signed (r = s = 1 satisfy EIP-2's bounds): the sender rides along
        return b"\x02" + rlp.encode([chain_id, nonce, 0, 0, gas, to, 0, data, [], 0, 1, 1])

    nonce = done = 0
    decode = TakasagoVM.get_transaction_builder().decode
    while done < transactions:
        if nonce == 0:
            batch = [raw(0, b"", creation + holder.rjust(32, b"\0") + (10**30).to_bytes(32, "big"), 3_000_000)]
        else:
            batch = [
                raw(nonce + i, token, bytes.fromhex("a9059cbb") + (1 + (nonce + i) % 200).to_bytes(32, "big")
                    + (1).to_bytes(32, "big"), 100_000)
                for i in range(WARM_UP_BLOCK)
            ]  # fmt: skip
            done += len(batch)
        timestamp += 1
        fields = {"coinbase": b"\0" * 20, "timestamp": timestamp, "gas_limit": 100_000_000}
        request = {
            "parent": parent.hash, "fields": fields, "transactions": batch, "senders": [holder] * len(batch),
            "refused": None, "building": True,
        }  # fmt: skip
        answer = _execute(chain_class, env, request)
        env.data.update({key: value for key, value in answer["writes"].items() if value is not None})
        block, _receipts = decoded_block(answer, [decode(batch[i]) for i in answer["applied"]])
        chain_class(AtomicDB(MemoryDB(cast(Any, env.data)))).chaindb.persist_block(block)  # the node's commit, in short
        parent = block.header
        nonce += len(batch)
        yield done


def _normal_priority() -> None:
    """Back to the node's priority for executing blocks (allowed to root; otherwise it stays low, logged)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except PermissionError:
        print("execution worker: cannot restore normal priority after warm-up (not root); executing at nice 19",
              file=sys.stderr)  # fmt: skip


def _versions() -> dict[str, str]:
    names = ("py-evm", "trie", "rlp", "eth-hash")
    return {name: importlib.metadata.version(name) for name in names}


def serve(chaindata: Path, chain_id: int) -> None:
    """The worker's loop: hello, then one answer per request until the node closes the pipe."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the frames
    inp: Any = sys.stdin.buffer.raw  # type: ignore[union-attr]  # unbuffered: select() on it says truly whether a request waits
    try:
        import lmdb

        from node.execution import chain_class_for
        from node.storage import DEFAULT_MAP_SIZE

        chain_class = chain_class_for(chain_id)  # checks and installs evm_patches for this interpreter's stack
        env = lmdb.open(
            str(chaindata), map_size=DEFAULT_MAP_SIZE, subdir=True, readonly=True, lock=True, readahead=False
        )
    except Exception as exc:  # reported to the node, which refuses the worker and says why
        write_frame(out, {"refused": f"{type(exc).__name__}: {exc}"})
        return
    budget = int(os.environ.get(WARM_UP_VARIABLE, WARM_UP_TRANSACTIONS))
    warm_up = budget > 0 and platform.python_implementation() == "PyPy"  # nothing to warm on CPython
    write_frame(
        out,
        {"implementation": platform.python_implementation(), "python": platform.python_version(),
         "versions": _versions(), "warming": warm_up},
    )  # fmt: skip
    from eth_utils import ValidationError

    warming = _warm_up(chain_class, chain_id, budget) if warm_up else None
    if warming is not None:
        # warming up is for later speed only: at the lowest priority it takes only CPU nothing else wants
        # (four validators on two cores started together: warm-ups at normal priority starved the nodes)
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    warmed = 0
    while True:
        if warming is not None and not select.select([inp], [], [], 0)[0]:
            try:
                warmed = next(warming)
                continue
            except StopIteration:
                pass
            except Exception as exc:  # warming up is only for speed: never a reason to stop serving
                print(f"execution worker: warm-up stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
            warming = None
            _normal_priority()
            write_frame(out, {"warm": warmed})  # unasked, between requests: the node reads it before the next
            continue
        request = read_frame(inp)
        if request is None:
            return
        try:
            answer = _execute(chain_class, env, request)
        except Exception as exc:  # answered, not fatal: the node raises it as in-process execution would
            answer = {"error": str(exc) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}",
                      "validation": isinstance(exc, ValidationError)}  # fmt: skip
        answer["warmed"] = warmed  # transactions of warm-up run so far (the node logs it at DEBUG)
        write_frame(out, answer)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
