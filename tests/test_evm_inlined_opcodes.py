"""The interpreter loop runs the common opcodes itself only where py-evm's table runs the logic it reproduces.

Equivalence of the results with stock py-evm is proven by ``tests/test_evm_equivalence.py``
(project contracts and generated programs, underflows and bad jumps included); these check
the guard that decides which opcodes the loop may run itself, and the PUSH words it reads.
"""

from __future__ import annotations

from eth.vm.logic import arithmetic
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import ADD, DUP16, JUMPI, MSTORE, PUSH1, PUSH2, PUSH32, SLOAD, SWAP1

from node.evm_speedups import ADD as ADD_KIND
from node.evm_speedups import GENERIC, PUSH, inline_kinds, push_immediates
from node.execution import TakasagoComputation


def test_the_node_vm_runs_the_common_opcodes_in_the_loop() -> None:
    kinds = inline_kinds(TakasagoComputation.opcodes)
    assert kinds[PUSH1] == kinds[PUSH32] == PUSH
    assert kinds[ADD] == ADD_KIND
    assert all(kinds[op] != GENERIC for op in (DUP16, SWAP1, JUMPI, MSTORE))
    assert kinds[SLOAD] == GENERIC  # storage, calls, logs... stay py-evm's


def test_an_opcode_running_other_logic_is_left_to_py_evm() -> None:
    """A fork (or a library change) that gives ADD other logic must not get the loop's ADD."""
    opcodes = dict(TakasagoComputation.opcodes)
    opcodes[ADD] = _FastOpcode(arithmetic.sub, "ADD", 3)
    opcodes[PUSH2] = _FastOpcode(arithmetic.add, "PUSH2", 3)
    kinds = inline_kinds(opcodes)
    assert kinds[ADD] == GENERIC and kinds[PUSH2] == GENERIC
    assert kinds[PUSH1] == PUSH


def test_push_words_are_read_as_py_evm_pads_them() -> None:
    # PUSH2 0x0102, PUSH1 0xff, then a PUSH3 cut short by the end of the code (zero-padded on the right).
    code = bytes([PUSH2, 0x01, 0x02, PUSH1, 0xFF, PUSH1 + 2, 0xAB])
    words = push_immediates(code)
    assert words[0] == 0x0102 and words[3] == 0xFF
    assert words[5] == 0xAB0000
