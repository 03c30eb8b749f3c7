// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccountRegistry} from "./interfaces/IAccountRegistry.sol";
import {IRegionalPoints} from "./interfaces/IRegionalPoints.sol";
import {IRewardProgrammes} from "./interfaces/IRewardProgrammes.sol";
import {IThanksBonus} from "./interfaces/IThanksBonus.sol";
import {JstCalendar} from "./libraries/JstCalendar.sol";
import {RegistryGoverned} from "./utils/RegistryGoverned.sol";
import {Roles} from "./utils/Roles.sol";

/**
 * @title RewardProgrammes
 * @notice The city's reward programmes (eco actions, CO2 reduction, watch-over,
 * help given, events, administrative points): each pays a reward per unit of
 * attested activity, with a per-person cap per period, a total budget, a validity
 * window, an expiry for the points it grants, and the role that may attest.
 *
 * Every grant is an attestation with a claim id; a claim id pays at most once per
 * programme. Claim ids are numbers chosen by the attester; dense ids (for example
 * `batchId << 32 | row`) share storage words, which makes batches cheap.
 *
 * Business programmes (issue 21): an active business or shop runs its own small programme
 * ({createBusinessProgramme}), attests its claims itself and pays them from its own points
 * (through the token's {RegionalPoints-rewardFromProgramme}, nothing is minted), with the
 * same exactly-once claim ids, caps, budget and window as the city's programmes. A claim
 * the business cannot pay is refused ({BusinessFundsExhausted}) and marks nothing.
 *
 * @dev Holds MINTER_ROLE in the registry and mints through the token. Budgets are
 * checked before minting and can never be exceeded.
 */
contract RewardProgrammes is IRewardProgrammes, IThanksBonus, RegistryGoverned {
    /// @notice The period a per-person cap counts over (JST calendar).
    enum CapPeriod {
        Day,
        Month,
        FiscalYear,
        Programme
    }

    /// @notice When the points a programme grants expire.
    enum ExpiryPolicy {
        FiscalYearEnd,
        DaysAfterGrant
    }

    /// @notice What the city sets when creating a programme.
    struct ProgrammeParams {
        string name;
        bytes32 verifierRole;
        uint64 rewardPoints;
        uint64 rewardUnits;
        uint64 capPerPeriod;
        CapPeriod capPeriod;
        uint128 budget;
        uint40 startsAt;
        uint40 endsAt;
        ExpiryPolicy expiryPolicy;
        uint16 expiryDays;
    }

    /// @notice A programme as stored.
    struct Programme {
        uint64 rewardPoints;
        uint64 rewardUnits;
        uint64 capPerPeriod;
        CapPeriod capPeriod;
        ExpiryPolicy expiryPolicy;
        uint16 expiryDays;
        bool closed;
        uint40 startsAt;
        uint40 endsAt;
        uint128 budget;
        uint128 issued;
        bytes32 verifierRole;
        string name;
    }

    /// @custom:storage-location erc7201:takasago.storage.RewardProgrammes
    struct ProgrammesStorage {
        IAccountRegistry registry;
        IRegionalPoints token;
        uint256 programmeCount;
        uint256 thanksBonusProgramme;
        mapping(uint256 programmeId => Programme) programmes;
        // per person: period index (high 64 bits) and points granted in it (low 192 bits)
        mapping(uint256 programmeId => mapping(address person => uint256)) usage;
        mapping(uint256 programmeId => mapping(uint256 word => uint256 bits)) claimed;
        // Appended (issue 21): the business funding a business programme (zero: a city programme).
        mapping(uint256 programmeId => address business) funders;
    }

    // keccak256(abi.encode(uint256(keccak256("takasago.storage.RewardProgrammes")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x132348c3435fb28010d10e4a23f39721df6f3804c10882ef8d468f38ab152f00;

    /// @notice Skip reason in {AttestationSkipped}: the claim id already paid.
    uint8 public constant SKIP_CLAIM_USED = 1;
    /// @notice Skip reason in {AttestationSkipped}: the beneficiary is not an active resident.
    uint8 public constant SKIP_NOT_ACTIVE_RESIDENT = 2;

    /// @notice A programme was created.
    event ProgrammeCreated(uint256 indexed programmeId, string name, bytes32 verifierRole, ProgrammeParams params);
    /// @notice A programme's budget changed.
    event BudgetChanged(uint256 indexed programmeId, uint256 previousBudget, uint256 newBudget);
    /// @notice A programme was closed: no further attestations.
    event ProgrammeClosed(uint256 indexed programmeId);
    /// @notice Business `business` created programme `programmeId`, paid from its own points.
    event BusinessProgrammeCreated(uint256 indexed programmeId, address indexed business);
    /// @notice The programme that funds thanks bonuses changed (zero: none).
    event ThanksBonusProgrammeChanged(uint256 indexed programmeId);
    /// @notice Activity was attested; `points` were granted (after the per-person cap).
    event Attested(
        uint256 indexed programmeId,
        address indexed beneficiary,
        uint256 indexed claimId,
        uint256 units,
        uint256 points,
        bytes32 evidenceHash
    );
    /// @notice A batch entry was not granted (`reason`: 1 claim already used, 2 not an active resident).
    event AttestationSkipped(
        uint256 indexed programmeId,
        address indexed beneficiary,
        uint256 indexed claimId,
        uint8 reason
    );

    /// @dev No programme with this id.
    error UnknownProgramme(uint256 programmeId);
    /// @dev The programme is closed, or `timestamp` is outside its validity window.
    error ProgrammeNotActive(uint256 programmeId, uint256 startsAt, uint256 endsAt, uint256 timestamp);
    /// @dev Only active residents are rewarded (not merchants, not unregistered, suspended or revoked accounts).
    error BeneficiaryNotActiveResident(address beneficiary);
    /// @dev This claim id already paid in this programme.
    error ClaimAlreadyUsed(uint256 programmeId, uint256 claimId);
    /// @dev Granting `needed` more points would pass the programme's budget.
    error BudgetExceeded(uint256 programmeId, uint256 remaining, uint256 needed);
    /// @dev Programme parameters are inconsistent; `reason` says which.
    error InvalidProgramme(string reason);
    /// @dev Only the token may report thanks.
    error OnlyToken(address caller);
    /// @dev The budget may not fall below what was already issued.
    error BudgetBelowIssued(uint256 programmeId, uint256 issued, uint256 requested);
    /// @dev Units above 2^128 are refused (they could only be a mistake).
    error UnitsOutOfRange(uint256 units);
    /// @dev The programme is already closed.
    error ProgrammeAlreadyClosed(uint256 programmeId);
    /// @dev Only an active business or shop runs a business programme.
    error NotABusiness(address account);
    /// @dev Only the business running the programme (or, to close it or change its budget, the city) may do this.
    error NotProgrammeFunder(uint256 programmeId, address caller);
    /// @dev The business has `available` points, fewer than the `needed` of this claim (nothing was granted).
    error BusinessFundsExhausted(uint256 programmeId, address business, uint256 available, uint256 needed);
    /// @dev Business programmes pay one claim at a time ({attest}), never in batches or as a thanks bonus.
    error BusinessProgrammeNotAllowed(uint256 programmeId);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Sets up the programmes contract behind its proxy.
    function initialize(IAccountRegistry registry_, IRegionalPoints token_) external initializer {
        if (address(registry_) == address(0) || address(token_) == address(0)) revert RegistryRequired();
        ProgrammesStorage storage $ = _storage();
        $.registry = registry_;
        $.token = token_;
    }

    // ================================================================ views

    /// @notice The AccountRegistry holding roles.
    function registry() public view override returns (IAccountRegistry) {
        return _storage().registry;
    }

    /// @notice The point token programmes mint.
    function token() external view returns (IRegionalPoints) {
        return _storage().token;
    }

    /// @notice Number of programmes created; ids run from 1 to this.
    function programmeCount() external view returns (uint256) {
        return _storage().programmeCount;
    }

    /// @notice A programme's definition and its budget used.
    function programme(uint256 programmeId) external view returns (Programme memory) {
        return _programme(programmeId);
    }

    /// @notice True when `claimId` already paid in `programmeId`.
    function isClaimed(uint256 programmeId, uint256 claimId) public view returns (bool) {
        return (_storage().claimed[programmeId][claimId >> 8] >> (claimId & 0xff)) & 1 == 1;
    }

    /**
     * @notice Words `firstWord` … `firstWord + count - 1` of `programmeId`'s claim bitmap:
     * bit `i` of word `w` is set when claim id `w * 256 + i` has paid. Lets a client
     * resuming a batch see in one call which of its (dense) claim ids are done.
     */
    function claimedWords(
        uint256 programmeId,
        uint256 firstWord,
        uint256 count
    ) external view returns (uint256[] memory words) {
        mapping(uint256 => uint256) storage claimed = _storage().claimed[programmeId];
        words = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) words[i] = claimed[firstWord + i];
    }

    /// @notice Points `person` received from `programmeId` in the current cap period
    /// (counted only for programmes with a per-person cap).
    function grantedThisPeriod(uint256 programmeId, address person) external view returns (uint256) {
        Programme storage p = _programme(programmeId);
        uint256 packed = _storage().usage[programmeId][person];
        return packed >> 192 == _periodIndex(p.capPeriod) ? packed & type(uint192).max : 0;
    }

    /// @notice The bucket month the programme's points granted now would expire in.
    function expiryMonthOf(uint256 programmeId) external view returns (uint256) {
        return _expiryMonth(_programme(programmeId));
    }

    /// @notice The business paying programme `programmeId`'s claims from its points (zero: a city programme).
    function funderOf(uint256 programmeId) external view returns (address) {
        return _storage().funders[programmeId];
    }

    /// @notice The programme funding thanks bonuses (zero: none).
    function thanksBonusProgramme() external view returns (uint256) {
        return _storage().thanksBonusProgramme;
    }

    // ================================================================ the city

    /**
     * @notice Creates a reward programme.
     * @return programmeId the new programme's id (sequential from 1).
     * @dev ADMIN. Emits {ProgrammeCreated}.
     */
    function createProgramme(
        ProgrammeParams calldata params
    ) external onlyRegistryRole(Roles.ADMIN) returns (uint256 programmeId) {
        if (params.verifierRole == bytes32(0)) revert InvalidProgramme("verifierRole");
        programmeId = _create(params);
    }

    /**
     * @notice Creates a business programme run and paid by the caller: it attests claims
     * itself (`params.verifierRole` is ignored) and each grant is paid from its own points
     * (within the city's per-reward cap), never minted. `params.budget` caps what it pays in all.
     * @return programmeId the new programme's id (same sequence as the city's programmes).
     * @dev An active business or shop. Emits {ProgrammeCreated} and {BusinessProgrammeCreated}.
     */
    function createBusinessProgramme(ProgrammeParams calldata params) external returns (uint256 programmeId) {
        address business = msg.sender;
        IAccountRegistry.Account memory account = _storage().registry.accountOf(business);
        bool businessLike = account.kind == IAccountRegistry.Kind.Business ||
            account.kind == IAccountRegistry.Kind.Merchant;
        if (!businessLike || account.status != IAccountRegistry.Status.Active) revert NotABusiness(business);
        programmeId = _create(params);
        _storage().funders[programmeId] = business;
        emit BusinessProgrammeCreated(programmeId, business);
    }

    function _create(ProgrammeParams calldata params) private returns (uint256 programmeId) {
        if (bytes(params.name).length == 0 || bytes(params.name).length > 100) revert InvalidProgramme("name");
        if (params.rewardPoints == 0 || params.rewardUnits == 0) revert InvalidProgramme("reward");
        if (params.endsAt <= params.startsAt) revert InvalidProgramme("window");
        if (params.expiryPolicy == ExpiryPolicy.DaysAfterGrant && (params.expiryDays == 0 || params.expiryDays > 700)) {
            revert InvalidProgramme("expiryDays");
        }
        ProgrammesStorage storage $ = _storage();
        programmeId = ++$.programmeCount;
        Programme storage p = $.programmes[programmeId];
        p.rewardPoints = params.rewardPoints;
        p.rewardUnits = params.rewardUnits;
        p.capPerPeriod = params.capPerPeriod;
        p.capPeriod = params.capPeriod;
        p.expiryPolicy = params.expiryPolicy;
        p.expiryDays = params.expiryDays;
        p.startsAt = params.startsAt;
        p.endsAt = params.endsAt;
        p.budget = params.budget;
        p.verifierRole = params.verifierRole;
        p.name = params.name;
        emit ProgrammeCreated(programmeId, params.name, params.verifierRole, params);
    }

    /**
     * @notice Sets a programme's total budget (e.g. topped up with swept expired points).
     * @dev ADMIN, or the business running a business programme; never below what was already
     * issued. Emits {BudgetChanged}.
     */
    function setBudget(uint256 programmeId, uint128 budget) external {
        Programme storage p = _programme(programmeId);
        _checkProgrammeOwner(programmeId);
        if (budget < p.issued) revert BudgetBelowIssued(programmeId, p.issued, budget);
        emit BudgetChanged(programmeId, p.budget, budget);
        p.budget = budget;
    }

    /// @notice Closes a programme for good.
    /// @dev ADMIN, or the business running a business programme. Emits {ProgrammeClosed}.
    function closeProgramme(uint256 programmeId) external {
        Programme storage p = _programme(programmeId);
        _checkProgrammeOwner(programmeId);
        if (p.closed) revert ProgrammeAlreadyClosed(programmeId);
        p.closed = true;
        emit ProgrammeClosed(programmeId);
    }

    /**
     * @notice Makes `programmeId` fund a bonus on every thanks (zero turns it off).
     * The token must point at this contract ({RegionalPoints-setThanksBonus}).
     * @dev ADMIN. Emits {ThanksBonusProgrammeChanged}.
     */
    function setThanksBonusProgramme(uint256 programmeId) external onlyRegistryRole(Roles.ADMIN) {
        if (programmeId != 0) _programme(programmeId);
        if (_storage().funders[programmeId] != address(0)) revert BusinessProgrammeNotAllowed(programmeId);
        _storage().thanksBonusProgramme = programmeId;
        emit ThanksBonusProgrammeChanged(programmeId);
    }

    // ================================================================ attestation

    /**
     * @notice Attests `units` of activity by `beneficiary` and grants the reward
     * (capped per person and period) once for `claimId`.
     * @return points the points granted.
     * @dev The programme's verifier role (for a business programme: the business running
     * it). Reverts if the claim was used, the budget would be exceeded, the beneficiary is
     * not an active resident, or a business cannot pay the claim from its points.
     * Emits {Attested} (and the token's {Transfer}/{PointsIssued}, or {BusinessRewarded}).
     */
    function attest(
        uint256 programmeId,
        address beneficiary,
        uint256 units,
        bytes32 evidenceHash,
        uint256 claimId
    ) external returns (uint256 points) {
        Programme storage p = _activeProgramme(programmeId);
        address funder = _storage().funders[programmeId];
        if (funder == address(0)) _checkRegistryRole(p.verifierRole, msg.sender);
        else if (msg.sender != funder) revert NotProgrammeFunder(programmeId, msg.sender);
        IAccountRegistry.Account memory account = _storage().registry.accountOf(beneficiary);
        // Checked here too: a reward that rounds to 0 mints nothing, so the token would not refuse.
        if (account.kind != IAccountRegistry.Kind.Resident || account.status != IAccountRegistry.Status.Active) {
            revert BeneficiaryNotActiveResident(beneficiary);
        }
        if (!_useClaim(programmeId, claimId)) revert ClaimAlreadyUsed(programmeId, claimId);
        uint256 periodIndex = _periodIndex(p.capPeriod);
        points = _cappedReward(p, programmeId, beneficiary, units, periodIndex, type(uint256).max);
        _spendBudget(p, programmeId, points);
        emit Attested(programmeId, beneficiary, claimId, units, points, evidenceHash);
        if (points == 0) return points;
        if (funder == address(0)) _storage().token.mint(beneficiary, points, _expiryMonth(p));
        else _payFromBusiness(programmeId, funder, beneficiary, points);
    }

    /// @inheritdoc IRewardProgrammes
    /// @dev The programme's verifier role. Emits {Attested} or {AttestationSkipped} per entry.
    function attestBatch(uint256 programmeId, Attestation[] calldata items) external returns (uint256 granted) {
        Programme storage p = _activeProgramme(programmeId);
        ProgrammesStorage storage $ = _storage();
        if ($.funders[programmeId] != address(0)) revert BusinessProgrammeNotAllowed(programmeId);
        _checkRegistryRole(p.verifierRole, msg.sender);
        uint256 n = items.length;
        address[] memory beneficiaries = new address[](n);
        for (uint256 i = 0; i < n; ++i) beneficiaries[i] = items[i].beneficiary;
        // The token's copy of the registry's kinds: the same answer, and the slots mintBatch reads next.
        IAccountRegistry.Kind[] memory kinds = $.token.activeKindsOfBatch(beneficiaries);
        uint256 periodIndex = _periodIndex(p.capPeriod);
        uint256[] memory amounts = new uint256[](n);
        uint256 count;
        for (uint256 i = 0; i < n; ++i) {
            uint256 points = _attestOne(p, programmeId, items[i], kinds[i], periodIndex);
            if (points == 0) continue;
            beneficiaries[count] = items[i].beneficiary;
            amounts[count] = points;
            ++count;
            granted += points;
        }
        _spendBudget(p, programmeId, granted);
        if (count == 0) return granted;
        // Trim both arrays to the `count` entries filled (count <= n).
        assembly {
            mstore(beneficiaries, count)
            mstore(amounts, count)
        }
        $.token.mintBatch(beneficiaries, amounts, _expiryMonth(p));
    }

    /**
     * @inheritdoc IThanksBonus
     * @dev The token only. Grants the thanks-bonus programme's reward for `amount`
     * to `to`, within cap and budget (less, or nothing, when they are reached); never reverts for those.
     */
    function onThanks(address, address to, uint256 amount, bytes32) external {
        ProgrammesStorage storage $ = _storage();
        if (msg.sender != address($.token)) revert OnlyToken(msg.sender);
        uint256 programmeId = $.thanksBonusProgramme;
        if (programmeId == 0) return;
        Programme storage p = $.programmes[programmeId];
        if (p.closed || block.timestamp < p.startsAt || block.timestamp > p.endsAt) return;
        uint256 points = _cappedReward(p, programmeId, to, amount, _periodIndex(p.capPeriod), p.budget - p.issued);
        if (points == 0) return;
        _spendBudget(p, programmeId, points);
        emit Attested(programmeId, to, 0, amount, points, bytes32(0));
        $.token.mint(to, points, _expiryMonth(p));
    }

    // ================================================================ internals

    /// @dev One batch entry: skipped (with an event) or attested; returns the points to mint.
    function _attestOne(
        Programme storage p,
        uint256 programmeId,
        Attestation calldata item,
        IAccountRegistry.Kind kind,
        uint256 periodIndex
    ) private returns (uint256 points) {
        if (kind != IAccountRegistry.Kind.Resident) {
            emit AttestationSkipped(programmeId, item.beneficiary, item.claimId, SKIP_NOT_ACTIVE_RESIDENT);
            return 0;
        }
        if (!_useClaim(programmeId, item.claimId)) {
            emit AttestationSkipped(programmeId, item.beneficiary, item.claimId, SKIP_CLAIM_USED);
            return 0;
        }
        points = _cappedReward(p, programmeId, item.beneficiary, item.units, periodIndex, type(uint256).max);
        emit Attested(programmeId, item.beneficiary, item.claimId, item.units, points, item.evidenceHash);
    }

    function _programme(uint256 programmeId) private view returns (Programme storage p) {
        ProgrammesStorage storage $ = _storage();
        if (programmeId == 0 || programmeId > $.programmeCount) revert UnknownProgramme(programmeId);
        p = $.programmes[programmeId];
    }

    /// @dev Pays a business programme's grant out of the business's own points.
    function _payFromBusiness(uint256 programmeId, address funder, address beneficiary, uint256 points) private {
        IRegionalPoints token_ = _storage().token;
        // Checked here so the refusal names the programme; the token would refuse anyway.
        uint256 available = token_.balanceOf(funder);
        if (available < points) revert BusinessFundsExhausted(programmeId, funder, available, points);
        token_.rewardFromProgramme(funder, beneficiary, points, programmeId);
    }

    /// @dev A city programme: ADMIN; a business programme: ADMIN or its business.
    function _checkProgrammeOwner(uint256 programmeId) private view {
        address funder = _storage().funders[programmeId];
        if (funder != address(0) && msg.sender == funder) return;
        if (funder != address(0) && !registry().hasRole(Roles.ADMIN, msg.sender)) {
            revert NotProgrammeFunder(programmeId, msg.sender);
        }
        if (funder == address(0)) _checkRegistryRole(Roles.ADMIN, msg.sender);
    }

    function _activeProgramme(uint256 programmeId) private view returns (Programme storage p) {
        p = _programme(programmeId);
        if (p.closed || block.timestamp < p.startsAt || block.timestamp > p.endsAt) {
            revert ProgrammeNotActive(programmeId, p.startsAt, p.endsAt, block.timestamp);
        }
    }

    /// @dev Marks `claimId` used; false if it already was.
    function _useClaim(uint256 programmeId, uint256 claimId) private returns (bool) {
        mapping(uint256 => uint256) storage words = _storage().claimed[programmeId];
        uint256 bit = 1 << (claimId & 0xff);
        uint256 word = words[claimId >> 8];
        if (word & bit != 0) return false;
        words[claimId >> 8] = word | bit;
        return true;
    }

    /// @dev The reward for `units`, cut to what is left of the person's cap this period
    /// and to `limit`; records it against the cap.
    function _cappedReward(
        Programme storage p,
        uint256 programmeId,
        address person,
        uint256 units,
        uint256 periodIndex,
        uint256 limit
    ) private returns (uint256 points) {
        if (units > type(uint128).max) revert UnitsOutOfRange(units);
        // Rounded down: a fraction of a point is never granted.
        points = (units * p.rewardPoints) / p.rewardUnits;
        if (points > limit) points = limit;
        uint256 cap = p.capPerPeriod;
        // Without a cap nothing needs counting per person (saves a storage write per grant).
        if (cap == 0 || points == 0) return points;
        uint256 packed = _storage().usage[programmeId][person];
        uint256 used = packed >> 192 == periodIndex ? packed & type(uint192).max : 0;
        uint256 left = used >= cap ? 0 : cap - used;
        if (points > left) points = left;
        if (points != 0) _storage().usage[programmeId][person] = (periodIndex << 192) | (used + points);
    }

    function _spendBudget(Programme storage p, uint256 programmeId, uint256 points) private {
        uint256 issued = p.issued;
        uint256 remaining = p.budget - issued;
        if (points > remaining) revert BudgetExceeded(programmeId, remaining, points);
        // issued + points <= budget < 2^128
        p.issued = uint128(issued + points);
    }

    function _periodIndex(CapPeriod period) private view returns (uint256) {
        if (period == CapPeriod.Day) return JstCalendar.dayIndex(block.timestamp);
        if (period == CapPeriod.Month) return JstCalendar.monthIndex(block.timestamp);
        if (period == CapPeriod.FiscalYear) return JstCalendar.fiscalYearEndMonth(JstCalendar.monthIndex(block.timestamp));
        return 0;
    }

    function _expiryMonth(Programme storage p) private view returns (uint256) {
        if (p.expiryPolicy == ExpiryPolicy.FiscalYearEnd) {
            return JstCalendar.fiscalYearEndMonth(JstCalendar.monthIndex(block.timestamp));
        }
        return JstCalendar.monthIndex(block.timestamp + uint256(p.expiryDays) * 1 days);
    }

    function _storage() private pure returns (ProgrammesStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
