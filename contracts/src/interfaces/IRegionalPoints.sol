// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccountRegistry} from "./IAccountRegistry.sol";

/**
 * @title IRegionalPoints
 * @notice The minting side of the point token, and the payout of business programmes, as the
 * reward programmes use them.
 */
interface IRegionalPoints {
    /// @notice Mints `amount` points to resident `to`, expiring at the end of `expiryMonth` (JST).
    function mint(address to, uint256 amount, uint256 expiryMonth) external;

    /// @notice Mints to many residents, all into the bucket of `expiryMonth`.
    function mintBatch(address[] calldata to, uint256[] calldata amounts, uint256 expiryMonth) external;

    /// @notice Pays a claim of business programme `programmeId`: `amount` of `business`'s points to `resident`.
    function rewardFromProgramme(address business, address resident, uint256 amount, uint256 programmeId) external;

    /// @notice The points `account` can spend now.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The active kind of each account (`Kind.None`: not active), as the registry answers,
    /// read from the token's copy of the registry's kinds where it holds a current one.
    function activeKindsOfBatch(address[] calldata accounts) external view returns (IAccountRegistry.Kind[] memory);
}
