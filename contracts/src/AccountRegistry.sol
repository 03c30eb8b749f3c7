// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title AccountRegistry
 * @notice The on-chain allowlist of the Takasago points ledger. The node admits a
 * transaction only if its sender is an active account here, both when the
 * transaction enters the pool and again when a block is validated. Predeployed in
 * genesis at a fixed address and governed by the city's admin role.
 *
 * @dev Personal data never goes on-chain: an account carries only its kind, its
 * status and a hash of the off-chain real-name record kept by the wallet API.
 * The point contracts grow this registry (recovery, validator votes); the node
 * relies only on {isAllowed} and {validators}.
 */
contract AccountRegistry is AccessControl {
    /// @notice Officers who may register accounts and change their status.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    enum Kind {
        None,
        Resident,
        Merchant,
        City,
        Oracle,
        Validator
    }

    enum Status {
        None,
        Active,
        Suspended,
        Revoked
    }

    struct Account {
        Kind kind;
        Status status;
        bytes32 recordHash;
    }

    mapping(address account => Account) private _accounts;
    address[] private _validators;

    /// @notice Emitted when an account is first registered.
    event AccountRegistered(address indexed account, Kind kind, bytes32 recordHash);
    /// @notice Emitted whenever an account's status changes.
    event AccountStatusChanged(address indexed account, Status previousStatus, Status newStatus);
    /// @notice Emitted when the validator set is replaced.
    event ValidatorsChanged(address[] validators);

    /// @dev The account is already registered.
    error AccountAlreadyRegistered(address account);
    /// @dev The account is not registered.
    error AccountNotRegistered(address account);
    /// @dev A zero address or a `None` kind/status was given.
    error InvalidAccount(address account);

    /**
     * @param admin the city's admin account: DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE.
     * @param cityAccounts further city accounts registered active at genesis.
     * @param validators_ the initial validator set, registered active.
     */
    constructor(address admin, address[] memory cityAccounts, address[] memory validators_) {
        if (admin == address(0)) revert InvalidAccount(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        _register(admin, Kind.City, bytes32(0));
        for (uint256 i = 0; i < cityAccounts.length; ++i) {
            if (_accounts[cityAccounts[i]].kind == Kind.None) _register(cityAccounts[i], Kind.City, bytes32(0));
        }
        for (uint256 i = 0; i < validators_.length; ++i) {
            if (_accounts[validators_[i]].kind == Kind.None) _register(validators_[i], Kind.Validator, bytes32(0));
        }
        _validators = validators_;
        emit ValidatorsChanged(validators_);
    }

    /**
     * @notice Registers `account` as active.
     * @dev Only REGISTRAR_ROLE. Emits {AccountRegistered} and {AccountStatusChanged}.
     */
    function register(address account, Kind kind, bytes32 recordHash) external onlyRole(REGISTRAR_ROLE) {
        if (_accounts[account].kind != Kind.None) revert AccountAlreadyRegistered(account);
        _register(account, kind, recordHash);
    }

    /**
     * @notice Sets the status of a registered account (suspend, revoke, reactivate).
     * @dev Only REGISTRAR_ROLE. Emits {AccountStatusChanged}.
     */
    function setStatus(address account, Status status) external onlyRole(REGISTRAR_ROLE) {
        Account storage a = _accounts[account];
        if (a.kind == Kind.None) revert AccountNotRegistered(account);
        if (status == Status.None) revert InvalidAccount(account);
        Status previous = a.status;
        a.status = status;
        emit AccountStatusChanged(account, previous, status);
    }

    /// @notice True when `account` may send transactions: registered and active.
    function isAllowed(address account) external view returns (bool) {
        return _accounts[account].status == Status.Active;
    }

    /// @notice The registry entry of `account` (all zero when unknown).
    function accountOf(address account) external view returns (Account memory) {
        return _accounts[account];
    }

    /// @notice The current validator set.
    function validators() external view returns (address[] memory) {
        return _validators;
    }

    function _register(address account, Kind kind, bytes32 recordHash) private {
        if (account == address(0) || kind == Kind.None) revert InvalidAccount(account);
        _accounts[account] = Account({kind: kind, status: Status.Active, recordHash: recordHash});
        emit AccountRegistered(account, kind, recordHash);
        emit AccountStatusChanged(account, Status.None, Status.Active);
    }
}
