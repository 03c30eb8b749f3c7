// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title Probe
 * @notice Test-only contract for differential and JSON-RPC tests: one storage
 * slot with an event, each kind of revert (custom error, Error(string),
 * Panic(uint256)), a gas burner and a calldata echo. Never deployed on a real
 * ledger.
 */
contract Probe {
    /// @notice The last value passed to {set} (storage slot 0).
    uint256 public value;

    /// @dev Slots written by {burnGas}.
    mapping(uint256 index => uint256) private _scratch;

    /// @notice Emitted by {set}.
    event ValueSet(address indexed by, uint256 value);

    /// @dev Raised by {fail}.
    error ProbeFailed(uint256 code);

    /// @notice Stores `v` in {value} and emits {ValueSet}.
    function set(uint256 v) external {
        value = v;
        emit ValueSet(msg.sender, v);
    }

    /// @notice Always reverts with the custom error `ProbeFailed(code)`.
    function fail(uint256 code) external pure {
        revert ProbeFailed(code);
    }

    /// @notice Always reverts with `Error("probe: failure")`.
    function failWithMessage() external pure {
        require(false, "probe: failure");
    }

    /// @notice Always reverts with `Panic(0x01)` (failed assertion).
    function panic() external pure {
        assert(false);
    }

    /// @notice Performs `loops` SSTOREs, each changing a distinct slot, to burn gas.
    function burnGas(uint256 loops) external {
        for (uint256 i = 0; i < loops; ++i) {
            _scratch[i] += 1;
        }
    }

    /// @notice Returns `data` unchanged.
    function echo(bytes calldata data) external pure returns (bytes memory) {
        return data;
    }
}
