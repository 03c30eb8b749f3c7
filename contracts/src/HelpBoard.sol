// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccountRegistry} from "./interfaces/IAccountRegistry.sol";
import {IHelpEscrow} from "./interfaces/IHelpEscrow.sol";
import {RegistryGoverned} from "./utils/RegistryGoverned.sol";
import {Roles} from "./utils/Roles.sol";

/**
 * @title HelpBoard
 * @notice Help matching (困りごとマッチング): a resident with an everyday problem posts a
 * request and the thanks they offer, which the token holds in escrow; a neighbour who
 * offered to help (off-chain, in the wallet) is chosen; when the requester confirms the
 * task was done the escrow pays the helper. The ledger guarantees the money side only:
 * nothing personal is stored here (a request commits to its off-chain details by hash;
 * parties are addresses).
 *
 * Life of a request:
 * - {post}: `Open`, thanks escrowed (within the task type's range set by the city, the
 *   requester's open-request limit and monthly cap);
 * - {withdraw} (requester, while open) or {expire} (anyone, once its window has ended
 *   unmatched): the escrow returns to the requester;
 * - {choose} (requester, while open and before the window ends): `Matched` to one helper,
 *   an active resident other than the requester, not suspended from the service;
 * - {complete} (requester): the escrow pays the chosen helper, once; `Completed`;
 * - {cancel} (requester, before the window starts): the escrow returns; after the start
 *   only a dispute can take the points back; {stepBack} (the helper, any time before
 *   completion): the request reopens, or returns its escrow once its window is over;
 * - {dispute} (requester or helper, while matched): `Disputed`; the city ({resolve},
 *   HELP_MODERATOR) decides how much goes to the helper, the rest returns;
 * - {remove} (HELP_MODERATOR): the city takes a request down; the escrow returns.
 *
 * Escrowed points keep their expiry months; only unexpired points are paid out, so an
 * escrow whose points expire pays what is left (the expired rest is swept by the token).
 * A lost phone does not lose an escrow: the token pays the account that replaced it.
 *
 * Invariants (tested statefully): {totals}.escrowed equals the sum of the thanks of the
 * requests not yet finished; a request pays out at most once; only its chosen helper is
 * ever paid from it.
 *
 * @dev UUPS behind a proxy, roles in the AccountRegistry (ADMIN sets task types and
 * limits; HELP_MODERATOR moderates). Storage follows ERC-7201. The token must name this
 * contract its help board (`RegionalPoints.setHelpBoard`).
 */
contract HelpBoard is RegistryGoverned {
    /// @notice Where a request is in its life.
    enum Status {
        None,
        Open,
        Matched,
        Completed,
        Withdrawn,
        Cancelled,
        Expired,
        Disputed,
        Resolved,
        Removed
    }

    /// @notice A request as stored (three slots).
    struct Request {
        address requester;
        uint8 taskType;
        Status status;
        uint40 startsAt;
        uint40 endsAt;
        address helper;
        uint64 thanks;
        bytes32 detailsHash;
    }

    /// @notice The city's suggested range of thanks for a task type; a disabled type takes no new request.
    struct TaskType {
        uint64 minThanks;
        uint64 maxThanks;
        bool enabled;
    }

    /// @notice Limits per requester: requests not yet finished, and thanks posted per JST month (0: none).
    struct Limits {
        uint16 maxOpenPerRequester;
        uint64 monthlyThanksCap;
    }

    /// @custom:storage-location erc7201:takasago.storage.HelpBoard
    struct BoardStorage {
        IAccountRegistry registry;
        IHelpEscrow token;
        Limits limits;
        uint256 requestCount;
        uint256 escrowed;
        uint256 paid;
        uint256 returned;
        mapping(uint256 id => Request) requests;
        mapping(uint8 taskType => TaskType) taskTypes;
        mapping(address requester => uint256) openCount;
        mapping(address requester => mapping(uint256 month => uint256)) postedInMonth;
        mapping(address account => bool) suspended;
    }

    // keccak256(abi.encode(uint256(keccak256("takasago.storage.HelpBoard")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x6f991135b32a018fb2e134faba5ebfc8e77bf396caff9fca14c16e57057c7500;

    /// @notice The city's moderators of help matching, held in the registry: decide disputes,
    /// take requests down, suspend accounts from the service.
    bytes32 public constant HELP_MODERATOR_ROLE = keccak256("HELP_MODERATOR_ROLE");

    /// @notice The largest task type number.
    uint8 public constant MAX_TASK_TYPE = 63;

    /// @notice A request was posted and its thanks escrowed.
    event RequestPosted(
        uint256 indexed id,
        address indexed requester,
        uint8 taskType,
        uint256 thanks,
        uint256 startsAt,
        uint256 endsAt,
        bytes32 detailsHash
    );
    /// @notice The requester chose `helper`.
    event HelperChosen(uint256 indexed id, address indexed requester, address indexed helper);
    /// @notice The chosen helper stepped back; `reopened` false when the escrow returned instead.
    event HelperSteppedBack(uint256 indexed id, address indexed helper, bool reopened);
    /// @notice The requester confirmed the task done; `paid` went to the helper.
    event HelpCompleted(uint256 indexed id, address indexed requester, address indexed helper, uint256 paid);
    /// @notice The escrow returned `returned` points to the requester; `status` says why.
    event EscrowReturned(uint256 indexed id, address indexed requester, Status status, uint256 returned);
    /// @notice `by` (requester or helper) disputed the request.
    event RequestDisputed(uint256 indexed id, address indexed by, bytes32 reasonHash);
    /// @notice The city decided a dispute: `toHelper` paid to the helper, `toRequester` returned.
    event DisputeResolved(
        uint256 indexed id,
        address indexed requester,
        address indexed helper,
        uint256 toHelper,
        uint256 toRequester,
        bytes32 decisionHash
    );
    /// @notice The city took a request down.
    event RequestRemoved(uint256 indexed id, bytes32 reasonHash);
    /// @notice An account was suspended from (or readmitted to) the service.
    event ServiceSuspension(address indexed account, bool suspended);
    /// @notice The city set a task type's range.
    event TaskTypeSet(uint8 indexed taskType, uint256 minThanks, uint256 maxThanks, bool enabled);
    /// @notice The city set the per-requester limits.
    event LimitsSet(uint256 maxOpenPerRequester, uint256 monthlyThanksCap);

    /// @notice No request with this id.
    error UnknownRequest(uint256 id);
    /// @notice The request is not in a status that allows this step.
    error WrongStatus(uint256 id, Status status);
    /// @notice Only the request's requester may do this.
    error NotRequester(uint256 id, address caller);
    /// @notice Only the request's requester or its chosen helper may do this.
    error NotAParty(uint256 id, address caller);
    /// @notice The account is not an active resident.
    error NotActiveResident(address account);
    /// @notice The account is suspended from the help service.
    error SuspendedFromService(address account);
    /// @notice The task type is unknown or disabled.
    error TaskTypeNotOffered(uint8 taskType);
    /// @notice The thanks are outside the task type's range.
    error ThanksOutOfRange(uint256 thanks, uint256 minThanks, uint256 maxThanks);
    /// @notice The time window is empty or already over.
    error InvalidWindow(uint256 startsAt, uint256 endsAt, uint256 now_);
    /// @notice The requester already has `limit` requests not yet finished.
    error TooManyOpenRequests(address requester, uint256 limit);
    /// @notice Posting `thanks` more would pass the requester's monthly cap.
    error MonthlyCapReached(address requester, uint256 posted, uint256 thanks, uint256 cap);
    /// @notice A requester cannot help themself.
    error CannotHelpYourself(address account);
    /// @notice The request's window has ended: it can only expire.
    error WindowOver(uint256 id, uint256 endsAt);
    /// @notice The window has started: cancelling takes a dispute now.
    error TooLateToCancel(uint256 id, uint256 startsAt);
    /// @notice The window is still open: the request cannot expire yet.
    error NotExpiredYet(uint256 id, uint256 endsAt);
    /// @notice A dispute cannot pay the helper more than the thanks.
    error ExceedsThanks(uint256 id, uint256 thanks, uint256 requested);
    /// @notice The range or limits given are inconsistent.
    error InvalidSetting();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @notice Sets up the board behind its proxy.
     * @param registry_ the AccountRegistry holding accounts and roles.
     * @param token_ the point token holding the escrows.
     * @param limits_ the per-requester limits.
     */
    function initialize(IAccountRegistry registry_, IHelpEscrow token_, Limits calldata limits_) external initializer {
        if (address(registry_) == address(0) || address(token_) == address(0)) revert RegistryRequired();
        BoardStorage storage $ = _storage();
        $.registry = registry_;
        $.token = token_;
        $.limits = limits_;
        emit LimitsSet(limits_.maxOpenPerRequester, limits_.monthlyThanksCap);
    }

    // ================================================================ views

    /// @notice The AccountRegistry this board obeys.
    function registry() public view override returns (IAccountRegistry) {
        return _storage().registry;
    }

    /// @notice The point token holding the escrows.
    function token() external view returns (IHelpEscrow) {
        return _storage().token;
    }

    /// @notice Request `id` as stored (status None: no such request).
    function requestOf(uint256 id) external view returns (Request memory) {
        return _storage().requests[id];
    }

    /// @notice How many requests were ever posted (ids run from 1).
    function requestCount() external view returns (uint256) {
        return _storage().requestCount;
    }

    /// @notice The escrow id of request `id` in the token (`RegionalPoints.escrowAddress(board, escrowId)`).
    function escrowIdOf(uint256 id) public pure returns (bytes32) {
        return bytes32(id);
    }

    /// @notice A task type's range.
    function taskTypeOf(uint8 taskType) external view returns (TaskType memory) {
        return _storage().taskTypes[taskType];
    }

    /// @notice The per-requester limits.
    function limits() external view returns (Limits memory) {
        return _storage().limits;
    }

    /// @notice How many of `requester`'s requests are not finished, and the thanks posted this JST month.
    function usageOf(address requester) external view returns (uint256 unfinished, uint256 postedThisMonth) {
        BoardStorage storage $ = _storage();
        return ($.openCount[requester], $.postedInMonth[requester][$.token.currentMonth()]);
    }

    /// @notice Whether `account` is suspended from the service.
    function isSuspended(address account) external view returns (bool) {
        return _storage().suspended[account];
    }

    /// @notice Thanks held for unfinished requests, paid to helpers, and returned to requesters, ever.
    function totals() external view returns (uint256 escrowed, uint256 paid, uint256 returned) {
        BoardStorage storage $ = _storage();
        return ($.escrowed, $.paid, $.returned);
    }

    // ================================================================ residents

    /**
     * @notice Posts a request for help and escrows `thanks` of the caller's points.
     * @param detailsHash hash of the off-chain details (what, where, who): never the details themselves.
     * @return id the request's id.
     * @dev An active resident not suspended from the service. Emits {RequestPosted}.
     */
    function post(
        uint8 taskType,
        uint256 thanks,
        uint40 startsAt,
        uint40 endsAt,
        bytes32 detailsHash
    ) external returns (uint256 id) {
        BoardStorage storage $ = _storage();
        address requester = msg.sender;
        _checkResident($, requester);
        TaskType memory task = $.taskTypes[taskType];
        if (!task.enabled) revert TaskTypeNotOffered(taskType);
        if (thanks < task.minThanks || thanks > task.maxThanks) {
            revert ThanksOutOfRange(thanks, task.minThanks, task.maxThanks);
        }
        if (startsAt >= endsAt || endsAt <= block.timestamp) revert InvalidWindow(startsAt, endsAt, block.timestamp);
        Limits memory limits_ = $.limits;
        uint256 unfinished = $.openCount[requester];
        if (limits_.maxOpenPerRequester != 0 && unfinished >= limits_.maxOpenPerRequester) {
            revert TooManyOpenRequests(requester, limits_.maxOpenPerRequester);
        }
        uint256 month = $.token.currentMonth();
        uint256 posted = $.postedInMonth[requester][month];
        if (limits_.monthlyThanksCap != 0 && posted + thanks > limits_.monthlyThanksCap) {
            revert MonthlyCapReached(requester, posted, thanks, limits_.monthlyThanksCap);
        }
        id = ++$.requestCount;
        // thanks <= maxThanks < 2^64
        $.requests[id] = Request({
            requester: requester,
            taskType: taskType,
            status: Status.Open,
            startsAt: startsAt,
            endsAt: endsAt,
            helper: address(0),
            thanks: uint64(thanks),
            detailsHash: detailsHash
        });
        $.openCount[requester] = unfinished + 1;
        $.postedInMonth[requester][month] = posted + thanks;
        $.escrowed += thanks;
        $.token.lockInEscrow(requester, escrowIdOf(id), thanks);
        emit RequestPosted(id, requester, taskType, thanks, startsAt, endsAt, detailsHash);
    }

    /// @notice Takes back an unmatched request; its escrow returns. @dev The requester. Emits {EscrowReturned}.
    function withdraw(uint256 id) external {
        BoardStorage storage $ = _storage();
        Request storage request = _asRequester($, id);
        _expectStatus(id, request.status, Status.Open);
        _finishWithReturn($, id, request, Status.Withdrawn);
    }

    /**
     * @notice Chooses `helper` (who offered in the wallet) for an open request.
     * @dev The requester, before the window ends; the helper an active resident, not the
     * requester, not suspended. Emits {HelperChosen}.
     */
    function choose(uint256 id, address helper) external {
        BoardStorage storage $ = _storage();
        Request storage request = _asRequester($, id);
        _expectStatus(id, request.status, Status.Open);
        if (block.timestamp >= request.endsAt) revert WindowOver(id, request.endsAt);
        if (helper == request.requester) revert CannotHelpYourself(helper);
        _checkResident($, helper);
        request.helper = helper;
        request.status = Status.Matched;
        emit HelperChosen(id, request.requester, helper);
    }

    /**
     * @notice Confirms the task done: the escrow pays the chosen helper (what is unexpired of it).
     * @dev The requester, while matched. Emits {HelpCompleted}.
     */
    function complete(uint256 id) external {
        BoardStorage storage $ = _storage();
        Request storage request = _asRequester($, id);
        _expectStatus(id, request.status, Status.Matched);
        request.status = Status.Completed;
        address helper = request.helper;
        uint256 thanks = request.thanks;
        _unfinished($, request.requester, thanks);
        uint256 paid = $.token.releaseEscrow(escrowIdOf(id), helper, thanks);
        $.paid += paid;
        emit HelpCompleted(id, request.requester, helper, paid);
    }

    /**
     * @notice Cancels a matched request before its window starts; the escrow returns.
     * @dev The requester. Emits {EscrowReturned}.
     */
    function cancel(uint256 id) external {
        BoardStorage storage $ = _storage();
        Request storage request = _asRequester($, id);
        _expectStatus(id, request.status, Status.Matched);
        if (block.timestamp >= request.startsAt) revert TooLateToCancel(id, request.startsAt);
        _finishWithReturn($, id, request, Status.Cancelled);
    }

    /**
     * @notice The chosen helper steps back: the request reopens for another helper, or,
     * once its window is over, its escrow returns.
     * @dev The chosen helper, while matched. Emits {HelperSteppedBack} (and {EscrowReturned}).
     */
    function stepBack(uint256 id) external {
        BoardStorage storage $ = _storage();
        Request storage request = _known($, id);
        _expectStatus(id, request.status, Status.Matched);
        if (msg.sender != request.helper) revert NotAParty(id, msg.sender);
        request.helper = address(0);
        bool reopened = block.timestamp < request.endsAt;
        emit HelperSteppedBack(id, msg.sender, reopened);
        if (reopened) {
            request.status = Status.Open;
        } else {
            _finishWithReturn($, id, request, Status.Expired);
        }
    }

    /// @notice Returns the escrow of a request whose window ended unmatched. @dev Anyone. Emits {EscrowReturned}.
    function expire(uint256 id) external {
        BoardStorage storage $ = _storage();
        Request storage request = _known($, id);
        _expectStatus(id, request.status, Status.Open);
        if (block.timestamp < request.endsAt) revert NotExpiredYet(id, request.endsAt);
        _finishWithReturn($, id, request, Status.Expired);
    }

    /// @notice Asks the city to decide a matched request. @dev Requester or helper. Emits {RequestDisputed}.
    function dispute(uint256 id, bytes32 reasonHash) external {
        BoardStorage storage $ = _storage();
        Request storage request = _known($, id);
        _expectStatus(id, request.status, Status.Matched);
        if (msg.sender != request.requester && msg.sender != request.helper) revert NotAParty(id, msg.sender);
        request.status = Status.Disputed;
        emit RequestDisputed(id, msg.sender, reasonHash);
    }

    // ================================================================ the city

    /**
     * @notice Decides a dispute: `toHelper` points to the helper, the rest of the thanks back
     * to the requester (each what is unexpired of it).
     * @param decisionHash hash of the recorded decision (kept off-chain).
     * @dev HELP_MODERATOR. Emits {DisputeResolved}.
     */
    function resolve(
        uint256 id,
        uint256 toHelper,
        bytes32 decisionHash
    ) external onlyRegistryRole(HELP_MODERATOR_ROLE) {
        BoardStorage storage $ = _storage();
        Request storage request = _known($, id);
        _expectStatus(id, request.status, Status.Disputed);
        uint256 thanks = request.thanks;
        if (toHelper > thanks) revert ExceedsThanks(id, thanks, toHelper);
        request.status = Status.Resolved;
        _unfinished($, request.requester, thanks);
        bytes32 escrowId = escrowIdOf(id);
        uint256 paid = toHelper == 0 ? 0 : $.token.releaseEscrow(escrowId, request.helper, toHelper);
        uint256 returned = $.token.releaseEscrow(escrowId, request.requester, thanks - toHelper);
        $.paid += paid;
        $.returned += returned;
        emit DisputeResolved(id, request.requester, request.helper, paid, returned, decisionHash);
    }

    /**
     * @notice Takes a request down (open or matched); its escrow returns to the requester.
     * @dev HELP_MODERATOR. Emits {RequestRemoved} and {EscrowReturned}.
     */
    function remove(uint256 id, bytes32 reasonHash) external onlyRegistryRole(HELP_MODERATOR_ROLE) {
        BoardStorage storage $ = _storage();
        Request storage request = _known($, id);
        Status status = request.status;
        if (status != Status.Open && status != Status.Matched) revert WrongStatus(id, status);
        emit RequestRemoved(id, reasonHash);
        _finishWithReturn($, id, request, Status.Removed);
    }

    /// @notice Suspends `account` from the service (or readmits it). @dev HELP_MODERATOR. Emits {ServiceSuspension}.
    function setSuspended(address account, bool suspended) external onlyRegistryRole(HELP_MODERATOR_ROLE) {
        _storage().suspended[account] = suspended;
        emit ServiceSuspension(account, suspended);
    }

    /// @notice Sets a task type's range of thanks (and whether it is offered). @dev ADMIN. Emits {TaskTypeSet}.
    function setTaskType(
        uint8 taskType,
        uint64 minThanks,
        uint64 maxThanks,
        bool enabled
    ) external onlyRegistryRole(Roles.ADMIN) {
        if (taskType > MAX_TASK_TYPE || minThanks == 0 || minThanks > maxThanks) revert InvalidSetting();
        _storage().taskTypes[taskType] = TaskType({minThanks: minThanks, maxThanks: maxThanks, enabled: enabled});
        emit TaskTypeSet(taskType, minThanks, maxThanks, enabled);
    }

    /// @notice Sets the per-requester limits (0: no limit). @dev ADMIN. Emits {LimitsSet}.
    function setLimits(Limits calldata limits_) external onlyRegistryRole(Roles.ADMIN) {
        _storage().limits = limits_;
        emit LimitsSet(limits_.maxOpenPerRequester, limits_.monthlyThanksCap);
    }

    // ================================================================ internals

    function _checkResident(BoardStorage storage $, address account) private view {
        IAccountRegistry.Account memory entry = $.registry.accountOf(account);
        if (entry.kind != IAccountRegistry.Kind.Resident || entry.status != IAccountRegistry.Status.Active) {
            revert NotActiveResident(account);
        }
        if ($.suspended[account]) revert SuspendedFromService(account);
    }

    function _known(BoardStorage storage $, uint256 id) private view returns (Request storage request) {
        request = $.requests[id];
        if (request.status == Status.None) revert UnknownRequest(id);
    }

    function _asRequester(BoardStorage storage $, uint256 id) private view returns (Request storage request) {
        request = _known($, id);
        if (msg.sender != request.requester) revert NotRequester(id, msg.sender);
    }

    function _expectStatus(uint256 id, Status status, Status expected) private pure {
        if (status != expected) revert WrongStatus(id, status);
    }

    /// @dev A request leaves the unfinished set: its thanks leave the escrow total.
    function _unfinished(BoardStorage storage $, address requester, uint256 thanks) private {
        $.openCount[requester] -= 1;
        $.escrowed -= thanks;
    }

    function _finishWithReturn(BoardStorage storage $, uint256 id, Request storage request, Status status) private {
        request.status = status;
        address requester = request.requester;
        uint256 thanks = request.thanks;
        _unfinished($, requester, thanks);
        uint256 returned = $.token.releaseEscrow(escrowIdOf(id), requester, thanks);
        $.returned += returned;
        emit EscrowReturned(id, requester, status, returned);
    }

    function _storage() private pure returns (BoardStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
