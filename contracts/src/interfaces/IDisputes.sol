// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDisputes
/// @notice What `Staking` needs from the disputes contract.
interface IDisputes {
    /// @notice Number of challenges against `agentId` that are not resolved yet.
    function openChallenges(uint256 agentId) external view returns (uint256);

    /// @notice Until when (inclusive) receipts `agentId` was paid for can still be challenged: the
    /// audit window after its latest claim (0 when it never claimed).
    function challengeableUntil(uint256 agentId) external view returns (uint256);
}

/// @title IDisputeValidationRecorder
/// @notice The protocol-writer hook of `ValidationRegistry`: only its bound Disputes contract may call it.
interface IDisputeValidationRecorder {
    /// @notice Records a dispute verdict about `agentId` as an answered validation request.
    function recordDisputeOutcome(
        uint256 agentId,
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external;
}

/// @title IDisputeReputationRecorder
/// @notice The protocol-writer hook of `ReputationRegistry`: only its bound Disputes contract may call it.
interface IDisputeReputationRecorder {
    /// @notice Records a dispute verdict about `agentId` as a feedback entry from the Disputes contract.
    function recordDisputeOutcome(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external;
}
