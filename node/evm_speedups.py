"""Hot-path replacements for py-evm internals whose results we reproduce exactly.

Each replacement computes the same thing with less Python work; the differential
test against anvil (tests/test_differential_anvil.py) and the unit tests beside
each guard that they agree with the original.
"""

from __future__ import annotations

from eth.vm.code_stream import CodeStream
from eth.vm.opcode_values import PUSH1, PUSH32

ORIGINAL_IS_VALID_OPCODE = CodeStream.is_valid_opcode
_ANALYSIS_CACHE: dict[bytes, bytes] = {}
_ANALYSIS_CACHE_LIMIT = 512


def code_start_bitmap(code: bytes) -> bytes:
    """b"\\x01" at every position that starts an instruction, b"\\x00" inside PUSH data.

    One forward pass per distinct contract code, cached (geth's "code bitmap"),
    instead of py-evm's backward search over the 32 preceding bytes at every jump.
    """
    cached = _ANALYSIS_CACHE.get(code)
    if cached is not None:
        return cached
    starts = bytearray(len(code))
    position = 0
    length = len(code)
    while position < length:
        starts[position] = 1
        opcode = code[position]
        position += opcode - PUSH1 + 2 if PUSH1 <= opcode <= PUSH32 else 1
    result = bytes(starts)
    if len(_ANALYSIS_CACHE) >= _ANALYSIS_CACHE_LIMIT:
        _ANALYSIS_CACHE.clear()
    _ANALYSIS_CACHE[code] = result
    return result


def _is_valid_opcode(self: CodeStream, position: int) -> bool:
    if position >= self._length_cache:
        return False
    return code_start_bitmap(self._raw_code_bytes)[position] == 1


def install() -> None:
    CodeStream.is_valid_opcode = _is_valid_opcode  # type: ignore[method-assign]
