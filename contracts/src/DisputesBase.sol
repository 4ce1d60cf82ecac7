// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";
import {IDisputes} from "./interfaces/IDisputes.sol";

/// @title DisputesBase
/// @notice Types, parameters, events, errors, storage and the validator set of `Disputes`.
/// @dev Validators are ERC-8004 agents that post a bond of `validatorBond` held here (not Staking
/// stake: Staking only ever slashes the accused provider). The bond backs their duty to vote: a
/// committee member that does not reveal, or reveals against a decisive majority, loses up to
/// `voterPenalty` of it to the members that voted with the outcome.
abstract contract DisputesBase is IDisputes, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A provider-signed receipt (EIP-712 `Receipt`, domain `Verity Receipt` v1 at PaymentChannels).
    struct Receipt {
        bytes32 requestId;
        bytes32 channelId;
        uint256 modelId;
        bytes32 promptHash;
        bytes32 outputHash;
        bytes32 paramsHash;
        uint32 promptTokens;
        uint32 completionTokens;
        uint256 charge;
        uint256 cumulativeCharged;
        uint64 timestamp;
    }

    /// @notice Deployment parameters (all immutable).
    struct Params {
        uint256 challengeBond; // paid by the challenger; back (+ reward) if guilty, to the provider if not
        uint256 validatorBond; // held from registration; a validator below it is no longer drawn
        uint256 voterPenalty; // taken from a non-revealing or minority committee member
        uint256 slashAmount; // slashed on a guilty verdict: min(stake, max(slashAmount, refundDue))
        uint16 challengerRewardBps; // challenger's share of the slash left after the payer's refund
        uint8 committeeSize; // validators drawn per dispute (1..MAX_COMMITTEE)
        uint64 commitWindow; // seconds after the challenge during which votes are committed
        uint64 revealWindow; // seconds after the commit window during which votes are revealed
    }

    /// @notice Lifecycle of a dispute.
    enum Status {
        None,
        Open,
        Guilty,
        NotGuilty
    }

    /// @notice A dispute as stored (7 slots). The committee is drawn from the hash of `seedBlock`, a
    /// block after the challenge; the vote windows run from `drawnAt` (0 until drawn).
    struct Dispute {
        address challenger;
        uint40 openedAt;
        uint40 drawnAt;
        Status status;
        address payer;
        uint16 guiltyVotes;
        uint16 notGuiltyVotes;
        uint64 seedBlock;
        uint256 agentId;
        uint256 charge;
        bytes32 receiptHash;
        bytes32 channelId;
        uint256 cumulativeCharged;
    }

    /// @notice A committee member's vote on one dispute.
    struct Vote {
        bool member;
        bool committed;
        bool revealed;
        bool guilty;
        bytes32 commitment;
    }

    /// @notice A registered validator; `position` is its index in the validator list + 1. Its chance
    /// to be drawn onto a committee is proportional to `bond` (none below `validatorBond`).
    struct Validator {
        uint128 bond;
        uint64 agentId;
        uint32 position;
        uint32 activeDuties;
    }

    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Largest validator set (bounds the committee draw).
    uint256 public constant MAX_VALIDATORS = 64;
    /// @notice Largest committee.
    uint256 public constant MAX_COMMITTEE = 32;

    // Storage order is part of the test fixture's contract: `disputeCount` at slot 0 and
    // `_openChallenges` at slot 1 (`fixture.setOpenChallenges` writes it directly).

    /// @notice Number of disputes opened so far (dispute ids start at 1).
    uint256 public disputeCount;
    mapping(uint256 agentId => uint256) internal _openChallenges;
    mapping(uint256 disputeId => Dispute) internal _disputes;
    mapping(uint256 disputeId => address[]) internal _committees;
    mapping(uint256 disputeId => mapping(address voter => Vote)) internal _votes;
    /// @notice Dispute opened on a receipt, by its EIP-712 digest (0 when none).
    mapping(bytes32 receiptHash => uint256 disputeId) public disputeOfReceipt;
    mapping(address validator => Validator) internal _validators;
    address[] internal _validatorList;
    /// @notice Refunded to the payer of `channelId` by guilty verdicts so far (never above what the
    /// channel paid the provider).
    mapping(bytes32 channelId => uint256) public refundedOf;
    /// @notice Refund of guilty verdict `disputeId` held here until its channel pays it
    /// (`releaseRefund`).
    mapping(uint256 disputeId => uint256) public heldRefundOf;
    /// @dev The challenged channel's receipt signer (fixed at its open), read by the committee draw.
    mapping(uint256 disputeId => address) internal _receiverSigners;

    /// @notice The payment token bonds are posted in (Staking's token).
    IERC20 public immutable token;
    /// @notice ERC-8004 identity registry of providers and validators.
    IAgentRegistry public immutable agentRegistry;
    /// @notice Bond a challenge posts.
    uint256 public immutable challengeBond;
    /// @notice Bond a validator posts at registration.
    uint256 public immutable validatorBond;
    /// @notice Most a committee member loses per dispute for not revealing or voting with a losing minority.
    uint256 public immutable voterPenalty;

    /// @notice `validator` registered for validator agent `agentId`, posting `bond`.
    event ValidatorRegistered(address indexed validator, uint256 indexed agentId, uint256 bond);
    /// @notice `validator` added `amount` to its bond, which is now `bond`.
    event ValidatorBondToppedUp(address indexed validator, uint256 amount, uint256 bond);
    /// @notice `validator` left the set and got `bond` back.
    event ValidatorDeregistered(address indexed validator, uint256 indexed agentId, uint256 bond);

    /// @notice A required address argument is zero.
    error ZeroAddress();
    /// @notice A deployment parameter is out of range (committee size, penalty, reward, windows).
    error InvalidParameters();
    /// @notice The caller is neither the owner nor an operator of the agent.
    error NotAgentOwner(uint256 agentId, address caller);
    /// @notice The address is already a registered validator.
    error AlreadyRegistered(address validator);
    /// @notice The address is not a registered validator.
    error NotValidator(address account);
    /// @notice The validator set holds `MAX_VALIDATORS` already.
    error ValidatorSetFull();
    /// @notice The amount is zero.
    error ZeroAmount();
    /// @notice The validator sits on `duties` unresolved committees.
    error ValidatorBusy(address validator, uint256 duties);

    // ---------------------------------------------------------------- dispute events and errors

    /// @notice A challenge against `agentId`'s receipt `receiptHash` opened dispute `disputeId`.
    event ChallengeOpened(
        uint256 indexed disputeId,
        uint256 indexed agentId,
        address indexed challenger,
        bytes32 receiptHash,
        bytes32 requestId,
        bytes32 channelId,
        uint256 charge,
        uint256 bond,
        bytes32 evidenceHash,
        string evidenceURI
    );
    /// @notice The committee of `disputeId` will be drawn from the hash of block `seedBlock`
    /// (`drawCommittee` once that block is mined; re-scheduled if it is more than 256 blocks old).
    event CommitteeDrawScheduled(uint256 indexed disputeId, uint256 seedBlock);
    /// @notice The committee of `disputeId` was drawn with `seed`.
    event CommitteeDrawn(uint256 indexed disputeId, address[] members, uint256 seed);
    /// @notice `voter` committed to a vote on `disputeId`.
    event VoteCommitted(uint256 indexed disputeId, address indexed voter, bytes32 commitment);
    /// @notice `voter` revealed its vote on `disputeId`.
    event VoteRevealed(uint256 indexed disputeId, address indexed voter, bool guilty);
    /// @notice `voter` lost `amount` of its bond for not revealing or voting against a decisive majority.
    event VoterPenalized(uint256 indexed disputeId, address indexed voter, uint256 amount);
    /// @notice `voter`'s bond grew by `amount`, its share of the penalties of `disputeId`.
    event VoterRewarded(uint256 indexed disputeId, address indexed voter, uint256 amount);
    /// @notice `disputeId` was resolved. Guilty: `slashed` was taken from the agent's stake, `refunded`
    /// paid to the payer, `challengerReward` (+ the bond) to the challenger, `treasuryAmount` to the
    /// treasury. Not guilty: the challenge bond went to `bondRecipient` (the provider).
    event DisputeResolved(
        uint256 indexed disputeId,
        uint256 indexed agentId,
        bool guilty,
        uint256 guiltyVotes,
        uint256 notGuiltyVotes,
        uint256 slashed,
        uint256 refunded,
        uint256 challengerReward,
        uint256 treasuryAmount,
        address bondRecipient
    );
    /// @notice The guilty verdict on `disputeId` owes its payer `amount` more than `channelId` has paid
    /// so far; it is held until the channel pays it or closes.
    event RefundHeld(uint256 indexed disputeId, bytes32 indexed channelId, uint256 amount);
    /// @notice Held refund of `disputeId` paid out: `toPayer` to the payer, `toTreasury` (channel closed).
    event RefundReleased(uint256 indexed disputeId, bytes32 indexed channelId, uint256 toPayer, uint256 toTreasury);
    /// @notice Writing the verdict of `disputeId` to `registry` failed; the verdict stands regardless.
    event RegistryWriteFailed(uint256 indexed disputeId, address indexed registry);

    /// @notice No channel with this id was opened.
    error UnknownChannel(bytes32 channelId);
    /// @notice No model with this id is registered.
    error UnknownModel(uint256 modelId);
    /// @notice The receipt names a model other than its channel's.
    error ReceiptChannelMismatch(bytes32 channelId, uint256 receiptModelId, uint256 channelModelId);
    /// @notice The signature is not the channel's receipt signer's (fixed when it opened) over this receipt.
    error ReceiptSignatureInvalid(bytes32 receiptHash);
    /// @notice The audit window after the later of the receipt's timestamp and the channel's latest claim has passed.
    error ChallengeWindowClosed(bytes32 receiptHash, uint256 closedAt);
    /// @notice This receipt was challenged already.
    error AlreadyChallenged(bytes32 receiptHash, uint256 disputeId);
    /// @notice The caller's balance or allowance does not cover the challenge bond.
    error InsufficientBond(uint256 available, uint256 required);
    /// @notice Fewer eligible validators than the committee size.
    error NotEnoughValidators(uint256 eligible, uint256 required);
    /// @notice No refund of the dispute is held.
    error NoRefundHeld(uint256 disputeId);
    /// @notice The channel has paid nothing more to refund and is still open.
    error RefundNotReleasable(uint256 disputeId);
    /// @notice The committee can be drawn only after block `seedBlock` is mined.
    error SeedBlockNotMined(uint256 disputeId, uint256 seedBlock);
    /// @notice The committee of the dispute was drawn already.
    error CommitteeAlreadyDrawn(uint256 disputeId);
    /// @notice The committee of the dispute is not drawn yet (call `drawCommittee`).
    error CommitteeNotDrawn(uint256 disputeId);
    /// @notice No dispute with this id exists.
    error UnknownDispute(uint256 disputeId);
    /// @notice The dispute was resolved already.
    error DisputeClosed(uint256 disputeId);
    /// @notice The caller is not on the dispute's committee.
    error NotOnCommittee(uint256 disputeId, address caller);
    /// @notice The commit window ended at `commitEnd`.
    error CommitWindowClosed(uint256 disputeId, uint256 commitEnd);
    /// @notice The caller committed on this dispute already.
    error AlreadyCommitted(uint256 disputeId, address voter);
    /// @notice Reveals are accepted only in `(commitEnd, revealEnd]`.
    error NotRevealWindow(uint256 disputeId, uint256 commitEnd, uint256 revealEnd);
    /// @notice The caller has no commitment on this dispute.
    error NotCommitted(uint256 disputeId, address voter);
    /// @notice The caller revealed on this dispute already.
    error AlreadyRevealed(uint256 disputeId, address voter);
    /// @notice The revealed vote and salt do not match the commitment.
    error CommitmentMismatch(uint256 disputeId, address voter);
    /// @notice The reveal window ends at `revealEnd`; resolve after it.
    error RevealWindowOpen(uint256 disputeId, uint256 revealEnd);

    constructor(address token_, address agentRegistry_, Params memory p) {
        if (token_ == address(0) || agentRegistry_ == address(0)) revert ZeroAddress();
        if (p.voterPenalty > p.validatorBond || p.validatorBond > type(uint128).max) revert InvalidParameters();
        token = IERC20(token_);
        agentRegistry = IAgentRegistry(agentRegistry_);
        challengeBond = p.challengeBond;
        validatorBond = p.validatorBond;
        voterPenalty = p.voterPenalty;
    }

    // ---------------------------------------------------------------- validator set

    /// @notice Joins the validator set as validator agent `agentId` (its owner or operator),
    /// posting `validatorBond` (pulled with an allowance).
    /// @param agentId The caller's ERC-8004 agent id.
    function registerValidator(uint256 agentId) external nonReentrant {
        if (!agentRegistry.isAuthorized(agentId, msg.sender) || agentId > type(uint64).max) {
            revert NotAgentOwner(agentId, msg.sender);
        }
        Validator storage v = _validators[msg.sender];
        if (v.position != 0) revert AlreadyRegistered(msg.sender);
        if (_validatorList.length >= MAX_VALIDATORS) revert ValidatorSetFull();
        _validatorList.push(msg.sender);
        v.bond = uint128(validatorBond);
        v.agentId = uint64(agentId);
        v.position = uint32(_validatorList.length);
        emit ValidatorRegistered(msg.sender, agentId, validatorBond);
        if (validatorBond != 0) token.safeTransferFrom(msg.sender, address(this), validatorBond);
    }

    /// @notice Leaves the validator set and takes the remaining bond back; refused while the
    /// caller sits on an unresolved committee.
    function deregisterValidator() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        uint256 position = v.position;
        if (position == 0) revert NotValidator(msg.sender);
        if (v.activeDuties != 0) revert ValidatorBusy(msg.sender, v.activeDuties);
        uint256 bond = v.bond;
        uint256 agentId = v.agentId;
        address last = _validatorList[_validatorList.length - 1];
        _validatorList[position - 1] = last;
        _validators[last].position = uint32(position);
        _validatorList.pop();
        delete _validators[msg.sender];
        emit ValidatorDeregistered(msg.sender, agentId, bond);
        if (bond != 0) token.safeTransfer(msg.sender, bond);
    }

    /// @notice Adds `amount` to the caller's validator bond (pulled with an allowance): restores a
    /// bond that penalties took below `validatorBond`, or adds weight in the stake-weighted draw.
    function topUpBond(uint256 amount) external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.position == 0) revert NotValidator(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 bond = uint256(v.bond) + amount;
        if (bond > type(uint128).max) revert InvalidParameters();
        v.bond = uint128(bond);
        emit ValidatorBondToppedUp(msg.sender, amount, bond);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice The registered validators, in set order.
    function validators() external view returns (address[] memory) {
        return _validatorList;
    }

    /// @notice `account`'s validator record (`registered` false when it is not in the set).
    function validatorOf(address account)
        external
        view
        returns (bool registered, uint256 agentId, uint256 bond, uint256 activeDuties)
    {
        Validator storage v = _validators[account];
        return (v.position != 0, v.agentId, v.bond, v.activeDuties);
    }

    /// @inheritdoc IDisputes
    function openChallenges(uint256 agentId) external view returns (uint256) {
        return _openChallenges[agentId];
    }
}
