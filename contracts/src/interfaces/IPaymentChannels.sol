// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IPaymentChannels
/// @notice What other Verity contracts need from the payment channels.
interface IPaymentChannels {
    /// @notice Total amount `agentId` has claimed from channels paid by `payer`.
    function settledVolume(address payer, uint256 agentId) external view returns (uint256);
}
