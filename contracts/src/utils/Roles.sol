// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title Roles
 * @notice The role identifiers held in the AccountRegistry and checked by every
 * point contract. ADMIN is AccessControl's DEFAULT_ADMIN_ROLE (the city).
 */
library Roles {
    /// @notice The city: grants roles, upgrades contracts, defines programmes.
    bytes32 internal constant ADMIN = 0x00;
    /// @notice Officers who register residents and merchants, change their status and
    /// recover lost accounts (announced, then completed after the recovery delay).
    bytes32 internal constant REGISTRAR = keccak256("REGISTRAR_ROLE");
    /// @notice An online service (the wallet API's key) that only registers new residents
    /// and merchants an officer verified: no status changes, no recovery, no balances.
    bytes32 internal constant ENROLLER = keccak256("ENROLLER_ROLE");
    /// @notice May mint points; held by the RewardProgrammes contract, and by officers
    /// for the administrative-points programme.
    bytes32 internal constant MINTER = keccak256("MINTER_ROLE");
    /// @notice Oracle operators who sign CO2 reports.
    bytes32 internal constant ORACLE = keccak256("ORACLE_ROLE");
    /// @notice May pause and unpause point movements in an emergency.
    bytes32 internal constant PAUSER = keccak256("PAUSER_ROLE");
    /// @notice Held by the OracleReports contract: attests for programmes whose
    /// evidence is a quorum-signed report.
    bytes32 internal constant QUORUM_REPORTER = keccak256("QUORUM_REPORTER_ROLE");
}
