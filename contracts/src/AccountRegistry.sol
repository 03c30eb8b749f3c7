// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

import {IAccountKindsMirror} from "./interfaces/IAccountKindsMirror.sol";
import {IAccountRegistry} from "./interfaces/IAccountRegistry.sol";
import {Roles} from "./utils/Roles.sol";

/**
 * @title AccountRegistry
 * @notice Who may take part in the Takasago points ledger, and in which role.
 *
 * The node admits a transaction only if its sender is active here (when the
 * transaction enters the pool and again when a block is validated); the point
 * contracts ask it which kind of account each party is and who holds which role.
 * It lives behind a UUPS proxy predeployed in genesis at a fixed address.
 *
 * The point token keeps a copy of every account's active kind, so that moving points
 * needs no call here: the admin links it ({setKindsMirror}) and every change of an
 * account's active kind is pushed to it in the same transaction ({IAccountKindsMirror}).
 *
 * @dev Personal data never goes on-chain: an account carries only its kind, its
 * status and a hash of the off-chain real-name record kept by the wallet API.
 * Every state change emits an event (the node clears its allowlist cache on any
 * event from this address). Storage follows ERC-7201 so upgrades cannot collide.
 */
contract AccountRegistry is IAccountRegistry, Initializable, AccessControlUpgradeable, UUPSUpgradeable {
    /// @notice Officers who register residents and merchants, change their status and recover lost accounts.
    bytes32 public constant REGISTRAR_ROLE = Roles.REGISTRAR;
    /// @notice May only register new residents and merchants (the wallet service's online key).
    bytes32 public constant ENROLLER_ROLE = Roles.ENROLLER;
    /// @notice May mint points (the RewardProgrammes contract; officers for administrative points).
    bytes32 public constant MINTER_ROLE = Roles.MINTER;
    /// @notice Oracle operators who sign CO2 reports.
    bytes32 public constant ORACLE_ROLE = Roles.ORACLE;
    /// @notice May pause point movements in an emergency.
    bytes32 public constant PAUSER_ROLE = Roles.PAUSER;
    /// @notice Held by the OracleReports contract.
    bytes32 public constant QUORUM_REPORTER_ROLE = Roles.QUORUM_REPORTER;

    /// @notice How long an announced recovery waits before {recover} may complete it,
    /// unless the admin set another delay ({setRecoveryDelay}).
    uint256 public constant DEFAULT_RECOVERY_DELAY = 72 hours;
    /// @notice The shortest delay {setRecoveryDelay} accepts.
    uint256 public constant MIN_RECOVERY_DELAY = 1 hours;
    /// @notice The longest delay {setRecoveryDelay} accepts.
    uint256 public constant MAX_RECOVERY_DELAY = 30 days;

    /// @dev A recovery announced by an officer: `lost` may be replaced by `newAccount` from `executableAt`.
    struct RecoveryAnnouncement {
        address newAccount;
        uint64 executableAt;
    }

    /// @custom:storage-location erc7201:takasago.storage.AccountRegistry
    struct RegistryStorage {
        mapping(address account => Account) accounts;
        mapping(address account => address) successors;
        address[] validators;
        // Validator votes: a proposal is keccak(set version, candidate, add); a set change bumps the version.
        uint256 validatorSetVersion;
        mapping(bytes32 proposal => mapping(address voter => bool)) validatorVoted;
        mapping(bytes32 proposal => uint256) validatorVotes;
        // Appended (upgrade-safe): announced recoveries and the delay before they take effect (0: the default).
        mapping(address lostAccount => RecoveryAnnouncement) recoveries;
        uint64 recoveryDelay;
        // Appended (issue 21, gas): the contract every change of an account's active kind is pushed to.
        IAccountKindsMirror kindsMirror;
    }

    // keccak256(abi.encode(uint256(keccak256("takasago.storage.AccountRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x8f2346065e1dfee527e0970f816ae16d50908f58d098438cc88ee30d42752300;

    /// @notice An account was registered (active).
    event AccountRegistered(address indexed account, Kind kind, bytes32 recordHash);
    /// @notice An account's status changed.
    event AccountStatusChanged(address indexed account, Status previousStatus, Status newStatus);
    /// @notice The hash of an account's off-chain record changed (the record was corrected).
    event RecordHashChanged(address indexed account, bytes32 previousHash, bytes32 newHash);
    /// @notice A lost account was revoked and replaced; balances follow via the token's recovery.
    event AccountRecovered(address indexed lostAccount, address indexed newAccount, address indexed officer);
    /// @notice An officer announced that `lostAccount` will be replaced by `newAccount`; {recover}
    /// may complete it from `executableAt`, unless the account or an officer cancels it first.
    event RecoveryAnnounced(
        address indexed lostAccount,
        address indexed newAccount,
        address indexed officer,
        uint256 executableAt
    );
    /// @notice An announced recovery was cancelled by `by` (the account itself or an officer).
    event RecoveryCancelled(address indexed lostAccount, address indexed newAccount, address indexed by);
    /// @notice The delay between announcing a recovery and completing it changed.
    event RecoveryDelayChanged(uint256 delay);
    /// @notice Changes of accounts' active kinds are now pushed to `mirror` instead of `previous` (zero: none).
    event KindsMirrorChanged(address indexed previous, address indexed mirror);
    /// @notice The validator set changed (at genesis, or by a vote of the validators).
    event ValidatorsChanged(address[] validators);
    /// @notice A validator voted to add (`add`) or remove `candidate`; the set changes once `votes` reaches `needed`.
    event ValidatorVoteCast(address indexed voter, address indexed candidate, bool add, uint256 votes, uint256 needed);

    /// @dev The account is already registered.
    error AccountAlreadyRegistered(address account);
    /// @dev The account is not registered.
    error AccountNotRegistered(address account);
    /// @dev A zero address, or a `None` kind or status, was given.
    error InvalidAccount(address account);
    /// @dev Revoked accounts never return (their key is lost or compromised).
    error AccountIsRevoked(address account);
    /// @dev Only residents, merchants and businesses are recovered to a new address.
    error NotRecoverable(address account, Kind kind);
    /// @dev The account was already recovered to `successor` (recover the successor instead).
    error AccountAlreadyRecovered(address account, address successor);
    /// @dev `newAccount` may not replace `lostAccount` (zero, the same address, or not fresh).
    error InvalidSuccessor(address lostAccount, address newAccount);
    /// @dev A recovery of `lostAccount` (to `newAccount`) is already announced; cancel it first.
    error RecoveryAlreadyAnnounced(address lostAccount, address newAccount, uint256 executableAt);
    /// @dev No recovery of `lostAccount` to `newAccount` was announced (zero: none at all).
    error RecoveryNotAnnounced(address lostAccount, address newAccount);
    /// @dev The announced recovery may only be completed from `executableAt`.
    error RecoveryDelayNotElapsed(address lostAccount, uint256 executableAt, uint256 now_);
    /// @dev Only the account itself or an officer (REGISTRAR) cancels a recovery.
    error NotAllowedToCancel(address lostAccount, address caller);
    /// @dev A recovery delay outside [MIN_RECOVERY_DELAY, MAX_RECOVERY_DELAY].
    error RecoveryDelayOutOfRange(uint256 delay);
    /// @dev Registrars register residents, merchants and businesses; other kinds need the admin.
    error KindRequiresAdmin(Kind kind);
    /// @dev Array arguments of different lengths.
    error LengthMismatch(uint256 expected, uint256 actual);
    /// @dev The validator set may not be empty or contain duplicates / the zero address.
    error InvalidValidatorSet();
    /// @dev Only a current validator votes on the validator set.
    error NotAValidator(address account);
    /// @dev This validator already cast this vote for the current set.
    error ValidatorVoteAlreadyCast(address voter, address candidate, bool add);
    /// @dev The vote would change nothing (already in / not in the set), remove the last validator,
    /// or add the zero address or a revoked account.
    error NoValidatorChange(address candidate, bool add);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @notice Sets up the registry (called once, through the proxy, at genesis).
     * @param admin the city's admin account: ADMIN and REGISTRAR roles, registered as City.
     * @param cityAccounts further city accounts registered active.
     * @param validators_ the initial validator set, registered active as Validator.
     */
    function initialize(
        address admin,
        address[] calldata cityAccounts,
        address[] calldata validators_
    ) external initializer {
        if (admin == address(0)) revert InvalidAccount(admin);
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        _register(admin, Kind.City, bytes32(0));
        RegistryStorage storage $ = _storage();
        for (uint256 i = 0; i < cityAccounts.length; ++i) {
            if ($.accounts[cityAccounts[i]].kind == Kind.None) _register(cityAccounts[i], Kind.City, bytes32(0));
        }
        _setValidators(validators_);
    }

    // ---------------------------------------------------------------- registration

    /**
     * @notice Registers `account` as an active `kind` account whose off-chain record hashes to `recordHash`.
     * @dev ENROLLER_ROLE or REGISTRAR_ROLE for residents, merchants and businesses (a
     * business is registered by the city after an officer checked it); the admin for every
     * other kind. Emits {AccountRegistered} and {AccountStatusChanged}.
     */
    function register(address account, Kind kind, bytes32 recordHash) external {
        _checkMayEnrol(kind);
        if (_storage().accounts[account].kind != Kind.None) revert AccountAlreadyRegistered(account);
        _register(account, kind, recordHash);
        _mirrorKind(account, kind);
    }

    /**
     * @notice Registers many accounts of one kind at once (bulk onboarding from a CSV).
     * @dev As {register}; accounts already registered with the same kind and record
     * hash are skipped, so a re-sent batch is harmless. The new accounts reach the kinds
     * mirror in one call.
     */
    function registerBatch(address[] calldata accounts, Kind kind, bytes32[] calldata recordHashes) external {
        _checkMayEnrol(kind);
        if (accounts.length != recordHashes.length) revert LengthMismatch(accounts.length, recordHashes.length);
        RegistryStorage storage $ = _storage();
        address[] memory registered = new address[](accounts.length);
        uint256 count;
        for (uint256 i = 0; i < accounts.length; ++i) {
            Account storage existing = $.accounts[accounts[i]];
            if (existing.kind == Kind.None) {
                _register(accounts[i], kind, recordHashes[i]);
                registered[count++] = accounts[i];
            } else if (existing.kind != kind || existing.recordHash != recordHashes[i]) {
                revert AccountAlreadyRegistered(accounts[i]);
            }
        }
        // Trim to the `count` accounts registered now (count <= accounts.length).
        assembly {
            mstore(registered, count)
        }
        if (count != 0) _mirrorKinds(registered, kind);
    }

    /**
     * @notice Suspends, reactivates or revokes a registered account.
     * @dev REGISTRAR_ROLE, an officer's own key (the admin for accounts that are not
     * residents, merchants or businesses); ENROLLER_ROLE may not.
     * A revoked account can never change status again. Emits {AccountStatusChanged}.
     */
    function setStatus(address account, Status status) external {
        Account storage a = _storage().accounts[account];
        if (a.kind == Kind.None) revert AccountNotRegistered(account);
        _checkMayManage(a.kind);
        if (status == Status.None) revert InvalidAccount(account);
        Status previous = a.status;
        if (previous == Status.Revoked) revert AccountIsRevoked(account);
        if (previous == status) return;
        a.status = status;
        emit AccountStatusChanged(account, previous, status);
        _mirrorKind(account, status == Status.Active ? a.kind : Kind.None);
    }

    /**
     * @notice Replaces the hash of an account's off-chain record after the record was corrected.
     * @dev REGISTRAR_ROLE (the admin for accounts that are not residents, merchants or
     * businesses). Emits {RecordHashChanged}.
     */
    function setRecordHash(address account, bytes32 recordHash) external {
        Account storage a = _storage().accounts[account];
        if (a.kind == Kind.None) revert AccountNotRegistered(account);
        _checkMayManage(a.kind);
        emit RecordHashChanged(account, a.recordHash, recordHash);
        a.recordHash = recordHash;
    }

    /**
     * @notice First step of a recovery after a lost phone or key: an officer announces that
     * `lostAccount` will be replaced by `newAccount`. Nothing changes yet; {recover}
     * completes it once {recoveryDelay} has passed, unless the account itself or an officer
     * cancels it ({cancelRecovery}) in the meantime. The delay gives the resident, the
     * wallet and the other officers time to see the announcement (an event) and stop a
     * recovery made with a stolen or misused officer key.
     * @dev REGISTRAR_ROLE; residents, merchants and businesses only; one announcement per
     * account at a time. Emits {RecoveryAnnounced}.
     */
    function announceRecovery(address lostAccount, address newAccount) external onlyRole(REGISTRAR_ROLE) {
        RegistryStorage storage $ = _storage();
        _checkRecoverable($, lostAccount, newAccount);
        RecoveryAnnouncement memory pending = $.recoveries[lostAccount];
        if (pending.newAccount != address(0)) {
            revert RecoveryAlreadyAnnounced(lostAccount, pending.newAccount, pending.executableAt);
        }
        uint64 executableAt = uint64(block.timestamp + recoveryDelay());
        $.recoveries[lostAccount] = RecoveryAnnouncement({newAccount: newAccount, executableAt: executableAt});
        emit RecoveryAnnounced(lostAccount, newAccount, _msgSender(), executableAt);
    }

    /**
     * @notice Cancels the announced recovery of `lostAccount`.
     * @dev The account itself (while it can still send transactions) or REGISTRAR_ROLE.
     * Emits {RecoveryCancelled}.
     */
    function cancelRecovery(address lostAccount) external {
        address caller = _msgSender();
        if (caller != lostAccount && !hasRole(REGISTRAR_ROLE, caller)) revert NotAllowedToCancel(lostAccount, caller);
        RegistryStorage storage $ = _storage();
        address newAccount = $.recoveries[lostAccount].newAccount;
        if (newAccount == address(0)) revert RecoveryNotAnnounced(lostAccount, address(0));
        delete $.recoveries[lostAccount];
        emit RecoveryCancelled(lostAccount, newAccount, caller);
    }

    /**
     * @notice Completes an announced recovery once its delay has passed: revokes
     * `lostAccount` and registers `newAccount` with the same kind and record. The token
     * then moves the balance ({RegionalPoints-recoverBalance}).
     * @dev REGISTRAR_ROLE (any officer); only the recovery announced by {announceRecovery}
     * for exactly this pair, from its `executableAt`. An account is recovered once (a
     * successor that is lost in turn is recovered itself). Emits {AccountStatusChanged}
     * (for both accounts), {AccountRegistered} and {AccountRecovered}.
     */
    function recover(address lostAccount, address newAccount) external onlyRole(REGISTRAR_ROLE) {
        RegistryStorage storage $ = _storage();
        RecoveryAnnouncement memory pending = $.recoveries[lostAccount];
        if (pending.newAccount != newAccount || newAccount == address(0)) {
            revert RecoveryNotAnnounced(lostAccount, newAccount);
        }
        if (block.timestamp < pending.executableAt) {
            revert RecoveryDelayNotElapsed(lostAccount, pending.executableAt, block.timestamp);
        }
        _checkRecoverable($, lostAccount, newAccount);
        delete $.recoveries[lostAccount];
        Account storage lost = $.accounts[lostAccount];
        if (lost.status != Status.Revoked) {
            emit AccountStatusChanged(lostAccount, lost.status, Status.Revoked);
            lost.status = Status.Revoked;
        }
        Kind kind = lost.kind;
        _register(newAccount, kind, lost.recordHash);
        $.successors[lostAccount] = newAccount;
        emit AccountRecovered(lostAccount, newAccount, _msgSender());
        IAccountKindsMirror mirror = $.kindsMirror;
        if (address(mirror) != address(0)) {
            mirror.mirrorKinds(_one(lostAccount), Kind.None);
            mirror.mirrorKinds(_one(newAccount), kind);
        }
    }

    /**
     * @notice Sets the delay between announcing a recovery and completing it.
     * @dev ADMIN; between {MIN_RECOVERY_DELAY} and {MAX_RECOVERY_DELAY}. Applies to
     * recoveries announced afterwards. Emits {RecoveryDelayChanged}.
     */
    function setRecoveryDelay(uint256 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (delay < MIN_RECOVERY_DELAY || delay > MAX_RECOVERY_DELAY) revert RecoveryDelayOutOfRange(delay);
        _storage().recoveryDelay = uint64(delay);
        emit RecoveryDelayChanged(delay);
    }

    /**
     * @notice Links the contract that keeps a copy of every account's active kind (the point
     * token, {IAccountKindsMirror}); zero unlinks. From this transaction on, every change of an
     * account's active kind is pushed to it; the previous mirror is told it is unlinked, so it
     * stops trusting its copy. Accounts registered before the link are copied with the mirror's
     * own sync ({RegionalPoints-syncKinds}); until then the mirror asks this registry for them.
     * @dev ADMIN. Setting the mirror already linked changes nothing. Emits {KindsMirrorChanged}.
     */
    function setKindsMirror(IAccountKindsMirror mirror) external onlyRole(DEFAULT_ADMIN_ROLE) {
        RegistryStorage storage $ = _storage();
        IAccountKindsMirror previous = $.kindsMirror;
        if (previous == mirror) return;
        $.kindsMirror = mirror;
        emit KindsMirrorChanged(address(previous), address(mirror));
        if (address(previous) != address(0)) previous.onKindsMirrorLinked(false);
        if (address(mirror) != address(0)) mirror.onKindsMirrorLinked(true);
    }

    /**
     * @notice A current validator votes to add `candidate` to the validator set (`add`) or to remove it.
     * @dev Like Besu's QBFT validator votes, a change needs more than half of the current validators
     * (`n / 2 + 1`). The deciding vote changes the set in its own transaction; the node reads the set at
     * each block's parent, so the change governs every block after the one that includes that vote.
     * A change starts a new round of voting (votes cast for the old set no longer count). An added
     * account that was never registered is registered active as Validator.
     * Emits {ValidatorVoteCast}, and {ValidatorsChanged} when the set changes.
     */
    function voteValidator(address candidate, bool add) external {
        RegistryStorage storage $ = _storage();
        address voter = _msgSender();
        if (!_isValidator(voter)) revert NotAValidator(voter);
        if (
            candidate == address(0) ||
            _isValidator(candidate) == add ||
            (!add && $.validators.length == 1) ||
            (add && $.accounts[candidate].status == Status.Revoked)
        ) revert NoValidatorChange(candidate, add);
        bytes32 proposal = keccak256(abi.encode($.validatorSetVersion, candidate, add));
        if ($.validatorVoted[proposal][voter]) revert ValidatorVoteAlreadyCast(voter, candidate, add);
        $.validatorVoted[proposal][voter] = true;
        uint256 votes = ++$.validatorVotes[proposal];
        uint256 needed = $.validators.length / 2 + 1;
        emit ValidatorVoteCast(voter, candidate, add, votes, needed);
        if (votes < needed) return;
        if (add) {
            if ($.accounts[candidate].kind == Kind.None) {
                _register(candidate, Kind.Validator, bytes32(0));
                _mirrorKind(candidate, Kind.Validator);
            }
            $.validators.push(candidate);
        } else {
            _removeValidator($.validators, candidate);
        }
        ++$.validatorSetVersion;
        emit ValidatorsChanged($.validators);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAccountRegistry
    function isAllowed(address account) external view returns (bool) {
        return _storage().accounts[account].status == Status.Active;
    }

    /// @inheritdoc IAccountRegistry
    function accountOf(address account) external view returns (Account memory) {
        return _storage().accounts[account];
    }

    /// @inheritdoc IAccountRegistry
    function activeKindsOf(address a, address b) external view returns (Kind kindA, Kind kindB) {
        RegistryStorage storage $ = _storage();
        kindA = _activeKind($.accounts[a]);
        kindB = _activeKind($.accounts[b]);
    }

    /// @inheritdoc IAccountRegistry
    function activeKindsOfBatch(address[] calldata accounts) external view returns (Kind[] memory kinds) {
        RegistryStorage storage $ = _storage();
        kinds = new Kind[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            kinds[i] = _activeKind($.accounts[accounts[i]]);
        }
    }

    /// @inheritdoc IAccountRegistry
    function successorOf(address account) external view returns (address) {
        return _storage().successors[account];
    }

    /// @notice The contract every change of an account's active kind is pushed to (zero: none).
    function kindsMirror() external view returns (IAccountKindsMirror) {
        return _storage().kindsMirror;
    }

    /// @notice The seconds between announcing a recovery and completing it ({DEFAULT_RECOVERY_DELAY} unless set).
    function recoveryDelay() public view returns (uint256) {
        uint256 delay = _storage().recoveryDelay;
        return delay == 0 ? DEFAULT_RECOVERY_DELAY : delay;
    }

    /// @notice The announced, not yet completed recovery of `lostAccount` (zero address: none).
    function recoveryOf(address lostAccount) external view returns (address newAccount, uint256 executableAt) {
        RecoveryAnnouncement memory pending = _storage().recoveries[lostAccount];
        return (pending.newAccount, pending.executableAt);
    }

    /// @notice The current validator set, in proposer order.
    function validators() external view returns (address[] memory) {
        return _storage().validators;
    }

    /// @notice The same set under the name Besu's contract-based validator selection calls.
    function getValidators() external view returns (address[] memory) {
        return _storage().validators;
    }

    /// @notice Votes cast so far for adding (`add`) or removing `candidate`, and how many change the set.
    function validatorVotes(address candidate, bool add) external view returns (uint256 votes, uint256 needed) {
        RegistryStorage storage $ = _storage();
        votes = $.validatorVotes[keccak256(abi.encode($.validatorSetVersion, candidate, add))];
        needed = $.validators.length / 2 + 1;
    }

    /// @inheritdoc IAccountRegistry
    function hasRole(
        bytes32 role,
        address account
    ) public view override(AccessControlUpgradeable, IAccountRegistry) returns (bool) {
        return super.hasRole(role, account);
    }

    // ---------------------------------------------------------------- internals

    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    /// @dev Residents, merchants and businesses are the accounts officers vouch for at the counter.
    function _isMemberKind(Kind kind) private pure returns (bool) {
        return kind == Kind.Resident || kind == Kind.Merchant || kind == Kind.Business;
    }

    /// @dev New residents, merchants and businesses: an enroller (the wallet service, after an
    /// officer's approval) or an officer; other kinds: the admin.
    function _checkMayEnrol(Kind kind) private view {
        if (_isMemberKind(kind)) {
            address sender = _msgSender();
            if (!hasRole(ENROLLER_ROLE, sender) && !hasRole(REGISTRAR_ROLE, sender)) {
                revert AccessControlUnauthorizedAccount(sender, REGISTRAR_ROLE);
            }
        } else if (!hasRole(DEFAULT_ADMIN_ROLE, _msgSender())) {
            revert KindRequiresAdmin(kind);
        }
    }

    /// @dev Changing an existing resident, merchant or business: an officer (REGISTRAR); other kinds: the admin.
    function _checkMayManage(Kind kind) private view {
        if (_isMemberKind(kind)) {
            _checkRole(REGISTRAR_ROLE);
        } else if (!hasRole(DEFAULT_ADMIN_ROLE, _msgSender())) {
            revert KindRequiresAdmin(kind);
        }
    }

    /// @dev A resident, merchant or business not recovered yet, replaced by a fresh, distinct, non-zero address.
    function _checkRecoverable(RegistryStorage storage $, address lostAccount, address newAccount) private view {
        Kind kind = $.accounts[lostAccount].kind;
        if (!_isMemberKind(kind)) revert NotRecoverable(lostAccount, kind);
        address previousSuccessor = $.successors[lostAccount];
        if (previousSuccessor != address(0)) revert AccountAlreadyRecovered(lostAccount, previousSuccessor);
        if (newAccount == address(0) || newAccount == lostAccount) revert InvalidSuccessor(lostAccount, newAccount);
        if ($.accounts[newAccount].kind != Kind.None) revert AccountAlreadyRegistered(newAccount);
    }

    function _activeKind(Account storage account) private view returns (Kind) {
        return account.status == Status.Active ? account.kind : Kind.None;
    }

    function _register(address account, Kind kind, bytes32 recordHash) private {
        if (account == address(0) || kind == Kind.None) revert InvalidAccount(account);
        _storage().accounts[account] = Account({kind: kind, status: Status.Active, recordHash: recordHash});
        emit AccountRegistered(account, kind, recordHash);
        emit AccountStatusChanged(account, Status.None, Status.Active);
    }

    /// @dev Pushes `account`'s new active kind to the linked mirror, if any.
    function _mirrorKind(address account, Kind activeKind) private {
        _mirrorKinds(_one(account), activeKind);
    }

    function _one(address account) private pure returns (address[] memory accounts) {
        accounts = new address[](1);
        accounts[0] = account;
    }

    /// @dev Pushes the new active kind of `accounts` to the linked mirror, if any. A mirror that
    /// refuses makes the change revert: the copy never falls behind the registry.
    function _mirrorKinds(address[] memory accounts, Kind activeKind) private {
        IAccountKindsMirror mirror = _storage().kindsMirror;
        if (address(mirror) != address(0)) mirror.mirrorKinds(accounts, activeKind);
    }

    function _setValidators(address[] calldata validators_) private {
        if (validators_.length == 0) revert InvalidValidatorSet();
        RegistryStorage storage $ = _storage();
        for (uint256 i = 0; i < validators_.length; ++i) {
            address v = validators_[i];
            if (v == address(0)) revert InvalidValidatorSet();
            for (uint256 j = 0; j < i; ++j) {
                if (validators_[j] == v) revert InvalidValidatorSet();
            }
            if ($.accounts[v].kind == Kind.None) _register(v, Kind.Validator, bytes32(0));
        }
        $.validators = validators_;
        emit ValidatorsChanged(validators_);
    }

    function _isValidator(address account) private view returns (bool) {
        address[] storage set = _storage().validators;
        for (uint256 i = 0; i < set.length; ++i) {
            if (set[i] == account) return true;
        }
        return false;
    }

    /// @dev Removes `account` keeping the others in order (the order is the proposer rotation).
    function _removeValidator(address[] storage set, address account) private {
        uint256 last = set.length - 1;
        uint256 i = 0;
        while (set[i] != account) ++i;
        for (; i < last; ++i) set[i] = set[i + 1];
        set.pop();
    }

    function _storage() private pure returns (RegistryStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
