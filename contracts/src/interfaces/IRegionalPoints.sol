// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRegionalPoints
 * @notice The minting side of the point token, as the reward programmes use it.
 */
interface IRegionalPoints {
    /// @notice Mints `amount` points to resident `to`, expiring at the end of `expiryMonth` (JST).
    function mint(address to, uint256 amount, uint256 expiryMonth) external;

    /// @notice Mints to many residents, all into the bucket of `expiryMonth`.
    function mintBatch(address[] calldata to, uint256[] calldata amounts, uint256 expiryMonth) external;
}
