// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegionalPoints} from "../RegionalPoints.sol";

/**
 * @title RegionalPointsV2
 * @notice Test-only second version of the token, to prove an upgrade keeps balances,
 * buckets and history. Adds one function and changes nothing in storage.
 */
contract RegionalPointsV2 is RegionalPoints {
    /// @notice The implementation version.
    function version() external pure returns (string memory) {
        return "2";
    }
}
