// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDisputes
/// @notice What `Staking` needs from the disputes contract.
interface IDisputes {
    /// @notice Number of challenges against `agentId` that are not resolved yet.
    function openChallenges(uint256 agentId) external view returns (uint256);
}
