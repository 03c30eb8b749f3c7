// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title TestToken
 * @notice Test-only OpenZeppelin ERC20 ("Test Token", "TST", 18 decimals) for node
 * and client tests. Never deployed on a real ledger.
 */
contract TestToken is ERC20 {
    /// @param holder receives the whole initial supply.
    /// @param supply the initial supply, in base units (18 decimals).
    constructor(address holder, uint256 supply) ERC20("Test Token", "TST") {
        _mint(holder, supply);
    }
}
