// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";

import {IAccountKindsMirror} from "./interfaces/IAccountKindsMirror.sol";
import {IAccountRegistry} from "./interfaces/IAccountRegistry.sol";
import {IThanksBonus} from "./interfaces/IThanksBonus.sol";
import {JstCalendar} from "./libraries/JstCalendar.sol";
import {RegistryGoverned} from "./utils/RegistryGoverned.sol";
import {Roles} from "./utils/Roles.sol";

/**
 * @title RegionalPoints
 * @notice Takasago's regional points: an ERC-20 with 0 decimals (1 point is worth
 * 1 yen at participating shops) that only active registered accounts may hold or move.
 *
 * What may move where is decided in one place, {_update}:
 * - minting (programmes and administrative points) credits residents only;
 * - resident -> resident only as thanks ({thank}), within a daily cap per sender;
 * - resident -> merchant is a payment ({pay}, recorded under a request id that commits
 *   to the merchant, the amount and the printed reference; a plain ERC-20 transfer to a merchant
 *   is an untagged payment);
 * - merchant -> resident only as a refund of a payment ({refund});
 * - merchant -> burn is a settlement into yen ({requestSettlement});
 * - a revoked account's points move only to its successor ({recoverBalance});
 * - resident -> escrow and escrow -> resident only through the help board
 *   ({lockInEscrow}, {releaseEscrow}): the thanks a resident offers for help, held
 *   under an address derived from the request until it is paid out or returned;
 * - local circulation (issue 21): a shop (merchant) or business pays another shop or
 *   business ({payBusiness}), and rewards a resident from its own points ({rewardResident},
 *   or a claim of its own programme through RewardProgrammes, {rewardFromProgramme}); each
 *   movement is capped per transfer by the city ({setLocalCirculationLimits}).
 *
 * Expiry. A resident's points sit in monthly buckets: points in the bucket of month
 * M expire after the last second of M in JST ({expiryOf}). A mint names its bucket
 * (at most {MAX_MONTHS_AHEAD} months ahead), so an account never has more than 25
 * live buckets, packed four to a storage slot: a transfer reads at most 7 slots and
 * usually one. {balanceOf} counts unexpired points only; spending takes the
 * soonest-to-expire first; thanks and recovery keep the points' months. Expired
 * points stay in their buckets (counted in {totalSupply}) until {sweepExpired}
 * burns them with an event. Merchants' points do not expire: they are owed yen.
 *
 * Account kinds. Which kind each party is, and whether it is active, is the registry's
 * to say; the token keeps a copy ({IAccountKindsMirror}) in the slot that holds a
 * merchant's ledger, pushed by the registry in the same transaction as every change
 * (registration, suspension, reactivation, revocation, recovery), so a movement reads
 * it instead of calling the registry. A copy counts only if it was made under the
 * registry's present link ({onKindsMirrorLinked}); for any party without one (an
 * account registered before the link and not yet copied with {syncKinds}, an escrow
 * address, or every account while the token is not linked) the movement asks the
 * registry, as before the copy existed. Either way the answer is the registry's.
 *
 * @dev Roles (MINTER, REGISTRAR, PAUSER, ADMIN) are held in the AccountRegistry.
 * Storage follows ERC-7201; the contract lives behind a UUPS proxy.
 */
contract RegionalPoints is ERC20Upgradeable, RegistryGoverned, IAccountKindsMirror {
    /// @notice The furthest month ahead a mint may put points in.
    uint256 public constant MAX_MONTHS_AHEAD = 24;

    uint256 private constant LANE_BITS = 64;
    uint256 private constant LANE_MASK = type(uint64).max;
    /// @dev Bit offsets of {AccountLedger}'s `activeKind` and `kindLink` in its slot.
    uint256 private constant KIND_SHIFT = 80;
    uint256 private constant KIND_LINK_SHIFT = 88;
    /// @dev The kinds that pay in local circulation, shops and businesses, as bits `1 << kind`.
    uint256 private constant LOCAL_PAYERS =
        (1 << uint8(IAccountRegistry.Kind.Merchant)) | (1 << uint8(IAccountRegistry.Kind.Business));
    /// @dev Bit offsets of {LocalCirculation}'s fields after the first two caps (at 0 and 64), read as
    /// one word by {_checkLocal}.
    uint256 private constant REWARD_CAP_SHIFT = 64;
    uint256 private constant SHOP_MONTHS_SHIFT = 128;
    uint256 private constant LOCAL_PAUSED_SHIFT = 136;
    uint256 private constant LOCAL_LINK_SHIFT = 144;
    uint256 private constant LOCAL_COPIED_SHIFT = 152;
    /// @dev Bit offset of {AccountLedger}'s `firstGroup` (its top 16 bits).
    uint256 private constant FIRST_GROUP_SHIFT = 240;
    /// @dev The lowest bit of lanes 1-3 of a bucket group: a carry out of the lane below lands there.
    uint256 private constant LANE_CARRY_BITS = (1 << 64) | (1 << 128) | (1 << 192);

    /// @notice Why points move: set by the entry point for {_update} to check, or passed to {_moveLocal}.
    enum Intent {
        Transfer,
        Mint,
        Thanks,
        Payment,
        Refund,
        Settlement,
        Recovery,
        Escrow,
        Release,
        // Appended (issue 21).
        BusinessPayment,
        BusinessReward
    }

    /// @dev One slot, read by every movement.
    struct Config {
        IAccountRegistry registry;
        bool paused;
        uint16 thanksPerDay;
        uint64 thanksPointsPerDay;
        // Appended (kinds mirror): the registry's present link; 0 while not linked ({onKindsMirrorLinked}).
        uint8 kindsLink;
    }

    /**
     * @dev One slot per account, read by every movement of its points: a merchant's
     * non-expiring balance and running totals, and every account's active kind as the
     * registry pushed it, with the link it was pushed under. The kind and its link sit in
     * bits 80-95, the top of what was a uint96 balance: a balance never exceeds its
     * `received` (< 2^80, checked), so those bits were zero on every chain before the copy.
     */
    struct AccountLedger {
        uint80 balance;
        uint8 activeKind; // an IAccountRegistry.Kind (a plain byte keeps the struct's copies one SSTORE)
        uint8 kindLink;
        uint80 received;
        uint64 refunded;
        // Appended (issue 21, gas) in the top 16 bits of what was a uint80 `refunded` (refunds
        // never reach 2^64 points, so those bits were zero on every chain): for a business, a
        // bucket group at or before its first group holding points (0: not known), where its
        // spending starts. Only local-circulation movements (the only ones a business takes part
        // in, but for a recovery, whose successor starts at 0) read and keep it.
        uint16 firstGroup;
    }

    /// @dev Thanks sent by one resident on one JST day.
    struct ThanksDay {
        uint32 day;
        uint32 count;
        uint64 points;
    }

    /// @dev A payment against a merchant's request id, in one slot.
    struct Payment {
        address payer;
        uint40 amount;
        uint40 refunded;
        uint16 month; // the latest bucket month the payment spent; refunds return there
    }

    /// @custom:storage-location erc7201:takasago.storage.RegionalPoints
    struct PointsStorage {
        Config config;
        uint256 totalSupply;
        uint256 totalIssued;
        uint256 totalSettled;
        uint256 totalSwept;
        uint256 settlementCount;
        IThanksBonus thanksBonus;
        mapping(address account => mapping(uint256 group => uint256 lanes)) buckets;
        mapping(address account => AccountLedger) accounts;
        mapping(address merchant => uint256) settled;
        mapping(address resident => ThanksDay) thanksDays;
        mapping(address merchant => mapping(bytes32 requestId => Payment)) payments;
        address helpBoard; // issue 18: the one contract that may hold residents' points in escrow
        // Appended (issue 21): limits of shop/business payments and rewards, and the programmes
        // contract allowed to pay business programmes' rewards out of a business's points.
        LocalCirculation localCirculation;
        address rewardProgrammes;
        // Appended (kinds mirror): links made so far; the present one is `config.kindsLink`.
        uint8 kindsLinks;
    }

    /// @dev The city's limits on local circulation, in one slot. A cap of 0 closes that movement.
    /// {_checkLocal} reads the slot as one word: keep the field order (the `*_SHIFT` constants).
    struct LocalCirculation {
        uint64 maxBusinessPayment;
        uint64 maxBusinessReward;
        uint8 merchantPointsMonths; // bucket month (months ahead) of points leaving a shop's ledger
        // Appended (gas): copies of `config.paused` and `config.kindsLink`, so that a local-circulation
        // movement reads this one slot instead of two; they count once `copied` (every change of
        // the pause, the link or these limits writes them; a chain upgraded from before them gets
        // them when the deployer re-applies its limits).
        bool paused;
        uint8 kindsLink;
        bool copied;
    }

    // keccak256(abi.encode(uint256(keccak256("takasago.storage.RegionalPoints")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x8e07b73d25538b1894274c1e3d95f78d59e14e8f2266fbc67f82e83046782600;

    // Per-call context between an entry point and {_update} (EIP-1153; never persisted).
    Intent private transient _intent;
    uint256 private transient _creditMonth;
    uint256 private transient _lastSpentMonth;

    /// @notice Points were minted into `to`'s bucket that expires at `expiresAt`.
    event PointsIssued(address indexed to, uint256 amount, uint256 expiresAt);
    /// @notice A batch mint: the `recipients` Transfer-from-zero events of this transaction
    /// before it put `total` points into buckets that expire at `expiresAt`.
    event PointsIssuedBatch(uint256 expiresAt, uint256 recipients, uint256 total);
    /// @notice A resident thanked another resident.
    event Thanked(address indexed from, address indexed to, uint256 amount, bytes32 category, bytes32 memoHash);
    /// @notice A resident paid a merchant's payment request; `requestId` is {paymentRequestId}
    /// of the merchant, the amount and the printed reference, so it commits to `amount`.
    event Paid(address indexed merchant, address indexed payer, bytes32 indexed requestId, uint256 amount);
    /// @notice A merchant refunded (part of) a payment; `totalRefunded` is for that request so far.
    event Refunded(
        address indexed merchant,
        address indexed payer,
        bytes32 indexed requestId,
        uint256 amount,
        uint256 totalRefunded
    );
    /// @notice A merchant's points were burned for settlement in yen; `settlementReference` is for the city's payment.
    event SettlementRequested(
        uint256 indexed settlementId,
        address indexed merchant,
        uint256 amount,
        bytes32 settlementReference
    );
    /// @notice Expired points of `account` were burned back to the city.
    event ExpiredPointsSwept(address indexed account, uint256 amount);
    /// @notice A revoked account's points moved to its successor.
    event BalanceRecovered(address indexed lostAccount, address indexed newAccount, uint256 amount);
    /// @notice The daily thanks caps changed.
    event ThanksLimitsChanged(uint256 perDay, uint256 pointsPerDay);
    /// @notice The thanks-bonus programme hook changed (zero: none).
    event ThanksBonusChanged(address bonus);
    /// @notice Point movements were paused (same signature as OpenZeppelin's Pausable).
    event Paused(address account);
    /// @notice Point movements were resumed.
    event Unpaused(address account);
    /// @notice The help board that may hold points in escrow was set (zero: none).
    event HelpBoardChanged(address helpBoard);
    /// @notice A shop or business paid another shop or business (B2B); `invoiceReference` is
    /// the payer's own reference (e.g. an invoice number), never personal data.
    event BusinessPaid(address indexed from, address indexed to, uint256 amount, bytes32 invoiceReference);
    /// @notice A shop or business rewarded a resident from its own points; `programmeId` is the
    /// business programme the reward paid a claim of (0: a direct reward).
    event BusinessRewarded(
        address indexed business,
        address indexed resident,
        uint256 amount,
        bytes32 category,
        uint256 programmeId
    );
    /// @notice The city changed the local-circulation limits.
    event LocalCirculationLimitsChanged(
        uint256 maxBusinessPayment,
        uint256 maxBusinessReward,
        uint256 merchantPointsMonths
    );
    /// @notice The programmes contract that may pay business programmes' rewards was set (zero: none).
    event RewardProgrammesChanged(address rewardProgrammes);
    /// @notice The registry linked (`link` > 0, the link's number) or unlinked (`link` 0) this
    /// token's copy of account kinds; copies made under an earlier link no longer count.
    event KindsMirrorLinked(uint256 link);

    /// @dev Spending needs more unexpired points than `account` has.
    error InsufficientUnexpiredBalance(address account, uint256 available, uint256 needed);
    /// @dev `account` is not registered, suspended or revoked (`status`).
    error AccountNotActive(address account, IAccountRegistry.Status status);
    /// @dev Points may not move between these kinds of account in this way.
    error TransferNotPermitted(
        address from,
        address to,
        IAccountRegistry.Kind fromKind,
        IAccountRegistry.Kind toKind,
        Intent intent
    );
    /// @dev Point movements are paused.
    error EnforcedPause();
    /// @dev The contract is not paused.
    error ExpectedPause();
    /// @dev Zero, or more than one operation may carry.
    error InvalidAmount(uint256 amount);
    /// @dev `sender` already sent `limit` thanks today (JST).
    error DailyThanksLimitReached(address sender, uint256 limit);
    /// @dev Sending `amount` more would exceed the daily thanks points cap.
    error DailyThanksPointsExceeded(address sender, uint256 sentToday, uint256 amount, uint256 limit);
    /// @dev A resident cannot thank themselves.
    error CannotThankYourself(address account);
    /// @dev A thanks needs a category.
    error InvalidCategory();
    /// @dev A payment needs a non-zero reference (the merchant's printed request).
    error InvalidRequestId();
    /// @dev This merchant's request was already paid.
    error PaymentRequestAlreadyPaid(address merchant, bytes32 requestId, address payer);
    /// @dev No payment was made against this merchant's request id.
    error UnknownPayment(address merchant, bytes32 requestId);
    /// @dev A refund larger than what is left of the payment.
    error RefundExceedsPayment(address merchant, bytes32 requestId, uint256 refundable, uint256 requested);
    /// @dev Mints go into this month's bucket or one at most MAX_MONTHS_AHEAD ahead.
    error ExpiryOutOfRange(uint256 expiryMonth, uint256 currentMonth, uint256 latestMonth);
    /// @dev A bucket would exceed 2^64-1 points.
    error BucketOverflow(address account, uint256 month);
    /// @dev The account has not been replaced by a recovery.
    error NoSuccessor(address account);
    /// @dev Sweeping starts from a month that has not ended yet.
    error MonthNotExpired(uint256 month, uint256 currentMonth);
    /// @dev Array arguments of different lengths.
    error LengthMismatch(uint256 expected, uint256 actual);
    /// @notice Only the help board may move points into or out of escrow.
    error NotHelpBoard(address caller);
    /// @dev `amount` is over the city's per-transfer `limit` for this movement (0: closed).
    error LocalTransferLimitExceeded(Intent intent, uint256 amount, uint256 limit);
    /// @dev A shop or business cannot pay itself.
    error CannotPayYourself(address account);
    /// @dev Only the reward programmes contract ({setRewardProgrammes}) pays business programmes' claims.
    error NotRewardProgrammes(address caller);
    /// @dev Points leaving a shop's ledger go at most MAX_MONTHS_AHEAD months ahead.
    error InvalidLocalCirculationLimits(uint256 merchantPointsMonths);
    /// @dev Only the registry ({registry}) pushes account kinds and links the copy.
    error NotRegistry(address caller);
    /// @dev The registry does not push account kinds to this token ({AccountRegistry-setKindsMirror}).
    error KindsMirrorNotLinked();
    /// @dev The copy of account kinds was linked 255 times; it cannot be linked again.
    error KindsMirrorLinksExhausted();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @notice Sets up the token behind its proxy.
     * @param registry_ the AccountRegistry holding accounts and roles.
     * @param name_ ERC-20 name; `symbol_` ERC-20 symbol.
     * @param thanksPerDay how many thanks a resident may send per JST day.
     * @param thanksPointsPerDay how many points a resident may send as thanks per JST day.
     */
    function initialize(
        IAccountRegistry registry_,
        string calldata name_,
        string calldata symbol_,
        uint16 thanksPerDay,
        uint64 thanksPointsPerDay
    ) external initializer {
        if (address(registry_) == address(0)) revert RegistryRequired();
        __ERC20_init(name_, symbol_);
        _storage().config = Config({
            registry: registry_,
            paused: false,
            thanksPerDay: thanksPerDay,
            thanksPointsPerDay: thanksPointsPerDay,
            kindsLink: 0
        });
        emit ThanksLimitsChanged(thanksPerDay, thanksPointsPerDay);
    }

    // ================================================================ ERC-20 views

    /// @notice Points are whole: 1 point is worth 1 yen.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice All points in existence, including expired points not yet swept.
    function totalSupply() public view override returns (uint256) {
        return _storage().totalSupply;
    }

    /// @notice The points `account` can spend now: unexpired bucket points plus a merchant's balance.
    function balanceOf(address account) public view override returns (uint256 balance) {
        PointsStorage storage $ = _storage();
        balance = $.accounts[account].balance;
        uint256 current = currentMonth();
        mapping(uint256 => uint256) storage buckets = $.buckets[account];
        for (uint256 g = current >> 2; g <= (current + MAX_MONTHS_AHEAD) >> 2; ++g) {
            uint256 lanes = buckets[g];
            if (lanes == 0) continue;
            for (uint256 lane = 0; lane < 4; ++lane) {
                if ((g << 2) + lane >= current) balance += (lanes >> (lane * LANE_BITS)) & LANE_MASK;
            }
        }
    }

    // ================================================================ points views

    /// @notice The contract allowed to hold points in escrow ({lockInEscrow}); zero when none.
    function helpBoard() external view returns (address) {
        return _storage().helpBoard;
    }

    /**
     * @notice The address holding the escrow `escrowId` of `board`:
     * `address(uint160(uint256(keccak256(abi.encode(board, escrowId)))))`. No key exists
     * for it and the registry never lists it; {balanceOf} shows the unexpired points held.
     */
    function escrowAddress(address board, bytes32 escrowId) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode(board, escrowId)))));
    }

    /// @notice The contract that may pay business programmes' claims out of a business's points; zero when none.
    function rewardProgrammes() external view returns (address) {
        return _storage().rewardProgrammes;
    }

    /**
     * @notice The city's limits on local circulation: the largest {payBusiness} and the largest
     * reward ({rewardResident}, {rewardFromProgramme}) in one transfer (0: not allowed), and the
     * bucket month, in months ahead of the current one, of points that leave a shop's
     * non-expiring ledger for a business or a resident.
     */
    function localCirculationLimits()
        external
        view
        returns (uint256 maxBusinessPayment, uint256 maxBusinessReward, uint256 merchantPointsMonths)
    {
        LocalCirculation storage c = _storage().localCirculation;
        return (c.maxBusinessPayment, c.maxBusinessReward, c.merchantPointsMonths);
    }

    /// @notice The AccountRegistry this token obeys.
    function registry() public view override returns (IAccountRegistry) {
        return _storage().config.registry;
    }

    /// @notice The JST month index (`year * 12 + month - 1`) of the current block.
    function currentMonth() public view returns (uint256) {
        return JstCalendar.monthIndex(block.timestamp);
    }

    /// @notice The last second (unix time) at which points of bucket `month` may be spent.
    function expiryOf(uint256 month) public pure returns (uint256) {
        return JstCalendar.monthEnd(month);
    }

    /// @notice The bucket month a mint now uses for points valid `days_` days (end of that month, JST).
    function monthAfterDays(uint256 days_) external view returns (uint256) {
        return JstCalendar.monthIndex(block.timestamp + days_ * 1 days);
    }

    /// @notice The bucket month of the end of the current fiscal year (March, JST).
    function fiscalYearEndMonth() external view returns (uint256) {
        return JstCalendar.fiscalYearEndMonth(currentMonth());
    }

    /**
     * @notice `account`'s unexpired points by bucket, soonest first.
     * @return expiresAt the last second each bucket may be spent; `amounts` its points.
     */
    function bucketsOf(
        address account
    ) external view returns (uint256[] memory expiresAt, uint256[] memory amounts) {
        uint256 current = currentMonth();
        uint256[] memory months = new uint256[](MAX_MONTHS_AHEAD + 1);
        uint256[] memory values = new uint256[](MAX_MONTHS_AHEAD + 1);
        uint256 n;
        mapping(uint256 => uint256) storage buckets = _storage().buckets[account];
        for (uint256 month = current; month <= current + MAX_MONTHS_AHEAD; ++month) {
            uint256 value = (buckets[month >> 2] >> ((month & 3) * LANE_BITS)) & LANE_MASK;
            if (value != 0) {
                months[n] = month;
                values[n] = value;
                ++n;
            }
        }
        expiresAt = new uint256[](n);
        amounts = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            expiresAt[i] = expiryOf(months[i]);
            amounts[i] = values[i];
        }
    }

    /// @notice Expired, not yet swept points of `account` in buckets from `fromMonth` to last month.
    function expiredBalanceOf(address account, uint256 fromMonth) external view returns (uint256 amount) {
        uint256 current = currentMonth();
        mapping(uint256 => uint256) storage buckets = _storage().buckets[account];
        for (uint256 month = fromMonth; month < current; ++month) {
            amount += (buckets[month >> 2] >> ((month & 3) * LANE_BITS)) & LANE_MASK;
        }
    }

    /// @notice A merchant's spendable balance and its totals received, refunded and settled.
    function merchantLedgerOf(
        address merchant
    ) external view returns (uint256 balance, uint256 received, uint256 refunded, uint256 settled) {
        PointsStorage storage $ = _storage();
        AccountLedger storage m = $.accounts[merchant];
        return (m.balance, m.received, m.refunded, $.settled[merchant]);
    }

    /// @notice The payment recorded under `merchant`'s `requestId` (payer zero when unpaid);
    /// `requestId` is {paymentRequestId}(merchant, amount, paymentReference), not the printed reference.
    function paymentOf(
        address merchant,
        bytes32 requestId
    ) external view returns (address payer, uint256 amount, uint256 refunded) {
        Payment storage p = _storage().payments[merchant][requestId];
        return (p.payer, p.amount, p.refunded);
    }

    /// @notice Thanks `account` sent today (JST): how many, and how many points.
    function thanksSentToday(address account) external view returns (uint256 count, uint256 points) {
        ThanksDay memory d = _storage().thanksDays[account];
        if (d.day != JstCalendar.dayIndex(block.timestamp)) return (0, 0);
        return (d.count, d.points);
    }

    /// @notice The daily thanks caps per sender: count and points.
    function thanksLimits() external view returns (uint256 perDay, uint256 pointsPerDay) {
        Config storage c = _storage().config;
        return (c.thanksPerDay, c.thanksPointsPerDay);
    }

    /// @notice Totals for auditors: points ever issued, burned in settlements, and swept after expiry.
    /// @dev totalSupply() == totalIssued - totalSettled - totalSwept at every block.
    function totals() external view returns (uint256 issued, uint256 settled, uint256 swept) {
        PointsStorage storage $ = _storage();
        return ($.totalIssued, $.totalSettled, $.totalSwept);
    }

    /// @notice Settlements requested so far (the id of the latest).
    function settlementCount() external view returns (uint256) {
        return _storage().settlementCount;
    }

    /// @notice True while point movements are paused.
    function paused() external view returns (bool) {
        return _storage().config.paused;
    }

    /// @notice The programme hook that may add a city-funded bonus to thanks (zero: none).
    function thanksBonus() external view returns (IThanksBonus) {
        return _storage().thanksBonus;
    }

    /// @notice True while the registry pushes every change of an account's active kind to this token.
    function kindsMirrorLinked() external view returns (bool) {
        return _storage().config.kindsLink != 0;
    }

    /**
     * @notice The token's copy of `account`'s active kind (`Kind.None`: not active). `current`
     * when it was made under the registry's present link: movements then use it; otherwise
     * they ask the registry ({syncKinds} copies it).
     */
    function mirroredKindOf(address account) external view returns (IAccountRegistry.Kind activeKind, bool current) {
        PointsStorage storage $ = _storage();
        return _mirroredKind($, account, $.config.kindsLink);
    }

    /**
     * @notice The active kind of each account (`Kind.None`: not active), as the registry's
     * {IAccountRegistry-activeKindsOfBatch} answers: from the token's copy when it holds a
     * current one for every account, else from the registry.
     */
    function activeKindsOfBatch(
        address[] calldata accounts_
    ) external view returns (IAccountRegistry.Kind[] memory kinds) {
        PointsStorage storage $ = _storage();
        Config memory config = $.config;
        kinds = new IAccountRegistry.Kind[](accounts_.length);
        for (uint256 i = 0; i < accounts_.length; ++i) {
            bool current;
            (kinds[i], current) = _mirroredKind($, accounts_[i], config.kindsLink);
            if (!current) return config.registry.activeKindsOfBatch(accounts_);
        }
    }

    // ================================================================ minting

    /**
     * @notice Mints `amount` points to resident `to`, expiring at the end of `expiryMonth` (JST).
     * @dev MINTER_ROLE (the RewardProgrammes contract). Emits {Transfer} and {PointsIssued}.
     */
    function mint(address to, uint256 amount, uint256 expiryMonth) external onlyRegistryRole(Roles.MINTER) {
        _checkExpiryMonth(expiryMonth);
        _issue(to, amount, expiryMonth);
        _storage().totalIssued += amount;
    }

    /**
     * @notice Mints to many residents at once, all into the bucket of `expiryMonth`.
     * @dev MINTER_ROLE. Emits {Transfer} per recipient and one {PointsIssuedBatch}
     * carrying the expiry of them all.
     */
    function mintBatch(
        address[] calldata to,
        uint256[] calldata amounts,
        uint256 expiryMonth
    ) external onlyRegistryRole(Roles.MINTER) {
        if (to.length != amounts.length) revert LengthMismatch(to.length, amounts.length);
        _checkExpiryMonth(expiryMonth);
        _creditMonth = expiryMonth;
        _intent = Intent.Mint;
        uint256 total;
        for (uint256 i = 0; i < to.length; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) revert InvalidAmount(amount);
            _mint(to[i], amount);
            total += amount;
        }
        _intent = Intent.Transfer;
        _storage().totalIssued += total;
        emit PointsIssuedBatch(expiryOf(expiryMonth), to.length, total);
    }

    // ================================================================ residents

    /**
     * @notice Thanks resident `to` with `amount` points (謝意): moved from the sender's
     * soonest-expiring points, keeping their expiry.
     * @param category what the thanks is for (e.g. "help", "watch-over"), as bytes32 text.
     * @param memoHash hash of an off-chain message (the message itself never goes on-chain).
     * @dev Any active resident, to another active resident, within the daily caps.
     * Emits {Transfer} and {Thanked}; a configured bonus programme may then mint a bonus.
     */
    function thank(address to, uint256 amount, bytes32 category, bytes32 memoHash) external {
        address from = _msgSender();
        if (to == from) revert CannotThankYourself(from);
        if (category == bytes32(0)) revert InvalidCategory();
        if (amount == 0) revert InvalidAmount(amount);
        PointsStorage storage $ = _storage();
        _recordThanks($, from, amount);
        _intent = Intent.Thanks;
        _transfer(from, to, amount);
        _intent = Intent.Transfer;
        emit Thanked(from, to, amount, category, memoHash);
        IThanksBonus bonus = $.thanksBonus;
        if (address(bonus) != address(0)) bonus.onThanks(from, to, amount, category);
    }

    /**
     * @notice Pays `amount` points to `merchant` against the merchant's payment request
     * printed as `paymentReference` (the `bytes32` of the QR code, see docs/payment-uri.md).
     * The payment is recorded under the request id {paymentRequestId}`(merchant, amount,
     * paymentReference)`, which commits to the amount: paying another amount against the same
     * printed reference lands under another request id and can never satisfy the
     * merchant's request. Each request id is paid once.
     * @dev Any active resident, to an active merchant. Emits {Transfer} and {Paid} (with
     * the derived request id, the one {paymentOf} and {refund} take).
     */
    function pay(address merchant, uint256 amount, bytes32 paymentReference) external {
        if (paymentReference == bytes32(0)) revert InvalidRequestId();
        if (amount == 0 || amount > type(uint40).max) revert InvalidAmount(amount);
        bytes32 requestId = _paymentRequestId(merchant, amount, paymentReference);
        address payer = _msgSender();
        Payment storage payment = _storage().payments[merchant][requestId];
        if (payment.payer != address(0)) revert PaymentRequestAlreadyPaid(merchant, requestId, payment.payer);
        _intent = Intent.Payment;
        _transfer(payer, merchant, amount);
        _intent = Intent.Transfer;
        // amount < 2^40 (checked above); a bucket month index stays below 2^16 until the year 5461.
        _storage().payments[merchant][requestId] = Payment({
            payer: payer,
            amount: uint40(amount),
            refunded: 0,
            month: uint16(_lastSpentMonth)
        });
        emit Paid(merchant, payer, requestId, amount);
    }

    /**
     * @notice The request id under which {pay}`(merchant, amount, paymentReference)` records its
     * payment: `keccak256(abi.encode(merchant, amount, paymentReference))`. A till that printed
     * `paymentReference` for `amount` points looks its request up with {paymentOf}`(merchant,
     * paymentRequestId(merchant, amount, paymentReference))`.
     */
    function paymentRequestId(
        address merchant,
        uint256 amount,
        bytes32 paymentReference
    ) external pure returns (bytes32) {
        return _paymentRequestId(merchant, amount, paymentReference);
    }

    // ================================================================ merchants

    /**
     * @notice Refunds `amount` of the payment recorded under the caller's `requestId`
     * (the derived id of {Paid} and {paymentRequestId}, not the printed reference)
     * (full or partial; never more than was paid). The points return to the payer
     * (or the account that replaced it) with the expiry of the points the payment
     * spent, or the end of this month if those have expired since.
     * @dev The merchant that was paid. Emits {Transfer} and {Refunded}.
     */
    function refund(bytes32 requestId, uint256 amount) external {
        address merchant = _msgSender();
        Payment storage payment = _storage().payments[merchant][requestId];
        address payer = payment.payer;
        if (payer == address(0)) revert UnknownPayment(merchant, requestId);
        uint256 refundable = payment.amount - payment.refunded;
        if (amount == 0 || amount > refundable) revert RefundExceedsPayment(merchant, requestId, refundable, amount);
        // refunded + amount <= payment.amount < 2^40.
        uint40 totalRefunded = payment.refunded + uint40(amount);
        payment.refunded = totalRefunded;
        address to = _currentHolder(payer);
        uint256 month = payment.month;
        uint256 current = currentMonth();
        _creditMonth = month < current ? current : month;
        _intent = Intent.Refund;
        _transfer(merchant, to, amount);
        _intent = Intent.Transfer;
        emit Refunded(merchant, to, requestId, amount, totalRefunded);
    }

    /**
     * @notice Burns `amount` of the caller's points for settlement in yen; the city pays
     * the merchant against `settlementReference` (e.g. its invoice number).
     * @return settlementId sequential id of this settlement.
     * @dev An active merchant. Emits {Transfer} (to zero) and {SettlementRequested}.
     */
    function requestSettlement(uint256 amount, bytes32 settlementReference) external returns (uint256 settlementId) {
        if (amount == 0) revert InvalidAmount(amount);
        address merchant = _msgSender();
        _intent = Intent.Settlement;
        _burn(merchant, amount);
        _intent = Intent.Transfer;
        PointsStorage storage $ = _storage();
        settlementId = ++$.settlementCount;
        $.settled[merchant] += amount;
        $.totalSettled += amount;
        emit SettlementRequested(settlementId, merchant, amount, settlementReference);
    }

    // ================================================================ the help board

    /**
     * @notice Moves `amount` of resident `from`'s unexpired points into escrow `escrowId`,
     * keeping their expiry months (soonest first, as any spending).
     * @dev Only the help board ({setHelpBoard}), which passes the resident who posted the
     * request. Emits {Transfer} to {escrowAddress}.
     */
    function lockInEscrow(address from, bytes32 escrowId, uint256 amount) external {
        address board = _onlyHelpBoard();
        if (amount == 0) revert InvalidAmount(amount);
        _intent = Intent.Escrow;
        _transfer(from, escrowAddress(board, escrowId), amount);
        _intent = Intent.Transfer;
    }

    /**
     * @notice Pays up to `amount` out of escrow `escrowId` to resident `to` (or the account
     * that replaced it after a lost phone), months kept; only unexpired points move, so an
     * escrow whose points expired pays what is left.
     * @return released the points moved (at most `amount`).
     * @dev Only the help board. Emits {Transfer} when anything moves.
     */
    function releaseEscrow(bytes32 escrowId, address to, uint256 amount) external returns (uint256 released) {
        address escrow = escrowAddress(_onlyHelpBoard(), escrowId);
        uint256 held = balanceOf(escrow);
        released = amount < held ? amount : held;
        if (released == 0) return 0;
        _intent = Intent.Release;
        _transfer(escrow, _currentHolder(to), released);
        _intent = Intent.Transfer;
    }

    // ================================================================ local circulation

    /**
     * @notice Pays `amount` points to shop or business `to` (B2B, e.g. a bakery paying its
     * flour supplier), keeping the points in the city. A business's points keep their expiry
     * months when they go to a business; points reaching a shop join its non-expiring ledger
     * (owed yen, as any payment); points leaving a shop for a business go into the bucket
     * {localCirculationLimits}`.merchantPointsMonths` ahead.
     * @param invoiceReference the payer's reference (e.g. an invoice number as bytes32 text).
     * @dev An active merchant or business, to another active merchant or business, at most
     * the city's `maxBusinessPayment`. Emits {Transfer} and {BusinessPaid}.
     */
    function payBusiness(address to, uint256 amount, bytes32 invoiceReference) external {
        address from = _msgSender();
        if (to == from) revert CannotPayYourself(from);
        _moveLocal(from, to, amount, Intent.BusinessPayment);
        emit BusinessPaid(from, to, amount, invoiceReference);
    }

    /**
     * @notice Rewards resident `resident` (an employee cycling to work, a regular customer)
     * with `amount` of the caller's own points; a business's points keep their months, a
     * shop's go into the bucket `merchantPointsMonths` ahead.
     * @param category what the reward is for, as bytes32 text (e.g. "commute").
     * @dev An active merchant or business, to an active resident, at most the city's
     * `maxBusinessReward`. Emits {Transfer} and {BusinessRewarded} (programme 0).
     */
    function rewardResident(address resident, uint256 amount, bytes32 category) external {
        if (category == bytes32(0)) revert InvalidCategory();
        _reward(_msgSender(), resident, amount, category, 0);
    }

    /**
     * @notice Pays a claim of business programme `programmeId`: `amount` of `business`'s own
     * points to `resident`, as {rewardResident} would.
     * @dev Only the reward programmes contract ({setRewardProgrammes}), which has checked the
     * claim id and that `business` runs the programme. Emits {Transfer} and {BusinessRewarded}.
     */
    function rewardFromProgramme(address business, address resident, uint256 amount, uint256 programmeId) external {
        address programmes = _storage().rewardProgrammes;
        if (programmes == address(0) || _msgSender() != programmes) revert NotRewardProgrammes(_msgSender());
        _reward(business, resident, amount, "programme", programmeId);
    }

    /**
     * @notice Sets the per-transfer caps of shop/business payments and rewards (0 closes a
     * movement) and the bucket month, in months ahead, of points leaving a shop's ledger.
     * @dev ADMIN. Emits {LocalCirculationLimitsChanged}.
     */
    function setLocalCirculationLimits(
        uint64 maxBusinessPayment,
        uint64 maxBusinessReward,
        uint8 merchantPointsMonths
    ) external onlyRegistryRole(Roles.ADMIN) {
        if (merchantPointsMonths > MAX_MONTHS_AHEAD) revert InvalidLocalCirculationLimits(merchantPointsMonths);
        PointsStorage storage $ = _storage();
        LocalCirculation storage local = $.localCirculation;
        local.maxBusinessPayment = maxBusinessPayment;
        local.maxBusinessReward = maxBusinessReward;
        local.merchantPointsMonths = merchantPointsMonths;
        _copyConfigToLocal($);
        emit LocalCirculationLimitsChanged(maxBusinessPayment, maxBusinessReward, merchantPointsMonths);
    }

    /**
     * @notice Sets (or clears, with zero) the programmes contract that pays business programmes' claims.
     * @dev ADMIN. Emits {RewardProgrammesChanged}.
     */
    function setRewardProgrammes(address programmes) external onlyRegistryRole(Roles.ADMIN) {
        _storage().rewardProgrammes = programmes;
        emit RewardProgrammesChanged(programmes);
    }

    // ================================================================ the registry's kinds

    /**
     * @inheritdoc IAccountKindsMirror
     * @dev The registry only ({AccountRegistry-setKindsMirror}). A link gets the next number
     * (1 to 255), so every copy made under an earlier link stops counting. Emits {KindsMirrorLinked}.
     */
    function onKindsMirrorLinked(bool linked) external {
        PointsStorage storage $ = _storage();
        _onlyRegistry($);
        uint8 link = 0;
        if (linked) {
            if ($.kindsLinks == type(uint8).max) revert KindsMirrorLinksExhausted();
            link = ++$.kindsLinks;
        }
        $.config.kindsLink = link;
        _copyConfigToLocal($);
        emit KindsMirrorLinked(link);
    }

    /**
     * @inheritdoc IAccountKindsMirror
     * @dev The registry only, in the transaction that changed the accounts. No event: the
     * registry's {AccountRegistry-AccountStatusChanged} is the record; this is its copy.
     */
    function mirrorKinds(address[] calldata accounts_, IAccountRegistry.Kind activeKind) external {
        PointsStorage storage $ = _storage();
        _onlyRegistry($);
        uint8 link = $.config.kindsLink;
        for (uint256 i = 0; i < accounts_.length; ++i) _writeKind($, accounts_[i], activeKind, link);
    }

    /**
     * @notice Copies the registry's present answer for `accounts` into the token, so their
     * movements need no registry call: for accounts registered before the registry linked the
     * token (a chain upgraded in place, or the accounts of genesis). Inactive accounts are not
     * copied (their movements are refused, asking the registry for the precise reason).
     * @dev Anyone: it copies what the registry says, and the registry pushes every later change.
     * Reverts with {KindsMirrorNotLinked} while the registry does not push to this token.
     */
    function syncKinds(address[] calldata accounts_) external {
        PointsStorage storage $ = _storage();
        Config memory config = $.config;
        if (config.kindsLink == 0) revert KindsMirrorNotLinked();
        IAccountRegistry.Kind[] memory kinds = config.registry.activeKindsOfBatch(accounts_);
        for (uint256 i = 0; i < accounts_.length; ++i) {
            if (kinds[i] != IAccountRegistry.Kind.None) _writeKind($, accounts_[i], kinds[i], config.kindsLink);
        }
    }

    // ================================================================ the city

    /**
     * @notice Moves the unexpired points of a revoked account to the account that
     * replaced it in the registry ({AccountRegistry-recover}), keeping their expiry; if
     * that account was lost and recovered in turn, to the latest one.
     * @dev REGISTRAR_ROLE. Emits {Transfer} and {BalanceRecovered}.
     */
    function recoverBalance(address lostAccount) external onlyRegistryRole(Roles.REGISTRAR) {
        address successor = _currentHolder(lostAccount);
        if (successor == lostAccount) revert NoSuccessor(lostAccount);
        uint256 amount = balanceOf(lostAccount);
        _intent = Intent.Recovery;
        _update(lostAccount, successor, amount);
        _intent = Intent.Transfer;
        emit BalanceRecovered(lostAccount, successor, amount);
    }

    /**
     * @notice Burns the expired points of each account found in buckets from
     * `fromMonth` up to last month, returning them to the city (the total is in
     * {totals}; the city may fund a new programme budget with them).
     * @dev Anyone may call: it only applies the expiry rule. Emits {Transfer} (to zero)
     * and {ExpiredPointsSwept} per account with expired points.
     */
    function sweepExpired(address[] calldata accounts, uint256 fromMonth) external returns (uint256 total) {
        PointsStorage storage $ = _storage();
        if ($.config.paused) revert EnforcedPause();
        uint256 current = currentMonth();
        if (fromMonth >= current) revert MonthNotExpired(fromMonth, current);
        for (uint256 i = 0; i < accounts.length; ++i) {
            uint256 swept = _sweepAccount($.buckets[accounts[i]], fromMonth, current);
            if (swept != 0) {
                total += swept;
                emit Transfer(accounts[i], address(0), swept);
                emit ExpiredPointsSwept(accounts[i], swept);
            }
        }
        // Each swept bucket was counted in totalSupply when minted or moved.
        $.totalSupply -= total;
        $.totalSwept += total;
    }

    /**
     * @notice Sets the daily caps on thanks per sender (count and points).
     * @dev ADMIN. Emits {ThanksLimitsChanged}.
     */
    function setThanksLimits(uint16 perDay, uint64 pointsPerDay) external onlyRegistryRole(Roles.ADMIN) {
        Config storage c = _storage().config;
        c.thanksPerDay = perDay;
        c.thanksPointsPerDay = pointsPerDay;
        emit ThanksLimitsChanged(perDay, pointsPerDay);
    }

    /**
     * @notice Sets (or clears, with zero) the programme hook that adds a bonus to thanks.
     * @dev ADMIN. Emits {ThanksBonusChanged}.
     */
    function setThanksBonus(IThanksBonus bonus) external onlyRegistryRole(Roles.ADMIN) {
        _storage().thanksBonus = bonus;
        emit ThanksBonusChanged(address(bonus));
    }

    /**
     * @notice Sets (or clears, with zero) the help board allowed to hold points in escrow.
     * @dev ADMIN. Emits {HelpBoardChanged}.
     */
    function setHelpBoard(address board) external onlyRegistryRole(Roles.ADMIN) {
        _storage().helpBoard = board;
        emit HelpBoardChanged(board);
    }

    /// @notice Stops every point movement (emergency). @dev PAUSER_ROLE. Emits {Paused}.
    function pause() external onlyRegistryRole(Roles.PAUSER) {
        PointsStorage storage $ = _storage();
        if ($.config.paused) revert EnforcedPause();
        $.config.paused = true;
        _copyConfigToLocal($);
        emit Paused(_msgSender());
    }

    /// @notice Resumes point movements. @dev PAUSER_ROLE. Emits {Unpaused}.
    function unpause() external onlyRegistryRole(Roles.PAUSER) {
        PointsStorage storage $ = _storage();
        if (!$.config.paused) revert ExpectedPause();
        $.config.paused = false;
        _copyConfigToLocal($);
        emit Unpaused(_msgSender());
    }

    // ================================================================ the funnel

    /**
     * @dev Every movement of points passes here: mint, burn and transfer, whichever
     * entry point started it. Checks pause, that both parties are active, and that
     * the movement is allowed between their kinds for the caller's intent; then moves
     * bucket points (residents) or balances (merchants) and emits {Transfer}.
     */
    function _update(address from, address to, uint256 value) internal override {
        PointsStorage storage $ = _storage();
        Config memory config = $.config;
        if (config.paused) revert EnforcedPause();
        Intent intent = _intent;
        (IAccountRegistry.Kind fromKind, IAccountRegistry.Kind toKind) = _activeKinds(
            $,
            config.kindsLink,
            from,
            to,
            intent
        );
        if (from == address(0)) {
            if (toKind != IAccountRegistry.Kind.Resident || intent != Intent.Mint) {
                _refuse(from, to, fromKind, toKind, intent);
            }
            _credit($, to, _creditMonth, value);
            $.totalSupply += value;
        } else if (to == address(0)) {
            if (fromKind != IAccountRegistry.Kind.Merchant || intent != Intent.Settlement) {
                _refuse(from, to, fromKind, toKind, intent);
            }
            _debitMerchant($, from, value, false);
            // value <= merchant balance <= totalSupply
            unchecked {
                $.totalSupply -= value;
            }
        } else if (intent == Intent.Escrow) {
            // A resident's points into an escrow address, which no registry account can be.
            if (fromKind != IAccountRegistry.Kind.Resident || toKind != IAccountRegistry.Kind.None) {
                _refuse(from, to, fromKind, toKind, intent);
            }
            _spendBuckets($, from, value, to, 0);
        } else if (intent == Intent.Release) {
            if (toKind != IAccountRegistry.Kind.Resident) _refuse(from, to, fromKind, toKind, intent);
            _spendBuckets($, from, value, to, 0);
        } else if (intent == Intent.Recovery) {
            // The lost account is revoked (not active); its successor must be active.
            if (toKind == IAccountRegistry.Kind.None) _refuse(from, to, fromKind, toKind, intent);
            _moveResidentPoints($, from, to);
            // The successor may have spent points (and kept a first group) before this arrives.
            _lowerFirstGroup($, to, 0);
            uint256 merchantBalance = $.accounts[from].balance;
            if (merchantBalance != 0) {
                _debitMerchant($, from, merchantBalance, false);
                _creditMerchant($, to, merchantBalance);
            }
        } else if (fromKind == IAccountRegistry.Kind.Resident && toKind == IAccountRegistry.Kind.Resident) {
            if (intent != Intent.Thanks) _refuse(from, to, fromKind, toKind, intent);
            _spendBuckets($, from, value, to, 0);
        } else if (fromKind == IAccountRegistry.Kind.Resident && toKind == IAccountRegistry.Kind.Merchant) {
            if (intent != Intent.Payment && intent != Intent.Transfer) {
                _refuse(from, to, fromKind, toKind, intent);
            }
            (, _lastSpentMonth) = _spendBuckets($, from, value, address(0), 0);
            _creditMerchant($, to, value);
        } else if (fromKind == IAccountRegistry.Kind.Merchant && toKind == IAccountRegistry.Kind.Resident) {
            if (intent != Intent.Refund) _refuse(from, to, fromKind, toKind, intent);
            _debitMerchant($, from, value, true);
            _credit($, to, _creditMonth, value);
        } else {
            _refuse(from, to, fromKind, toKind, intent);
        }
        emit Transfer(from, to, value);
    }

    /**
     * @dev The active kinds of `from` and `to` (`Kind.None` for the zero address): the token's
     * copies when both parties have a current one, else the registry's answer. Escrow movements
     * always ask the registry: an escrow address has no copy, and locking into one checks that
     * it is no registry account at all.
     */
    function _activeKinds(
        PointsStorage storage $,
        uint8 kindsLink,
        address from,
        address to,
        Intent intent
    ) private view returns (IAccountRegistry.Kind fromKind, IAccountRegistry.Kind toKind) {
        if (intent != Intent.Escrow && intent != Intent.Release) {
            bool current = true;
            if (from != address(0)) (fromKind, current) = _mirroredKind($, from, kindsLink);
            if (current && to != address(0)) (toKind, current) = _mirroredKind($, to, kindsLink);
            if (current) return (fromKind, toKind);
        }
        return $.config.registry.activeKindsOf(from, to);
    }

    /// @dev Reverts with the most precise reason: an inactive party first, then the rule.
    function _refuse(
        address from,
        address to,
        IAccountRegistry.Kind fromKind,
        IAccountRegistry.Kind toKind,
        Intent intent
    ) private view {
        IAccountRegistry registry_ = _storage().config.registry;
        // A lost account (recovery) and an escrow address (release) are never active themselves.
        bool neverActive = intent == Intent.Recovery || intent == Intent.Release;
        if (from != address(0) && fromKind == IAccountRegistry.Kind.None && !neverActive) {
            revert AccountNotActive(from, registry_.accountOf(from).status);
        }
        if (to != address(0) && toKind == IAccountRegistry.Kind.None) {
            revert AccountNotActive(to, registry_.accountOf(to).status);
        }
        revert TransferNotPermitted(from, to, fromKind, toKind, intent);
    }

    // ================================================================ internals

    /// @dev Checks the reward cap and moves a reward; see {rewardResident}.
    function _reward(
        address business,
        address resident,
        uint256 amount,
        bytes32 category,
        uint256 programmeId
    ) private {
        _moveLocal(business, resident, amount, Intent.BusinessReward);
        emit BusinessRewarded(business, resident, amount, category, programmeId);
    }

    /**
     * @dev A local-circulation movement ({payBusiness}, {rewardResident}, {rewardFromProgramme}):
     * the city's cap for `intent`, the pause, both parties active and of kinds `intent` allows,
     * then the points move. A shop's points are its non-expiring ledger; a business's and a
     * resident's sit in expiry buckets. Bucket to bucket keeps the months; bucket to shop ends
     * them (owed yen); shop to bucket starts them `merchantPointsMonths` ahead.
     * These movements do not pass through {_update}: they read the pause and the kinds link from
     * their own settings slot ({LocalCirculation}), one cold slot fewer than {_update} reads.
     * Emits {Transfer}.
     */
    function _moveLocal(address from, address to, uint256 value, Intent intent) private {
        PointsStorage storage $ = _storage();
        (
            IAccountRegistry.Kind fromKind,
            IAccountRegistry.Kind toKind,
            uint256 fromLedger,
            uint256 shopPointsMonths
        ) = _checkLocal($, from, to, value, intent);
        bool toShop = toKind == IAccountRegistry.Kind.Merchant;
        bool toBusiness = toKind == IAccountRegistry.Kind.Business;
        if (fromKind == IAccountRegistry.Kind.Merchant) {
            _debitMerchant($, from, value, false);
            if (toShop) {
                _creditMerchant($, to, value);
            } else {
                uint256 month = currentMonth() + shopPointsMonths;
                _credit($, to, month, value);
                if (toBusiness) _lowerFirstGroup($, to, month >> 2);
            }
        } else {
            // A business's ledger word holds its first-group hint: its spending starts there.
            uint256 hint = fromLedger >> FIRST_GROUP_SHIFT;
            _spendFromBusiness($, from, toShop ? address(0) : to, value, toBusiness, hint);
            if (toShop) _creditMerchant($, to, value);
        }
        emit Transfer(from, to, value);
    }

    /**
     * @dev The checks of {_moveLocal}, in the order {_update} makes them for other movements; returns
     * the parties' kinds, the payer's ledger word and `merchantPointsMonths`.
     */
    function _checkLocal(
        PointsStorage storage $,
        address from,
        address to,
        uint256 value,
        Intent intent
    )
        private
        view
        returns (
            IAccountRegistry.Kind fromKind,
            IAccountRegistry.Kind toKind,
            uint256 fromLedger,
            uint256 shopPointsMonths
        )
    {
        uint8 link;
        {
            // The settings word, read raw: decoding the struct into memory costs more than the checks.
            uint256 local;
            LocalCirculation storage settings = $.localCirculation;
            assembly ("memory-safe") {
                local := sload(settings.slot)
            }
            uint256 limit = uint64(intent == Intent.BusinessPayment ? local : local >> REWARD_CAP_SHIFT);
            if (value == 0) revert InvalidAmount(value);
            if (value > limit) revert LocalTransferLimitExceeded(intent, value, limit);
            if (to == address(0)) revert ERC20InvalidReceiver(address(0));
            bool paused = uint8(local >> LOCAL_PAUSED_SHIFT) != 0;
            link = uint8(local >> LOCAL_LINK_SHIFT);
            // Not copied yet (a token upgraded from before the copies): the config's own.
            if (uint8(local >> LOCAL_COPIED_SHIFT) == 0) (paused, link) = ($.config.paused, $.config.kindsLink);
            if (paused) revert EnforcedPause();
            shopPointsMonths = uint8(local >> SHOP_MONTHS_SHIFT);
        }
        fromLedger = _ledgerWord($, from);
        {
            uint256 toLedger = _ledgerWord($, to);
            // Both copies current ({_mirroredKind}), or the registry answers.
            if (link != 0 && uint8(fromLedger >> KIND_LINK_SHIFT) == link && uint8(toLedger >> KIND_LINK_SHIFT) == link) {
                fromKind = IAccountRegistry.Kind(uint8(fromLedger >> KIND_SHIFT));
                toKind = IAccountRegistry.Kind(uint8(toLedger >> KIND_SHIFT));
            } else {
                (fromKind, toKind) = $.config.registry.activeKindsOf(from, to);
            }
        }
        // A payment goes to a shop or a business, a reward to a resident; both come from either.
        uint256 payees = intent == Intent.BusinessPayment ? LOCAL_PAYERS : 1 << uint8(IAccountRegistry.Kind.Resident);
        if ((LOCAL_PAYERS >> uint8(fromKind)) & (payees >> uint8(toKind)) & 1 == 0) {
            _refuse(from, to, fromKind, toKind, intent);
        }
    }

    /// @dev Spends a business's points from its first-group hint on, into `to`'s buckets unless
    /// `to` is zero (a shop), and keeps both hints.
    function _spendFromBusiness(
        PointsStorage storage $,
        address business,
        address to,
        uint256 value,
        bool toBusiness,
        uint256 hint
    ) private {
        (uint256 firstMoved, uint256 lastMonth) = _spendBuckets($, business, value, to, hint);
        // Every group before the last one spent from is now empty: the next spending starts there.
        if (lastMonth >> 2 != hint) $.accounts[business].firstGroup = uint16(lastMonth >> 2);
        if (toBusiness) _lowerFirstGroup($, to, firstMoved);
    }

    /// @dev Copies the pause and the kinds link into the local-circulation settings ({_moveLocal} reads them there).
    function _copyConfigToLocal(PointsStorage storage $) private {
        LocalCirculation storage local = $.localCirculation;
        local.paused = $.config.paused;
        local.kindsLink = $.config.kindsLink;
        local.copied = true;
    }

    /// @dev Keeps business `account`'s first-group hint at or before group `g`, which just got points.
    function _lowerFirstGroup(PointsStorage storage $, address account, uint256 g) private {
        AccountLedger storage a = $.accounts[account];
        uint256 hint = a.firstGroup;
        // g < 2^16 for every month index before the year 5461.
        if (g < hint) a.firstGroup = uint16(g);
    }

    function _issue(address to, uint256 amount, uint256 expiryMonth) private {
        if (amount == 0) revert InvalidAmount(amount);
        _creditMonth = expiryMonth;
        _intent = Intent.Mint;
        _mint(to, amount);
        _intent = Intent.Transfer;
        emit PointsIssued(to, amount, expiryOf(expiryMonth));
    }

    function _checkExpiryMonth(uint256 expiryMonth) private view {
        uint256 current = currentMonth();
        if (expiryMonth < current || expiryMonth > current + MAX_MONTHS_AHEAD) {
            revert ExpiryOutOfRange(expiryMonth, current, current + MAX_MONTHS_AHEAD);
        }
    }

    function _recordThanks(PointsStorage storage $, address from, uint256 amount) private {
        Config memory config = $.config;
        ThanksDay memory day = $.thanksDays[from];
        uint256 today = JstCalendar.dayIndex(block.timestamp);
        if (day.day != today) day = ThanksDay({day: uint32(today), count: 0, points: 0});
        if (day.count >= config.thanksPerDay) revert DailyThanksLimitReached(from, config.thanksPerDay);
        if (day.points + amount > config.thanksPointsPerDay) {
            revert DailyThanksPointsExceeded(from, day.points, amount, config.thanksPointsPerDay);
        }
        // count < thanksPerDay < 2^16; points + amount <= thanksPointsPerDay < 2^64.
        day.count += 1;
        day.points += uint64(amount);
        $.thanksDays[from] = day;
    }

    /**
     * @dev Takes `amount` unexpired points from `from`'s buckets, soonest month first;
     * when `to` is not zero the same amounts go into `to`'s buckets of the same
     * months. Groups before `startGroup` are known to be empty and are not read.
     * Returns the first group and the latest month spent from.
     */
    function _spendBuckets(
        PointsStorage storage $,
        address from,
        uint256 amount,
        address to,
        uint256 startGroup
    ) private returns (uint256 firstGroup, uint256 lastMonth) {
        mapping(uint256 => uint256) storage source = $.buckets[from];
        uint256 remaining = amount;
        uint256 g;
        uint256 lastGroup;
        uint256 spendable;
        {
            uint256 current = currentMonth();
            g = current >> 2;
            lastGroup = (current + MAX_MONTHS_AHEAD) >> 2;
            // In the current group, the lanes of months already ended are not spendable.
            spendable = ~uint256(0) << ((current & 3) * LANE_BITS);
            if (startGroup > g) (g, spendable) = (startGroup, ~uint256(0));
        }
        for (; g <= lastGroup; ++g) {
            uint256 lanes = source[g];
            uint256 moved;
            {
                uint256 open = lanes & spendable;
                spendable = ~uint256(0);
                if (open == 0) continue;
                uint256 lastLane;
                (moved, remaining, lastLane) = _takeFromLanes(open, remaining);
                lastMonth = (g << 2) + lastLane;
            }
            if (firstGroup == 0) firstGroup = g;
            // moved <= lanes, lane by lane: no borrow.
            unchecked {
                source[g] = lanes - moved;
            }
            if (to != address(0)) _addLanes($.buckets[to], g, moved, to);
            if (remaining == 0) return (firstGroup, lastMonth);
        }
        revert InsufficientUnexpiredBalance(from, amount - remaining, amount);
    }

    /// @dev Takes up to `remaining` from the lanes of `open`, lowest lane first: the amounts taken
    /// (as lanes), what is left to take, and the last lane taken from.
    function _takeFromLanes(
        uint256 open,
        uint256 remaining
    ) private pure returns (uint256 moved, uint256 left, uint256 lastLane) {
        left = remaining;
        // Unchecked: a lane is taken whole only while it is less than `left`.
        unchecked {
            for (uint256 lane = 0; lane < 4; ++lane) {
                uint256 value = (open >> (lane * LANE_BITS)) & LANE_MASK;
                if (value == 0) continue;
                if (value >= left) return (moved | (left << (lane * LANE_BITS)), 0, lane);
                moved |= value << (lane * LANE_BITS);
                left -= value;
                lastLane = lane;
            }
        }
    }

    /// @dev Recovery: every unexpired bucket of `from` moves to `to`, months kept.
    function _moveResidentPoints(PointsStorage storage $, address from, address to) private {
        uint256 current = currentMonth();
        mapping(uint256 => uint256) storage source = $.buckets[from];
        uint256 lastGroup = (current + MAX_MONTHS_AHEAD) >> 2;
        for (uint256 g = current >> 2; g <= lastGroup; ++g) {
            uint256 lanes = source[g];
            if (lanes == 0) continue;
            uint256 moved;
            for (uint256 lane = 0; lane < 4; ++lane) {
                if ((g << 2) + lane >= current) moved |= lanes & (LANE_MASK << (lane * LANE_BITS));
            }
            if (moved != 0) {
                source[g] = lanes ^ moved;
                _addLanes($.buckets[to], g, moved, to);
            }
        }
    }

    function _credit(PointsStorage storage $, address to, uint256 month, uint256 amount) private {
        if (amount > LANE_MASK) revert BucketOverflow(to, month);
        uint256 shift = (month & 3) * LANE_BITS;
        mapping(uint256 => uint256) storage buckets = $.buckets[to];
        uint256 lanes = buckets[month >> 2];
        if (((lanes >> shift) & LANE_MASK) + amount > LANE_MASK) revert BucketOverflow(to, month);
        // The lane stays <= 2^64-1 (checked), so the addition never carries into the next lane.
        buckets[month >> 2] = lanes + (amount << shift);
    }

    /// @dev Adds packed lane values, refusing any lane that would pass 2^64-1.
    function _addLanes(mapping(uint256 => uint256) storage buckets, uint256 g, uint256 add, address owner) private {
        uint256 lanes = buckets[g];
        uint256 sum;
        // A lane that passes 2^64-1 carries into the lowest bit of the lane above it, where the
        // carry shows as `lanes ^ add ^ sum`; the top lane's carry wraps the word (`sum < lanes`).
        unchecked {
            sum = lanes + add;
        }
        if ((lanes ^ add ^ sum) & LANE_CARRY_BITS != 0 || sum < lanes) {
            for (uint256 lane = 0; lane < 4; ++lane) {
                uint256 shift = lane * LANE_BITS;
                if (((lanes >> shift) & LANE_MASK) + ((add >> shift) & LANE_MASK) > LANE_MASK) {
                    revert BucketOverflow(owner, (g << 2) + lane);
                }
            }
        }
        buckets[g] = sum;
    }

    function _sweepAccount(
        mapping(uint256 => uint256) storage buckets,
        uint256 fromMonth,
        uint256 current
    ) private returns (uint256 swept) {
        for (uint256 g = fromMonth >> 2; g <= (current - 1) >> 2; ++g) {
            uint256 lanes = buckets[g];
            if (lanes == 0) continue;
            uint256 cleared;
            for (uint256 lane = 0; lane < 4; ++lane) {
                uint256 month = (g << 2) + lane;
                if (month < fromMonth || month >= current) continue;
                uint256 shift = lane * LANE_BITS;
                swept += (lanes >> shift) & LANE_MASK;
                cleared |= LANE_MASK << shift;
            }
            if (lanes & cleared != 0) buckets[g] = lanes & ~cleared;
        }
    }

    function _creditMerchant(PointsStorage storage $, address merchant, uint256 amount) private {
        AccountLedger memory m = $.accounts[merchant];
        // A merchant's totals stay far below 2^80 points (1.2e24 yen); SafeCast would only add gas.
        // The additions are checked: a balance never carries into the kind bits above it.
        m.balance += uint80(amount);
        m.received += uint80(amount);
        $.accounts[merchant] = m;
    }

    function _debitMerchant(PointsStorage storage $, address merchant, uint256 amount, bool isRefund) private {
        AccountLedger memory m = $.accounts[merchant];
        if (amount > m.balance) revert ERC20InsufficientBalance(merchant, m.balance, amount);
        // amount <= balance
        unchecked {
            m.balance -= uint80(amount);
        }
        if (isRefund) m.refunded += uint64(amount);
        $.accounts[merchant] = m;
    }

    /// @dev `account`'s copied kind, and whether it was copied under `link`, the present one (0: none is).
    function _mirroredKind(
        PointsStorage storage $,
        address account,
        uint8 link
    ) private view returns (IAccountRegistry.Kind kind, bool current) {
        // One SLOAD of the whole ledger word (reading the two fields would load it twice).
        uint256 word = _ledgerWord($, account);
        kind = IAccountRegistry.Kind(uint8(word >> KIND_SHIFT));
        current = link != 0 && uint8(word >> KIND_LINK_SHIFT) == link;
    }

    /// @dev `account`'s {AccountLedger} slot as one word (fields at the offsets of the struct).
    function _ledgerWord(PointsStorage storage $, address account) private view returns (uint256 word) {
        AccountLedger storage a = $.accounts[account];
        assembly ("memory-safe") {
            word := sload(a.slot)
        }
    }

    /// @dev Records `kind` as `account`'s active kind, copied under `link`; the merchant ledger
    /// sharing the slot is kept.
    function _writeKind(PointsStorage storage $, address account, IAccountRegistry.Kind kind, uint8 link) private {
        AccountLedger storage a = $.accounts[account];
        a.activeKind = uint8(kind);
        a.kindLink = link;
    }

    function _onlyRegistry(PointsStorage storage $) private view {
        if (_msgSender() != address($.config.registry)) revert NotRegistry(_msgSender());
    }

    /// @dev The request id a payment of `amount` to `merchant` against `paymentReference` is recorded under.
    function _paymentRequestId(
        address merchant,
        uint256 amount,
        bytes32 paymentReference
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(merchant, amount, paymentReference));
    }

    /// @dev The account now holding a (possibly recovered) payer's points.
    function _currentHolder(address account) private view returns (address) {
        IAccountRegistry registry_ = registry();
        for (uint256 hops = 0; hops < 8; ++hops) {
            address next = registry_.successorOf(account);
            if (next == address(0)) return account;
            account = next;
        }
        return account;
    }

    function _onlyHelpBoard() private view returns (address board) {
        board = _storage().helpBoard;
        if (board == address(0) || _msgSender() != board) revert NotHelpBoard(_msgSender());
    }

    function _storage() private pure returns (PointsStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
