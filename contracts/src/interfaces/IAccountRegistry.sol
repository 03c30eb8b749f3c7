// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IAccountRegistry
 * @notice What the point contracts (and the node) ask the account registry: who an
 * account is, whether it is active, and which roles it holds.
 */
interface IAccountRegistry {
    /// @notice What an account is; decides which point movements it may take part in.
    enum Kind {
        None,
        Resident,
        Merchant,
        City,
        Oracle,
        Validator,
        // Appended (issue 21): a business (法人) registered by the city; pays shops and other
        // businesses and rewards residents from its own points (RegionalPoints, "local circulation").
        Business
    }

    /// @notice Only `Active` accounts may transact or hold points; `Revoked` is final.
    enum Status {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @notice A registry entry. `recordHash` commits to the off-chain real-name record.
    struct Account {
        Kind kind;
        Status status;
        bytes32 recordHash;
    }

    /// @notice True when `account` holds `role` (AccessControl).
    function hasRole(bytes32 role, address account) external view returns (bool);

    /// @notice True when `account` is registered and active (the node's allowlist).
    function isAllowed(address account) external view returns (bool);

    /// @notice The registry entry of `account`; all zero when unknown.
    function accountOf(address account) external view returns (Account memory);

    /// @notice The kinds of `a` and `b`, or `Kind.None` for an account that is not active.
    function activeKindsOf(address a, address b) external view returns (Kind kindA, Kind kindB);

    /// @notice The kind of each account, or `Kind.None` for one that is not active.
    function activeKindsOfBatch(address[] calldata accounts) external view returns (Kind[] memory kinds);

    /// @notice The account that replaced `account` after a recovery, or zero.
    function successorOf(address account) external view returns (address);
}
