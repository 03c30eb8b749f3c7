// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";

import {IAccountRegistry} from "./interfaces/IAccountRegistry.sol";
import {IRewardProgrammes} from "./interfaces/IRewardProgrammes.sol";
import {RegistryGoverned} from "./utils/RegistryGoverned.sol";
import {Roles} from "./utils/Roles.sol";

/**
 * @title OracleReports
 * @notice Period reports of verified CO2 reductions, accepted only with the
 * signatures of a quorum of oracle operators, and the grants that follow from them.
 *
 * A report (programme, period, Merkle root of per-household results, totals) is
 * signed off-chain by each operator (EIP-712) and accepted once per programme and
 * period when at least {quorum} distinct registered operators signed it, as
 * Chainlink OCR accepts a report with enough signers. Grants are then pushed in
 * batches: each batch carries its households' leaves and one Merkle multiproof, and
 * the programme mints once per household (claim id `period << 32 | index`).
 *
 * Push rather than claim: residents hold custodial wallets and would not claim; and a
 * multiproof for a batch of neighbouring leaves costs a few hashes in total, against
 * log2(households) proof hashes per household for individual claims.
 *
 * @dev Leaves are OpenZeppelin StandardMerkleTree leaves of
 * `(uint256 index, address household, uint256 units)`. Holds QUORUM_REPORTER_ROLE,
 * the verifier role of programmes fed by reports.
 */
contract OracleReports is EIP712Upgradeable, RegistryGoverned {
    /// @notice What operators sign.
    struct Report {
        uint256 programmeId;
        uint256 period;
        bytes32 merkleRoot;
        uint256 households;
        uint256 totalUnits;
    }

    /// @notice One household's result in a report.
    struct Leaf {
        uint256 index;
        address household;
        uint256 units;
    }

    /// @dev A batch of leaves, decoded for the programme.
    struct Batch {
        bytes32[] hashes;
        IRewardProgrammes.Attestation[] items;
        uint256 totalUnits;
    }

    /// @notice An accepted report and what has been granted from it.
    struct AcceptedReport {
        bytes32 merkleRoot;
        uint64 households;
        uint64 acceptedAt;
        uint128 totalUnits;
    }

    /// @custom:storage-location erc7201:takasago.storage.OracleReports
    struct ReportsStorage {
        IAccountRegistry registry;
        IRewardProgrammes programmes;
        uint256 quorum;
        mapping(uint256 programmeId => mapping(uint256 period => AcceptedReport)) reports;
    }

    // keccak256(abi.encode(uint256(keccak256("takasago.storage.OracleReports")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x148628710ca2bfea012a9b5ff243cf88bac865753c94f7ff51a75976e2d56e00;

    /// @notice EIP-712 type of {Report}.
    bytes32 public constant REPORT_TYPEHASH =
        keccak256("Report(uint256 programmeId,uint256 period,bytes32 merkleRoot,uint256 households,uint256 totalUnits)");

    /// @notice A report reached quorum and was accepted.
    event ReportAccepted(
        uint256 indexed programmeId,
        uint256 indexed period,
        bytes32 merkleRoot,
        uint256 households,
        uint256 totalUnits,
        address[] signers
    );
    /// @notice A batch of a report's households was granted (`units` in this batch).
    event ReportBatchGranted(uint256 indexed programmeId, uint256 indexed period, uint256 leaves, uint256 units);
    /// @notice The number of operator signatures a report needs changed.
    event QuorumChanged(uint256 previousQuorum, uint256 newQuorum);

    /// @dev A report for this programme and period was already accepted.
    error ReportAlreadyAccepted(uint256 programmeId, uint256 period, bytes32 merkleRoot);
    /// @dev No accepted report for this programme and period.
    error UnknownReport(uint256 programmeId, uint256 period);
    /// @dev Fewer valid operator signatures than the quorum.
    error QuorumNotReached(uint256 validSignatures, uint256 quorum);
    /// @dev Signatures must come from distinct operators, ordered by address ascending.
    error SignersNotAscending(address signer);
    /// @dev The signer is not an active oracle operator with ORACLE_ROLE.
    error NotAnOracleOperator(address signer);
    /// @dev The leaves are not in the report's Merkle tree.
    error InvalidMerkleProof();
    /// @dev A leaf index beyond the report's household count.
    error LeafIndexOutOfRange(uint256 index, uint256 households);
    /// @dev A report with no households, or totals that cannot be stored.
    error InvalidReport();
    /// @dev The quorum must be at least 1.
    error InvalidQuorum(uint256 quorum);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Sets up the contract behind its proxy with a quorum of `quorum_` signatures.
    function initialize(
        IAccountRegistry registry_,
        IRewardProgrammes programmes_,
        uint256 quorum_
    ) external initializer {
        if (address(registry_) == address(0) || address(programmes_) == address(0)) revert RegistryRequired();
        if (quorum_ == 0) revert InvalidQuorum(quorum_);
        __EIP712_init("TakasagoOracleReports", "1");
        ReportsStorage storage $ = _storage();
        $.registry = registry_;
        $.programmes = programmes_;
        $.quorum = quorum_;
        emit QuorumChanged(0, quorum_);
    }

    // ================================================================ views

    /// @notice The AccountRegistry holding operators and roles.
    function registry() public view override returns (IAccountRegistry) {
        return _storage().registry;
    }

    /// @notice The programmes contract grants go through.
    function programmes() external view returns (IRewardProgrammes) {
        return _storage().programmes;
    }

    /// @notice How many distinct operator signatures a report needs.
    function quorum() external view returns (uint256) {
        return _storage().quorum;
    }

    /// @notice The accepted report for a programme and period (root zero when none).
    function reportOf(uint256 programmeId, uint256 period) external view returns (AcceptedReport memory) {
        return _storage().reports[programmeId][period];
    }

    /// @notice The EIP-712 digest operators sign for `report`.
    function reportDigest(Report calldata report) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        REPORT_TYPEHASH,
                        report.programmeId,
                        report.period,
                        report.merkleRoot,
                        report.households,
                        report.totalUnits
                    )
                )
            );
    }

    /// @notice The Merkle leaf hash of one household's result (OpenZeppelin StandardMerkleTree).
    function leafHash(Leaf calldata leaf) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(leaf.index, leaf.household, leaf.units))));
    }

    /// @notice The programme claim id of leaf `index` of `period`'s report.
    function claimIdOf(uint256 period, uint256 index) public pure returns (uint256) {
        return (period << 32) | index;
    }

    // ================================================================ operators

    /**
     * @notice Accepts `report` if at least {quorum} distinct active oracle operators
     * signed its EIP-712 digest; signatures ordered by signer address, ascending.
     * @dev Anyone may submit (the signatures are the authority). One report per
     * programme and period: a second submission reverts with {ReportAlreadyAccepted},
     * so two operators posting at once cannot both succeed. Emits {ReportAccepted}.
     */
    function submitReport(Report calldata report, bytes[] calldata signatures) external {
        ReportsStorage storage $ = _storage();
        AcceptedReport storage stored = $.reports[report.programmeId][report.period];
        if (stored.merkleRoot != bytes32(0)) {
            revert ReportAlreadyAccepted(report.programmeId, report.period, stored.merkleRoot);
        }
        if (
            report.merkleRoot == bytes32(0) ||
            report.households == 0 ||
            report.households > type(uint32).max ||
            report.totalUnits > type(uint128).max ||
            report.period > type(uint128).max
        ) revert InvalidReport();
        bytes32 digest = reportDigest(report);
        IAccountRegistry registry_ = $.registry;
        address[] memory signers = new address[](signatures.length);
        address previous;
        for (uint256 i = 0; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= previous) revert SignersNotAscending(signer);
            if (
                !registry_.hasRole(Roles.ORACLE, signer) ||
                registry_.accountOf(signer).status != IAccountRegistry.Status.Active
            ) revert NotAnOracleOperator(signer);
            signers[i] = signer;
            previous = signer;
        }
        if (signatures.length < $.quorum) revert QuorumNotReached(signatures.length, $.quorum);
        // households < 2^32, totalUnits < 2^128 (checked above).
        $.reports[report.programmeId][report.period] = AcceptedReport({
            merkleRoot: report.merkleRoot,
            households: uint64(report.households),
            acceptedAt: uint64(block.timestamp),
            totalUnits: uint128(report.totalUnits)
        });
        emit ReportAccepted(
            report.programmeId,
            report.period,
            report.merkleRoot,
            report.households,
            report.totalUnits,
            signers
        );
    }

    /**
     * @notice Grants the rewards of a batch of households from an accepted report.
     * `leaves` and `proof`/`proofFlags` form an OpenZeppelin Merkle multiproof (a
     * single leaf with its ordinary proof and all-false flags works too). Households
     * already granted are skipped by the programme, so re-sending a batch, or two
     * operators sending the same one, mints nothing twice.
     * @return granted the points minted.
     * @dev Anyone may call: the report's signatures are the authority.
     * Emits {ReportBatchGranted}; the programme emits {Attested}/{AttestationSkipped}.
     */
    function grant(
        uint256 programmeId,
        uint256 period,
        Leaf[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external returns (uint256 granted) {
        ReportsStorage storage $ = _storage();
        AcceptedReport storage report = $.reports[programmeId][period];
        bytes32 root = report.merkleRoot;
        if (root == bytes32(0)) revert UnknownReport(programmeId, period);
        Batch memory batch = _decodeLeaves(period, leaves, report.households);
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, batch.hashes)) revert InvalidMerkleProof();
        granted = $.programmes.attestBatch(programmeId, batch.items);
        emit ReportBatchGranted(programmeId, period, leaves.length, batch.totalUnits);
    }

    function _decodeLeaves(
        uint256 period,
        Leaf[] calldata leaves,
        uint256 count
    ) private pure returns (Batch memory batch) {
        uint256 n = leaves.length;
        batch.hashes = new bytes32[](n);
        batch.items = new IRewardProgrammes.Attestation[](n);
        for (uint256 i = 0; i < n; ++i) {
            Leaf calldata leaf = leaves[i];
            if (leaf.index >= count) revert LeafIndexOutOfRange(leaf.index, count);
            bytes32 hash = leafHash(leaf);
            batch.hashes[i] = hash;
            batch.items[i] = IRewardProgrammes.Attestation({
                beneficiary: leaf.household,
                units: leaf.units,
                evidenceHash: hash,
                claimId: claimIdOf(period, leaf.index)
            });
            batch.totalUnits += leaf.units;
        }
    }

    // ================================================================ the city

    /// @notice Sets how many operator signatures a report needs. @dev ADMIN. Emits {QuorumChanged}.
    function setQuorum(uint256 quorum_) external onlyRegistryRole(Roles.ADMIN) {
        if (quorum_ == 0) revert InvalidQuorum(quorum_);
        ReportsStorage storage $ = _storage();
        emit QuorumChanged($.quorum, quorum_);
        $.quorum = quorum_;
    }

    function _storage() private pure returns (ReportsStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
