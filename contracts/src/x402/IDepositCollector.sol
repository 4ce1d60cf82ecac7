// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDepositCollector
/// @notice A deposit collector pulls a payer's tokens into the batch-settlement contract for one
/// channel, using whatever authorization its `collectorData` carries (an ERC-3009 signature, a
/// Permit2 permit, ...). The batch-settlement contract credits the channel with what it actually
/// received, so a collector cannot inflate a balance.
interface IDepositCollector {
    /// @notice Moves `amount` of `token` from `payer` to the caller for channel `channelId`.
    /// @param payer The channel's payer, whose authorization `collectorData` holds.
    /// @param token The channel's token.
    /// @param amount Tokens to deliver to the caller.
    /// @param channelId The channel being funded (bound into the authorization).
    /// @param collectorData Collector-specific authorization.
    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata collectorData)
        external;
}
