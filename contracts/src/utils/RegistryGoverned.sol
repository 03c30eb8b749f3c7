// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

import {IAccountRegistry} from "../interfaces/IAccountRegistry.sol";
import {Roles} from "./Roles.sol";

/**
 * @title RegistryGoverned
 * @notice Base of the point contracts: roles are held in the AccountRegistry (one
 * place to grant and revoke them), and only its ADMIN may upgrade the contract.
 *
 * @dev Role failures revert with AccessControl's own
 * `AccessControlUnauthorizedAccount(account, role)`, so a client decodes one error
 * whichever contract refused.
 */
abstract contract RegistryGoverned is Initializable, UUPSUpgradeable {
    /// @dev The registry address given at initialization is zero.
    error RegistryRequired();

    modifier onlyRegistryRole(bytes32 role) {
        _checkRegistryRole(role, msg.sender);
        _;
    }

    /// @notice The AccountRegistry whose roles and accounts this contract obeys.
    function registry() public view virtual returns (IAccountRegistry);

    function _checkRegistryRole(bytes32 role, address account) internal view {
        if (!registry().hasRole(role, account)) revert IAccessControl.AccessControlUnauthorizedAccount(account, role);
    }

    function _authorizeUpgrade(address) internal view override onlyRegistryRole(Roles.ADMIN) {}
}
