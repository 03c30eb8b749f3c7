// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IHelpEscrow
 * @notice The escrow side of the point token, as the help board uses it (issue 18).
 */
interface IHelpEscrow {
    /// @notice Moves `amount` of resident `from`'s unexpired points into escrow `escrowId`, months kept.
    function lockInEscrow(address from, bytes32 escrowId, uint256 amount) external;

    /// @notice Pays up to `amount` of escrow `escrowId`'s unexpired points to resident `to`; returns what moved.
    function releaseEscrow(bytes32 escrowId, address to, uint256 amount) external returns (uint256 released);

    /// @notice The JST month index of the current block.
    function currentMonth() external view returns (uint256);
}
