// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRewardProgrammes
 * @notice Batch attestation, as the oracle reports contract uses it.
 */
interface IRewardProgrammes {
    /// @notice One attested activity: `units` by `beneficiary`, evidenced by `evidenceHash`.
    struct Attestation {
        address beneficiary;
        uint256 units;
        bytes32 evidenceHash;
        uint256 claimId;
    }

    /**
     * @notice Grants programme points to many beneficiaries; claims already used and
     * beneficiaries that are not active residents are skipped (with an event).
     * @return granted the points minted in total.
     */
    function attestBatch(uint256 programmeId, Attestation[] calldata items) external returns (uint256 granted);
}
