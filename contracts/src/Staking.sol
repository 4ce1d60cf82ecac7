// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";
import {IDisputes} from "./interfaces/IDisputes.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title Staking
/// @notice Provider stake and offers. Stake is held per agent id in the payment token; every active
/// offer needs `minStakePerOffer` of bonded stake. Unbonding takes `unbondingDelay` (longer than an
/// audit plus a dispute window), unbonding stake stays slashable, and only `Disputes` can slash or
/// pause an agent's offers. Paused offers stay paused until the agent's owner or operator calls
/// `unpauseOffers` with no challenge open against the agent and bonded stake covering its offers.
contract Staking is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice An offer to serve a model at a price (token base units per million tokens).
    struct Offer {
        uint256 agentId;
        uint256 modelId;
        uint128 inputPricePerMTok;
        uint128 outputPricePerMTok;
        uint32 maxOutputTokens;
        string endpoint;
    }

    /// @dev Storage form of an offer: three slots. Agent and model ids are sequential from 1 in their
    /// registries, so 64 bits hold them.
    struct StoredOffer {
        uint64 agentId;
        uint64 modelId;
        uint32 maxOutputTokens;
        uint32 position; // index in `_offerIds[agentId]` + 1
        uint128 inputPricePerMTok;
        uint128 outputPricePerMTok;
        string endpoint;
    }

    /// @notice Stake that becomes withdrawable at `availableAt`.
    struct Unbonding {
        uint128 amount;
        uint64 availableAt;
    }

    struct AgentStake {
        uint128 bonded;
        uint128 unbonding;
        uint64 unbondingHead; // index of the oldest entry not yet withdrawn
        bool offersPaused;
    }

    /// @notice Most unbonding entries an agent may have pending (bounds `slash` and `withdraw`).
    uint256 public constant MAX_PENDING_UNBONDINGS = 16;
    /// @notice Longest offer endpoint, in bytes.
    uint256 public constant MAX_ENDPOINT_LENGTH = 512;

    /// @notice The payment token stake is held in.
    IERC20 public immutable token;
    /// @notice ERC-8004 identity registry; stake belongs to its agent ids.
    IAgentRegistry public immutable agentRegistry;
    /// @notice Model registry offers must name a model of.
    IModelRegistry public immutable modelRegistry;
    /// @notice The only address allowed to slash and pause offers.
    address public immutable disputes;
    /// @notice Bonded stake each active offer needs.
    uint256 public immutable minStakePerOffer;
    /// @notice Time from `requestUnbond` until the stake can be withdrawn.
    uint64 public immutable unbondingDelay;
    /// @notice How long after serving a request it may be audited.
    uint64 public immutable auditWindow;
    /// @notice How long a challenge may take to resolve.
    uint64 public immutable disputeWindow;

    /// @notice Sum of bonded and unbonding stake over all agents (equals the token balance held).
    uint256 public totalStaked;
    uint256 private _nextOfferId = 1;
    mapping(uint256 agentId => AgentStake) private _stakes;
    mapping(uint256 agentId => Unbonding[]) private _unbondings;
    mapping(uint256 agentId => uint256[]) private _offerIds;
    mapping(uint256 offerId => StoredOffer) private _offers;

    /// @notice `from` added `amount` of bonded stake to the agent, whose bonded stake is now `bonded`.
    event Staked(uint256 indexed agentId, address indexed from, uint256 amount, uint256 bonded);
    /// @notice Unbonding entry `index` of `amount` becomes withdrawable at `availableAt`.
    event UnbondRequested(uint256 indexed agentId, uint256 indexed index, uint256 amount, uint64 availableAt);
    /// @notice Matured unbonding entries up to (excluding) `unbondingHead` were paid to `to`.
    event Withdrawn(uint256 indexed agentId, address indexed to, uint256 amount, uint256 unbondingHead);
    /// @notice Disputes slashed the agent: `fromBonded` from bonded stake, then `fromUnbonding` from the newest unbonding entries.
    event Slashed(
        uint256 indexed agentId,
        uint256 amount,
        address[] recipients,
        uint256[] amounts,
        uint256 fromBonded,
        uint256 fromUnbonding
    );
    /// @notice A new offer was published.
    event OfferAdded(
        uint256 indexed offerId,
        uint256 indexed agentId,
        uint256 indexed modelId,
        uint256 inputPricePerMTok,
        uint256 outputPricePerMTok,
        uint32 maxOutputTokens,
        string endpoint
    );
    /// @notice An offer changed its terms.
    event OfferUpdated(
        uint256 indexed offerId,
        uint256 indexed agentId,
        uint256 inputPricePerMTok,
        uint256 outputPricePerMTok,
        uint32 maxOutputTokens,
        string endpoint
    );
    /// @notice An offer was withdrawn.
    event OfferRemoved(uint256 indexed offerId, uint256 indexed agentId);
    /// @notice Disputes paused every offer of the agent.
    event OffersPaused(uint256 indexed agentId);
    /// @notice The agent resumed its offers.
    event OffersUnpaused(uint256 indexed agentId);

    /// @notice A required address argument is zero.
    error ZeroAddress();
    /// @notice The unbonding delay must be longer than the audit window plus the dispute window.
    error UnbondingDelayTooShort(uint64 unbondingDelay, uint64 auditWindow, uint64 disputeWindow);
    /// @notice Only the Disputes contract may do this.
    error OnlyDisputes(address caller);
    /// @notice The caller is neither the owner nor an operator of the agent.
    error NotAgentOwner(uint256 agentId, address caller);
    /// @notice No agent with this id is registered.
    error UnknownAgent(uint256 agentId);
    /// @notice No model with this id is registered.
    error UnknownModel(uint256 modelId);
    /// @notice The amount is zero.
    error ZeroAmount();
    /// @notice The agent does not have enough bonded stake for this.
    error InsufficientStake(uint256 agentId, uint256 available, uint256 required);
    /// @notice The agent has too many pending unbonding requests; withdraw matured ones first.
    error TooManyUnbondings(uint256 agentId);
    /// @notice Work the agent was paid for can be challenged until `until`; with less than
    /// `minStakePerOffer` left bonded, its unbonding stake stays until then.
    error StakeLocked(uint256 agentId, uint256 until);
    /// @notice No unbonding stake of the agent has matured yet.
    error UnbondingNotReady(uint256 agentId);
    /// @notice A challenge against the agent is still open.
    error OpenChallenges(uint256 agentId, uint256 count);
    /// @notice No active offer with this id exists.
    error OfferNotFound(uint256 offerId);
    /// @notice Offer prices must fit in 128 bits and not both be zero.
    error InvalidPrice();
    /// @notice The offer maximum output tokens is zero.
    error InvalidMaxOutputTokens();
    /// @notice The offer endpoint is empty or longer than 512 bytes.
    error InvalidEndpoint();
    /// @notice The agent offers are paused by a dispute.
    error OffersArePaused(uint256 agentId);
    /// @notice The agent offers are not paused.
    error OffersNotPaused(uint256 agentId);
    /// @notice Slash recipients and amounts differ in length.
    error SlashLengthMismatch(uint256 recipients, uint256 amounts);
    /// @notice Slash amounts do not add up to the slashed amount.
    error SlashSumMismatch(uint256 amount, uint256 sum);

    modifier onlyDisputes() {
        if (msg.sender != disputes) revert OnlyDisputes(msg.sender);
        _;
    }

    modifier onlyAuthorized(uint256 agentId) {
        if (!agentRegistry.isAuthorized(agentId, msg.sender)) revert NotAgentOwner(agentId, msg.sender);
        _;
    }

    /// @notice Sets the token, registries, the Disputes address (predicted at deployment) and the windows.
    /// @dev Reverts `UnbondingDelayTooShort` unless `unbondingDelay > auditWindow + disputeWindow`.
    constructor(
        address token_,
        address agentRegistry_,
        address modelRegistry_,
        address disputes_,
        uint256 minStakePerOffer_,
        uint64 unbondingDelay_,
        uint64 auditWindow_,
        uint64 disputeWindow_
    ) {
        if (token_ == address(0) || agentRegistry_ == address(0) || modelRegistry_ == address(0)) revert ZeroAddress();
        if (disputes_ == address(0)) revert ZeroAddress();
        if (uint256(unbondingDelay_) <= uint256(auditWindow_) + disputeWindow_) {
            revert UnbondingDelayTooShort(unbondingDelay_, auditWindow_, disputeWindow_);
        }
        token = IERC20(token_);
        agentRegistry = IAgentRegistry(agentRegistry_);
        modelRegistry = IModelRegistry(modelRegistry_);
        disputes = disputes_;
        minStakePerOffer = minStakePerOffer_;
        unbondingDelay = unbondingDelay_;
        auditWindow = auditWindow_;
        disputeWindow = disputeWindow_;
    }

    // ---------------------------------------------------------------- stake

    /// @notice Adds `amount` of bonded stake to `agentId` from the caller (anyone may add stake).
    function stake(uint256 agentId, uint256 amount) external nonReentrant {
        _stake(agentId, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice `stake` with an EIP-2612 permit signed by the caller for this contract and `amount`.
    /// @dev A failing permit (e.g. front-run) is ignored; the transfer then needs an allowance.
    function stakeWithPermit(uint256 agentId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        _stake(agentId, amount);
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Starts unbonding `amount` of `agentId`'s bonded stake (owner or operator only).
    /// @dev Bonded stake may not drop below `activeOffers * minStakePerOffer`. The entry becomes
    /// withdrawable after `unbondingDelay` and stays slashable until withdrawn.
    function requestUnbond(uint256 agentId, uint256 amount) external onlyAuthorized(agentId) {
        if (amount == 0) revert ZeroAmount();
        AgentStake storage s = _stakes[agentId];
        uint256 required = _offerIds[agentId].length * minStakePerOffer;
        uint256 bonded = s.bonded;
        if (amount > bonded || bonded - amount < required) revert InsufficientStake(agentId, bonded, amount + required);
        Unbonding[] storage entries = _unbondings[agentId];
        if (entries.length - s.unbondingHead >= MAX_PENDING_UNBONDINGS) revert TooManyUnbondings(agentId);
        uint64 availableAt = uint64(block.timestamp) + unbondingDelay;
        s.bonded = uint128(bonded - amount);
        s.unbonding += uint128(amount);
        entries.push(Unbonding({amount: uint128(amount), availableAt: availableAt}));
        emit UnbondRequested(agentId, entries.length - 1, amount, availableAt);
    }

    /// @notice Sends every matured unbonding entry of `agentId` to `to` (owner or operator only).
    /// @dev Reverts `OpenChallenges` while `Disputes` has a challenge open against the agent,
    /// `StakeLocked` while work it was paid for can still be challenged (its latest claim is less
    /// than an audit window old) unless at least `minStakePerOffer` stays bonded, and
    /// `UnbondingNotReady` when nothing has matured.
    function withdraw(uint256 agentId, address to) external nonReentrant onlyAuthorized(agentId) {
        if (to == address(0)) revert ZeroAddress();
        uint256 open = IDisputes(disputes).openChallenges(agentId);
        if (open != 0) revert OpenChallenges(agentId, open);
        AgentStake storage s = _stakes[agentId];
        if (s.bonded < minStakePerOffer || minStakePerOffer == 0) {
            uint256 until = IDisputes(disputes).challengeableUntil(agentId);
            if (block.timestamp <= until) revert StakeLocked(agentId, until);
        }
        Unbonding[] storage entries = _unbondings[agentId];
        uint256 head = s.unbondingHead;
        uint256 amount;
        while (head < entries.length && entries[head].availableAt <= block.timestamp) {
            amount += entries[head].amount;
            delete entries[head];
            ++head;
        }
        if (head == s.unbondingHead) revert UnbondingNotReady(agentId);
        s.unbondingHead = uint64(head);
        s.unbonding -= uint128(amount);
        totalStaked -= amount;
        emit Withdrawn(agentId, to, amount, head);
        if (amount != 0) token.safeTransfer(to, amount);
    }

    /// @notice Slashes `amount` of `agentId`'s stake to `recipients` (Disputes only).
    /// @dev Takes bonded stake first, then unbonding entries newest first. `amounts` must sum to
    /// `amount`, and the agent must hold at least `amount` (`InsufficientStake`).
    function slash(uint256 agentId, uint256 amount, address[] calldata recipients, uint256[] calldata amounts)
        external
        nonReentrant
        onlyDisputes
    {
        if (recipients.length != amounts.length) revert SlashLengthMismatch(recipients.length, amounts.length);
        uint256 sum;
        for (uint256 i; i < amounts.length; ++i) {
            if (recipients[i] == address(0)) revert ZeroAddress();
            sum += amounts[i];
        }
        if (sum != amount) revert SlashSumMismatch(amount, sum);
        AgentStake storage s = _stakes[agentId];
        uint256 bonded = s.bonded;
        uint256 unbonding = s.unbonding;
        if (amount > bonded + unbonding) revert InsufficientStake(agentId, bonded + unbonding, amount);
        uint256 fromBonded = amount < bonded ? amount : bonded;
        uint256 fromUnbonding = amount - fromBonded;
        s.bonded = uint128(bonded - fromBonded);
        if (fromUnbonding != 0) {
            s.unbonding = uint128(unbonding - fromUnbonding);
            Unbonding[] storage entries = _unbondings[agentId];
            uint256 left = fromUnbonding;
            for (uint256 i = entries.length; left != 0; --i) {
                Unbonding storage e = entries[i - 1];
                uint256 take = e.amount < left ? e.amount : left;
                e.amount -= uint128(take);
                left -= take;
            }
        }
        totalStaked -= amount;
        emit Slashed(agentId, amount, recipients, amounts, fromBonded, fromUnbonding);
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] != 0) token.safeTransfer(recipients[i], amounts[i]);
        }
    }

    // ---------------------------------------------------------------- offers

    /// @notice Publishes an offer for `agentId` (owner or operator only); needs bonded stake of
    /// `(activeOffers + 1) * minStakePerOffer` and a registered model.
    /// @return offerId New offer id (ids start at 1).
    function addOffer(
        uint256 agentId,
        uint256 modelId,
        uint256 inputPricePerMTok,
        uint256 outputPricePerMTok,
        uint32 maxOutputTokens,
        string calldata endpoint
    ) external onlyAuthorized(agentId) returns (uint256 offerId) {
        AgentStake storage s = _stakes[agentId];
        if (s.offersPaused) revert OffersArePaused(agentId);
        if (agentId > type(uint64).max) revert UnknownAgent(agentId);
        if (modelId > type(uint64).max) revert UnknownModel(modelId);
        try modelRegistry.royaltyInfo(modelId) returns (address, uint16) {}
        catch {
            revert UnknownModel(modelId);
        }
        _checkTerms(inputPricePerMTok, outputPricePerMTok, maxOutputTokens, endpoint);
        uint256[] storage ids = _offerIds[agentId];
        uint256 required = (ids.length + 1) * minStakePerOffer;
        if (s.bonded < required) revert InsufficientStake(agentId, s.bonded, required);
        offerId = _nextOfferId++;
        ids.push(offerId);
        _offers[offerId] = StoredOffer({
            agentId: uint64(agentId),
            modelId: uint64(modelId),
            maxOutputTokens: maxOutputTokens,
            position: uint32(ids.length),
            inputPricePerMTok: uint128(inputPricePerMTok),
            outputPricePerMTok: uint128(outputPricePerMTok),
            endpoint: endpoint
        });
        emit OfferAdded(offerId, agentId, modelId, inputPricePerMTok, outputPricePerMTok, maxOutputTokens, endpoint);
    }

    /// @notice Changes an offer's prices, output cap and endpoint (owner or operator of its agent).
    function updateOffer(
        uint256 offerId,
        uint256 inputPricePerMTok,
        uint256 outputPricePerMTok,
        uint32 maxOutputTokens,
        string calldata endpoint
    ) external {
        StoredOffer storage o = _authorizedOffer(offerId);
        _checkTerms(inputPricePerMTok, outputPricePerMTok, maxOutputTokens, endpoint);
        o.inputPricePerMTok = uint128(inputPricePerMTok);
        o.outputPricePerMTok = uint128(outputPricePerMTok);
        o.maxOutputTokens = maxOutputTokens;
        o.endpoint = endpoint;
        emit OfferUpdated(offerId, o.agentId, inputPricePerMTok, outputPricePerMTok, maxOutputTokens, endpoint);
    }

    /// @notice Withdraws an offer (owner or operator of its agent), freeing its stake requirement.
    function removeOffer(uint256 offerId) external {
        StoredOffer storage o = _authorizedOffer(offerId);
        uint256 agentId = o.agentId;
        uint256[] storage ids = _offerIds[agentId];
        uint32 position = o.position;
        uint256 last = ids[ids.length - 1];
        ids[position - 1] = last;
        _offers[last].position = position;
        ids.pop();
        delete _offers[offerId];
        emit OfferRemoved(offerId, agentId);
    }

    /// @notice Pauses every offer of `agentId` (Disputes only, when a challenge opens).
    function pauseOffers(uint256 agentId) external onlyDisputes {
        _stakes[agentId].offersPaused = true;
        emit OffersPaused(agentId);
    }

    /// @notice Resumes `agentId`'s paused offers (owner or operator) once no challenge is open and
    /// the bonded stake covers every listed offer again.
    /// @dev A slash can leave the bonded stake below `activeOffers * minStakePerOffer`; the agent
    /// must then top up (`stake`) or remove offers first (`InsufficientStake(agentId, bonded,
    /// required)`), so no offer is ever sold without its stake behind it.
    function unpauseOffers(uint256 agentId) external onlyAuthorized(agentId) {
        AgentStake storage s = _stakes[agentId];
        if (!s.offersPaused) revert OffersNotPaused(agentId);
        uint256 open = IDisputes(disputes).openChallenges(agentId);
        if (open != 0) revert OpenChallenges(agentId, open);
        uint256 required = _offerIds[agentId].length * minStakePerOffer;
        if (s.bonded < required) revert InsufficientStake(agentId, s.bonded, required);
        s.offersPaused = false;
        emit OffersUnpaused(agentId);
    }

    // ---------------------------------------------------------------- views

    /// @notice Offer `offerId`; reverts `OfferNotFound` if it never existed or was removed.
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        StoredOffer storage o = _offers[offerId];
        if (o.agentId == 0) revert OfferNotFound(offerId);
        return Offer({
            agentId: o.agentId,
            modelId: o.modelId,
            inputPricePerMTok: o.inputPricePerMTok,
            outputPricePerMTok: o.outputPricePerMTok,
            maxOutputTokens: o.maxOutputTokens,
            endpoint: o.endpoint
        });
    }

    /// @notice Ids of `agentId`'s active offers (paused ones included).
    function offersOf(uint256 agentId) external view returns (uint256[] memory) {
        return _offerIds[agentId];
    }

    /// @notice Bonded and unbonding (not yet withdrawn, still slashable) stake of `agentId`.
    function stakeOf(uint256 agentId) external view returns (uint256 bonded, uint256 unbonding) {
        AgentStake storage s = _stakes[agentId];
        return (s.bonded, s.unbonding);
    }

    /// @notice Whether `agentId`'s offers are paused by Disputes.
    function offersPaused(uint256 agentId) external view returns (bool) {
        return _stakes[agentId].offersPaused;
    }

    /// @notice Pending (not withdrawn) unbonding entries of `agentId`, oldest first.
    function unbondingsOf(uint256 agentId) external view returns (Unbonding[] memory pending) {
        Unbonding[] storage entries = _unbondings[agentId];
        uint256 head = _stakes[agentId].unbondingHead;
        pending = new Unbonding[](entries.length - head);
        for (uint256 i; i < pending.length; ++i) {
            pending[i] = entries[head + i];
        }
    }

    // ---------------------------------------------------------------- internals

    function _stake(uint256 agentId, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        try agentRegistry.ownerOf(agentId) returns (address owner) {
            if (owner == address(0)) revert UnknownAgent(agentId);
        } catch {
            revert UnknownAgent(agentId);
        }
        AgentStake storage s = _stakes[agentId];
        uint256 bonded = s.bonded + amount;
        s.bonded = SafeCast.toUint128(bonded);
        totalStaked += amount;
        emit Staked(agentId, msg.sender, amount, bonded);
    }

    function _authorizedOffer(uint256 offerId) private view returns (StoredOffer storage o) {
        o = _offers[offerId];
        uint256 agentId = o.agentId;
        if (agentId == 0) revert OfferNotFound(offerId);
        if (!agentRegistry.isAuthorized(agentId, msg.sender)) revert NotAgentOwner(agentId, msg.sender);
    }

    function _checkTerms(uint256 inputPrice, uint256 outputPrice, uint32 maxOutputTokens, string calldata endpoint)
        private
        pure
    {
        if (inputPrice > type(uint128).max || outputPrice > type(uint128).max) revert InvalidPrice();
        if (inputPrice == 0 && outputPrice == 0) revert InvalidPrice();
        if (maxOutputTokens == 0) revert InvalidMaxOutputTokens();
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint();
    }
}
