// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IPaymentChannels
/// @notice What other Verity contracts need from the payment channels.
interface IPaymentChannels {
    /// @notice Terms of a channel, fixed at open; `channelId = keccak256(abi.encode(config))`. They
    /// are not stored: every call about a channel names them, and `ChannelOpened` carries them all.
    /// `receiverSigner` signs the channel's receipts: the receiver agent's wallet at open, else its
    /// owner (`open` checks it).
    struct ChannelConfig {
        address payer;
        address payerAuthorizer;
        uint256 receiverAgentId;
        uint256 modelId;
        address token;
        uint64 withdrawDelay;
        bytes32 salt;
        address receiverSigner;
    }

    /// @notice Who pays the channel with terms `config`, the agent it pays and how much it has paid
    /// that agent so far (`payer == address(0)` when the channel was never opened).
    function paymentOf(ChannelConfig calldata config)
        external
        view
        returns (bytes32 channelId, address payer, uint256 agentId, uint256 claimed);
}
