// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IAgentRegistry
/// @notice What other Verity contracts need from the ERC-8004 identity registry.
interface IAgentRegistry {
    /// @notice Owner of `agentId`; reverts for an agent that does not exist.
    function ownerOf(uint256 agentId) external view returns (address);

    /// @notice Verified payment wallet of `agentId`, or the zero address when none is set.
    function getAgentWallet(uint256 agentId) external view returns (address);

    /// @notice True when `account` is the owner of `agentId` or approved to manage it.
    function isAuthorized(uint256 agentId, address account) external view returns (bool);
}
