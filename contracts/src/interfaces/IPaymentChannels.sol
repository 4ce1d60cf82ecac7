// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IPaymentChannels
/// @notice What other Verity contracts need from the payment channels.
interface IPaymentChannels {
    /// @notice Who pays channel `channelId`, the agent it pays and how much it has paid that agent
    /// so far (`payer == address(0)` when the channel was never opened).
    function paymentOf(bytes32 channelId) external view returns (address payer, uint256 agentId, uint256 claimed);
}
