// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IThanksBonus
 * @notice A city-funded bonus on thanks: the token calls it after every thanks.
 * Implementations must not revert for ordinary reasons (cap reached, budget spent):
 * a thanks never fails because its bonus cannot be paid.
 */
interface IThanksBonus {
    /// @notice Called by the token after `from` thanked `to` with `amount` points.
    function onThanks(address from, address to, uint256 amount, bytes32 category) external;
}
