// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {InferenceOracleBase} from "./InferenceOracleBase.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Staking} from "./Staking.sol";

/// @title InferenceOracle
/// @notice Lets a contract (or an EOA) ask a model a question. `request` escrows a fee in the
/// payment token; any staked provider with an offer for the model `answer`s with a signed receipt
/// and `answerBond` (the first valid answer wins, until the deadline); during `challengeWindow`
/// anyone may `challenge` it with `challengeBond`, and the `resolver` decides (`resolveChallenge`).
/// After the window `finalize` (anyone) pays the fee like a channel claim (provider, model-owner
/// royalty, protocol fee), returns the bond and calls the requester's callback with a gas limit; a
/// failing callback is recorded (`OracleCallback`) and changes nothing else. Every escrow has a
/// timeout: an unanswered request is refundable after its deadline, an undecided challenge after
/// `resolveTimeout` (everyone gets their own money back).
/// @dev The dispute path of `Disputes` binds receipts to payment channels (refunds and the audit
/// window come from the channel), so an oracle answer cannot be disputed there; challenges are
/// decided by the oracle's resolver instead, and a wrong answer loses its bond (see docs/ORACLE.md).
contract InferenceOracle is InferenceOracleBase, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Staking: offers and stake of answering providers.
    Staking public immutable staking;
    /// @notice ERC-8004 identity registry.
    IAgentRegistry public immutable agentRegistry;
    /// @notice Model registry (royalties).
    IModelRegistry public immutable modelRegistry;
    /// @notice Receives the protocol fee (PaymentChannels' treasury).
    address public immutable treasury;
    /// @notice Protocol fee in basis points (PaymentChannels').
    uint16 public immutable protocolFeeBps;

    /// @notice Wires the oracle to the deployment: token, registries, treasury and protocol fee come
    /// from `staking` and `paymentChannels`.
    constructor(address staking_, address paymentChannels_, Params memory p)
        InferenceOracleBase(address(Staking(_nonZero(staking_)).token()), p)
        EIP712("Verity Receipt", "1")
    {
        PaymentChannels channels = PaymentChannels(_nonZero(paymentChannels_));
        staking = Staking(staking_);
        agentRegistry = channels.agentRegistry();
        modelRegistry = channels.modelRegistry();
        treasury = channels.treasury();
        protocolFeeBps = channels.protocolFeeBps();
    }

    /// @notice Posts a request and escrows `params.fee` (pulled with an allowance).
    /// @dev Reverts `OracleInvalidPrompt`, `OracleDeadlineInvalid`, `OracleInvalidCallback`,
    /// `OracleUnknownOffer` (not an offer for `modelId`), `OracleFeeTooLow` (below the quoted offer's
    /// output price for `maxTokens`, rounded up, and at least 1).
    /// @return requestId The new request's id.
    function request(RequestParams calldata params) external nonReentrant returns (uint256 requestId) {
        bytes32 promptHash = params.promptHash;
        if (params.prompt.length != 0) {
            bytes32 inlineHash = keccak256(params.prompt);
            if (promptHash != bytes32(0) && promptHash != inlineHash) revert OracleInvalidPrompt();
            promptHash = inlineHash;
        } else if (promptHash == bytes32(0)) {
            revert OracleInvalidPrompt();
        }
        if (params.deadline <= block.timestamp) revert OracleDeadlineInvalid(params.deadline);
        if (
            params.callbackGasLimit > maxCallbackGas
                || (params.callback != address(0) && params.callbackSelector == bytes4(0))
        ) revert OracleInvalidCallback(params.callbackGasLimit, maxCallbackGas);
        uint256 required = _priceOf(params.offerId, params.modelId, 0, params.maxTokens);
        if (params.fee < required) revert OracleFeeTooLow(params.fee, required);
        bytes32 paramsHash = paramsHashOf(params.maxTokens, params.temperatureMilli, params.topPMilli, params.seed);
        requestId = ++requestCount;
        Request storage r = _requests[requestId];
        r.requester = msg.sender;
        r.deadline = params.deadline;
        r.status = Status.Open;
        r.maxTokens = params.maxTokens;
        r.callback = params.callback;
        r.callbackSelector = params.callbackSelector;
        r.callbackGasLimit = params.callbackGasLimit;
        r.fee = params.fee;
        r.modelId = params.modelId;
        r.inputHash = keccak256(abi.encode(promptHash, paramsHash));
        emit OracleRequested(requestId, msg.sender, params.modelId, params, promptHash, paramsHash);
        token.safeTransferFrom(msg.sender, address(this), params.fee);
    }

    /// @notice Answers `requestId` as the agent of offer `offerId`, posting `answerBond` (pulled from
    /// the caller, who gets it back at `finalize`). The caller must be the agent's wallet, owner or
    /// operator; the receipt must be signed by its wallet (else owner).
    /// @dev Reverts `OracleUnknownRequest`, `OracleAlreadyAnswered`, `OracleDeadlinePassed`,
    /// `OracleAnswerInvalid`, `OracleUnknownOffer`, `OracleNotProvider`, `OracleNotStaked`,
    /// `OracleFeeTooLow` (the fee does not cover this offer's price for the receipt's prompt tokens
    /// and `maxTokens`), `OracleReceiptMismatch`, `OracleReceiptSignatureInvalid`.
    function answer(uint256 requestId, uint256 offerId, bytes calldata answer_, Receipt calldata receipt, bytes calldata signature)
        external
        nonReentrant
    {
        Request storage r = _requests[requestId];
        Status status = r.status;
        if (status == Status.None) revert OracleUnknownRequest(requestId);
        if (status != Status.Open) revert OracleAlreadyAnswered(requestId);
        if (block.timestamp > r.deadline) revert OracleDeadlinePassed(requestId, r.deadline);
        if (answer_.length == 0 || answer_.length > MAX_ANSWER_BYTES) revert OracleAnswerInvalid(answer_.length);
        uint256 modelId = r.modelId;
        Staking.Offer memory offer = _offer(offerId, modelId);
        uint256 agentId = offer.agentId;
        address signer = agentRegistry.getAgentWallet(agentId);
        if (signer == address(0)) signer = agentRegistry.ownerOf(agentId);
        if (msg.sender != signer && !agentRegistry.isAuthorized(agentId, msg.sender)) {
            revert OracleNotProvider(agentId, msg.sender);
        }
        (uint256 bonded,) = staking.stakeOf(agentId);
        if (staking.offersPaused(agentId) || bonded < staking.minStakePerOffer()) revert OracleNotStaked(agentId);
        uint256 required = _price(offer, receipt.promptTokens, r.maxTokens);
        if (r.fee < required) revert OracleFeeTooLow(r.fee, required);
        if (
            receipt.requestId != bytes32(requestId) || receipt.channelId != bytes32(0) || receipt.modelId != modelId
                || keccak256(abi.encode(receipt.promptHash, receipt.paramsHash)) != r.inputHash
                || receipt.outputHash != keccak256(answer_) || receipt.completionTokens > r.maxTokens
                || receipt.charge != r.fee || receipt.cumulativeCharged != r.fee
        ) revert OracleReceiptMismatch(requestId);
        bytes32 digest = receiptHash(receipt);
        if (!SignatureChecker.isValidSignatureNow(signer, digest, signature)) {
            revert OracleReceiptSignatureInvalid(requestId);
        }
        r.status = Status.Answered;
        r.answerer = msg.sender;
        r.answeredAt = uint40(block.timestamp);
        r.agentId = agentId;
        r.answer = answer_;
        emit OracleAnswered(
            requestId, agentId, msg.sender, answer_, digest, receipt.promptTokens, receipt.completionTokens, answerBond
        );
        if (answerBond != 0) token.safeTransferFrom(msg.sender, address(this), answerBond);
    }

    /// @notice Challenges the answer to `requestId` within `challengeWindow` of it, posting
    /// `challengeBond`; finalize then waits for the resolver (or its timeout).
    /// @dev Reverts `OracleWrongStatus` (not answered, or challenged already), `OracleChallengeWindowClosed`.
    function challenge(uint256 requestId) external nonReentrant {
        Request storage r = _inState(requestId, Status.Answered);
        uint256 closesAt = uint256(r.answeredAt) + challengeWindow;
        if (block.timestamp > closesAt) revert OracleChallengeWindowClosed(requestId, closesAt);
        r.status = Status.Challenged;
        r.challenger = msg.sender;
        r.challengedAt = uint40(block.timestamp);
        emit OracleChallenged(requestId, msg.sender, challengeBond);
        if (challengeBond != 0) token.safeTransferFrom(msg.sender, address(this), challengeBond);
    }

    /// @notice The resolver decides the challenge of `requestId` before `resolveTimeout` runs out.
    /// Guilty: the fee goes back to the requester, the answer bond and the challenge bond to the
    /// challenger, and the callback is never called. Not guilty: the challenge bond goes to the
    /// answerer and the request is finalizable at once.
    /// @dev Reverts `OracleNotResolver`, `OracleWrongStatus` (not challenged), and
    /// `OracleChallengeWindowClosed` after the timeout (the request is then `refund`able).
    function resolveChallenge(uint256 requestId, bool guilty) external nonReentrant {
        if (msg.sender != resolver) revert OracleNotResolver(msg.sender);
        Request storage r = _inState(requestId, Status.Challenged);
        uint256 closesAt = uint256(r.challengedAt) + resolveTimeout;
        if (block.timestamp > closesAt) revert OracleChallengeWindowClosed(requestId, closesAt);
        emit OracleChallengeResolved(requestId, guilty);
        if (guilty) {
            r.status = Status.Rejected;
            _pay(r.requester, r.fee);
            _pay(r.challenger, answerBond + challengeBond);
        } else {
            r.status = Status.Cleared;
            _pay(r.answerer, challengeBond);
        }
    }

    /// @notice After the challenge window (or a challenge the resolver dismissed), pays the fee
    /// (provider, model owner, treasury), returns the answer bond, then calls the callback with
    /// `callbackGasLimit` gas. Anyone may call, once.
    /// @dev Reverts `OracleWrongStatus`, `OracleChallengeWindowOpen`, `OracleInsufficientGas` (the
    /// transaction must leave the callback its full limit, so a caller cannot starve it). The callback
    /// runs last, with every state change and payment done, under the reentrancy guard; its revert,
    /// out-of-gas or return data cannot undo or block anything.
    function finalize(uint256 requestId) external nonReentrant {
        Request storage r = _requests[requestId];
        Status status = r.status;
        if (status != Status.Answered && status != Status.Cleared) revert OracleWrongStatus(requestId, status);
        if (status == Status.Answered) {
            uint256 closesAt = uint256(r.answeredAt) + challengeWindow;
            if (block.timestamp <= closesAt) revert OracleChallengeWindowOpen(requestId, closesAt);
        }
        r.status = Status.Finalized;
        uint256 agentId = r.agentId;
        uint256 fee = r.fee;
        uint256 feeAmount = fee * protocolFeeBps / BPS;
        (address modelOwner, uint256 royaltyBps) = modelRegistry.royaltyInfo(r.modelId);
        if (modelOwner == address(0)) royaltyBps = 0;
        if (royaltyBps > BPS - protocolFeeBps) royaltyBps = BPS - protocolFeeBps;
        uint256 royalty = fee * royaltyBps / BPS;
        uint256 provider = fee - feeAmount - royalty;
        address wallet = agentRegistry.getAgentWallet(agentId);
        if (wallet == address(0)) wallet = agentRegistry.ownerOf(agentId);
        emit OracleFinalized(requestId, agentId, provider, royalty, feeAmount);
        _pay(wallet, provider);
        _pay(modelOwner, royalty);
        _pay(treasury, feeAmount);
        _pay(r.answerer, answerBond);
        address target = r.callback;
        if (target == address(0)) return;
        uint256 gasLimit = r.callbackGasLimit;
        uint256 needed = gasLimit + gasLimit / 63 + 15_000;
        if (gasleft() < needed) revert OracleInsufficientGas(gasleft(), needed);
        bytes memory data = abi.encodeWithSelector(r.callbackSelector, requestId, r.answer);
        bool success;
        assembly ("memory-safe") {
            // No return data is copied: a callback cannot make finalize pay for a huge return.
            success := call(gasLimit, target, 0, add(data, 0x20), mload(data), 0, 0)
        }
        emit OracleCallback(requestId, target, success);
    }

    /// @notice Returns escrow nobody earned (anyone may call; the money goes to its owners): the
    /// fee of a request unanswered by its deadline, or, when the resolver did not decide a challenge
    /// within `resolveTimeout`, the fee to the requester and each bond to who posted it.
    /// @dev Reverts `OracleWrongStatus`, `OracleNotRefundable` (before the deadline or the timeout).
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = _requests[requestId];
        Status status = r.status;
        uint256 until;
        if (status == Status.Open) until = r.deadline;
        else if (status == Status.Challenged) until = uint256(r.challengedAt) + resolveTimeout;
        else revert OracleWrongStatus(requestId, status);
        if (block.timestamp <= until) revert OracleNotRefundable(requestId, until);
        r.status = Status.Refunded;
        emit OracleRefunded(requestId, r.requester, r.fee);
        _pay(r.requester, r.fee);
        if (status == Status.Challenged) {
            _pay(r.answerer, answerBond);
            _pay(r.challenger, challengeBond);
        }
    }

    /// @notice EIP-712 digest of `receipt` (domain `Verity Receipt` v1, this chain, this contract).
    function receiptHash(Receipt calldata receipt) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, receipt)));
    }

    /// @notice Least fee offer `offerId` (for `modelId`) accepts for `promptTokens` in and `maxTokens` out.
    function priceOf(uint256 offerId, uint256 modelId, uint32 promptTokens, uint32 maxTokens)
        external
        view
        returns (uint256)
    {
        return _priceOf(offerId, modelId, promptTokens, maxTokens);
    }

    function _priceOf(uint256 offerId, uint256 modelId, uint32 promptTokens, uint32 maxTokens)
        private
        view
        returns (uint256)
    {
        return _price(_offer(offerId, modelId), promptTokens, maxTokens);
    }

    /// @dev Price per million tokens times the tokens, rounded up, and never below 1.
    function _price(Staking.Offer memory offer, uint32 promptTokens, uint32 maxTokens) private pure returns (uint256) {
        uint256 total = uint256(promptTokens) * offer.inputPricePerMTok + uint256(maxTokens) * offer.outputPricePerMTok;
        uint256 price = (total + 999_999) / 1_000_000;
        return price == 0 ? 1 : price;
    }

    function _offer(uint256 offerId, uint256 modelId) private view returns (Staking.Offer memory offer) {
        try staking.getOffer(offerId) returns (Staking.Offer memory o) {
            offer = o;
        } catch {
            revert OracleUnknownOffer(offerId, modelId);
        }
        if (offer.modelId != modelId) revert OracleUnknownOffer(offerId, modelId);
    }

    function _inState(uint256 requestId, Status expected) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status != expected) revert OracleWrongStatus(requestId, r.status);
    }

    function _pay(address to, uint256 amount) private {
        if (amount != 0) token.safeTransfer(to, amount);
    }

    function _nonZero(address a) private pure returns (address) {
        if (a == address(0)) revert ZeroAddress();
        return a;
    }
}
