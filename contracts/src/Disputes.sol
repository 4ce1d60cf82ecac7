// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDisputes} from "./interfaces/IDisputes.sol";

/// @title Disputes
/// @notice The verification layer: the only address `Staking` accepts `slash` and `pauseOffers`
/// from. This is a skeleton: its challenge / vote / resolve flow is not active yet, every entry
/// point reverts `DisputesNotActive`, and it has no function that slashes or pauses anything, so
/// no stake can be slashed on a deployment of this version.
contract Disputes is IDisputes {
    /// @notice Staking contract this contract will slash through once disputes are active.
    address public immutable staking;
    /// @notice Payment channels whose receipts challenges will refer to.
    address public immutable paymentChannels;
    /// @notice ERC-8004 identity registry of the challenged agents.
    address public immutable agentRegistry;

    /// @notice False in this version: every entry point reverts `DisputesNotActive`.
    bool public constant ACTIVE = false;

    /// @notice Number of disputes opened so far (always zero in this version).
    uint256 public disputeCount;
    /// @dev Filled by the challenge flow once it lands; always zero in this version.
    mapping(uint256 agentId => uint256) private _openChallenges;

    /// @dev Placeholders of the future flow; never emitted by this version.
    event ChallengeOpened(
        uint256 indexed disputeId,
        address indexed challenger,
        bytes32 receiptHash,
        bytes32 providerSignatureHash,
        bytes32 evidenceHash,
        string evidenceURI
    );
    event VoteCommitted(uint256 indexed disputeId, address indexed voter, bytes32 commitment);
    event DisputeResolved(uint256 indexed disputeId);

    /// @notice A required address argument is zero.
    error ZeroAddress();
    /// @notice Disputes are not active on this deployment yet.
    error DisputesNotActive();

    modifier whenActive() {
        if (!ACTIVE) revert DisputesNotActive();
        _;
    }

    /// @notice Records the contracts this one will work with.
    constructor(address staking_, address paymentChannels_, address agentRegistry_) {
        if (staking_ == address(0) || paymentChannels_ == address(0) || agentRegistry_ == address(0)) {
            revert ZeroAddress();
        }
        staking = staking_;
        paymentChannels = paymentChannels_;
        agentRegistry = agentRegistry_;
    }

    /// @inheritdoc IDisputes
    function openChallenges(uint256 agentId) external view returns (uint256) {
        return _openChallenges[agentId];
    }

    /// @notice Will open a challenge against a provider's signed receipt, posting a bond in the
    /// payment token. Not active yet: always reverts `DisputesNotActive`.
    /// @param receipt Encoded receipt the provider signed (request, response and usage hashes).
    /// @param providerSignature The provider's signature over `receipt`.
    /// @param evidenceHash Hash of the challenger's evidence (e.g. a re-execution transcript).
    /// @param evidenceURI Where the evidence can be fetched.
    /// @return disputeId Id of the new dispute.
    function challenge(
        bytes calldata receipt,
        bytes calldata providerSignature,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) external whenActive returns (uint256 disputeId) {
        disputeId = ++disputeCount;
        emit ChallengeOpened(
            disputeId, msg.sender, keccak256(receipt), keccak256(providerSignature), evidenceHash, evidenceURI
        );
    }

    /// @notice Will record a validator's committed vote on `disputeId`. Not active yet: always
    /// reverts `DisputesNotActive`.
    /// @param disputeId Dispute voted on.
    /// @param commitment Hash committing to the vote and a salt (revealed later).
    function vote(uint256 disputeId, bytes32 commitment) external whenActive {
        emit VoteCommitted(disputeId, msg.sender, commitment);
    }

    /// @notice Will settle `disputeId` after voting (slash or return the bond). Not active yet:
    /// always reverts `DisputesNotActive`.
    /// @param disputeId Dispute to resolve.
    function resolve(uint256 disputeId) external whenActive {
        emit DisputeResolved(disputeId);
    }
}
