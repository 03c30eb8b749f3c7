// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccountRegistry} from "./IAccountRegistry.sol";

/**
 * @title IAccountKindsMirror
 * @notice A contract that keeps its own copy of the registry's active kinds (the point token,
 * so that moving points needs no call to the registry), and the pushes the registry makes to it.
 *
 * The AccountRegistry pushes to the one mirror its admin linked ({AccountRegistry-setKindsMirror}):
 * it tells the mirror when it is linked and unlinked, and sends every change of an account's
 * active kind (registration, suspension, reactivation, revocation, recovery) in the same
 * transaction as the change. A mirror accepts these calls from its registry only.
 */
interface IAccountKindsMirror {
    /// @notice The registry starts (`linked`) or stops pushing active kinds to this contract.
    /// Copies made under an earlier link are no longer trusted.
    function onKindsMirrorLinked(bool linked) external;

    /// @notice `accounts` are now active as `activeKind` (`Kind.None`: not active).
    function mirrorKinds(address[] calldata accounts, IAccountRegistry.Kind activeKind) external;
}
