// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/**
 * @title TakasagoProxy
 * @notice The ERC-1967 proxy every point contract lives behind. Upgrades are UUPS:
 * the implementation decides who may upgrade (the registry's ADMIN role).
 */
contract TakasagoProxy is ERC1967Proxy {
    /// @param implementation the first implementation.
    /// @param data the initializer call, delegated to `implementation` at construction.
    constructor(address implementation, bytes memory data) payable ERC1967Proxy(implementation, data) {}
}
