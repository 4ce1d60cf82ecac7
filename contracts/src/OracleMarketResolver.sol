// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {InferenceOracle} from "./InferenceOracle.sol";
import {InferenceOracleBase} from "./InferenceOracleBase.sol";

/// @title OracleMarketResolver
/// @notice An example consumer of `InferenceOracle`: a yes/no prediction market whose question is
/// put to a model once betting closes. An answer starting with "yes" or "no" (any case, leading
/// spaces ignored) decides it; winners share the pool pro rata. Any other answer, a market nobody
/// got resolved within `RESOLVE_TIMEOUT` of closing, or one side without bets refunds every bet.
/// Whoever pays the oracle fee gets it back here when the oracle refunds or rejects the request.
contract OracleMarketResolver is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Outcome of a market.
    enum Outcome {
        Pending,
        Yes,
        No,
        Invalid
    }

    /// @notice A market as stored.
    struct Market {
        string question;
        uint64 closesAt;
        Outcome outcome;
        uint256 yesPool;
        uint256 noPool;
        uint256 requestId; // the oracle request that resolves it (0: none pending)
    }

    /// @notice How long after closing a market may wait for its answer before it refunds everyone.
    uint64 public constant RESOLVE_TIMEOUT = 7 days;
    /// @notice Gas the oracle gives the answer callback.
    uint32 public constant CALLBACK_GAS = 100_000;

    /// @notice The oracle asked.
    InferenceOracle public immutable oracle;
    /// @notice The token bets and fees are paid in (the oracle's).
    IERC20 public immutable token;

    /// @notice Number of markets (ids start at 1).
    uint256 public marketCount;
    mapping(uint256 marketId => Market) private _markets;
    mapping(uint256 marketId => mapping(address bettor => uint256[2] stakes)) private _stakes; // [no, yes]
    mapping(uint256 requestId => uint256 marketId) public marketOfRequest;
    mapping(uint256 requestId => address payer) public feePayerOf;

    /// @notice Market `marketId` asks `question`; bets close at `closesAt`.
    event MarketCreated(uint256 indexed marketId, string question, uint64 closesAt);
    /// @notice `bettor` bet `amount` on `yes`.
    event BetPlaced(uint256 indexed marketId, address indexed bettor, bool yes, uint256 amount);
    /// @notice Oracle request `requestId` will resolve market `marketId`.
    event ResolutionRequested(uint256 indexed marketId, uint256 indexed requestId);
    /// @notice Market `marketId` resolved to `outcome` by the oracle's `answer`.
    event MarketResolved(uint256 indexed marketId, Outcome outcome, bytes answer);
    /// @notice `bettor` took `amount` out of market `marketId`.
    event Claimed(uint256 indexed marketId, address indexed bettor, uint256 amount);

    /// @notice The market does not exist.
    error UnknownMarket(uint256 marketId);
    /// @notice Betting on the market closed (or `closesAt` is not in the future).
    error BettingClosed(uint256 marketId);
    /// @notice The market is still open for bets, already resolved, or waiting for an answer.
    error NotResolvable(uint256 marketId);
    /// @notice Only the oracle may deliver answers, and only for the request it resolves.
    error NotOracle(address caller);
    /// @notice Nothing to claim (the market is not settled, or the caller has no winning bet).
    error NothingToClaim(uint256 marketId, address bettor);
    /// @notice The amount is zero.
    error ZeroAmount();

    constructor(address oracle_) {
        oracle = InferenceOracle(oracle_);
        token = InferenceOracle(oracle_).token();
    }

    /// @notice Opens a market on `question`, taking bets until `closesAt`.
    function createMarket(string calldata question, uint64 closesAt) external returns (uint256 marketId) {
        if (closesAt <= block.timestamp) revert BettingClosed(0);
        marketId = ++marketCount;
        Market storage m = _markets[marketId];
        m.question = question;
        m.closesAt = closesAt;
        emit MarketCreated(marketId, question, closesAt);
    }

    /// @notice Bets `amount` (pulled with an allowance) on `yes` before the market closes.
    function bet(uint256 marketId, bool yes, uint256 amount) external nonReentrant {
        Market storage m = _market(marketId);
        if (block.timestamp >= m.closesAt) revert BettingClosed(marketId);
        if (amount == 0) revert ZeroAmount();
        if (yes) m.yesPool += amount;
        else m.noPool += amount;
        _stakes[marketId][msg.sender][yes ? 1 : 0] += amount;
        emit BetPlaced(marketId, msg.sender, yes, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice After closing, asks the oracle `question` under the caller's terms (model, offer,
    /// fee, seed, deadline); the caller pays the fee and gets it back if the oracle refunds it.
    function requestResolution(
        uint256 marketId,
        uint256 modelId,
        uint256 offerId,
        uint256 fee,
        uint32 maxTokens,
        uint64 seed,
        uint64 deadline
    ) external nonReentrant returns (uint256 requestId) {
        Market storage m = _market(marketId);
        if (block.timestamp < m.closesAt || m.outcome != Outcome.Pending || m.requestId != 0) {
            revert NotResolvable(marketId);
        }
        token.safeTransferFrom(msg.sender, address(this), fee);
        token.forceApprove(address(oracle), fee);
        requestId = oracle.request(
            InferenceOracleBase.RequestParams({
                modelId: modelId,
                offerId: offerId,
                prompt: bytes(string.concat("Answer yes or no: ", m.question)),
                promptHash: bytes32(0),
                promptURI: "",
                maxTokens: maxTokens,
                temperatureMilli: 0,
                topPMilli: 1000,
                seed: seed,
                fee: fee,
                callback: address(this),
                callbackSelector: this.onOracleAnswer.selector,
                callbackGasLimit: CALLBACK_GAS,
                deadline: deadline
            })
        );
        m.requestId = requestId;
        marketOfRequest[requestId] = marketId;
        feePayerOf[requestId] = msg.sender;
        emit ResolutionRequested(marketId, requestId);
    }

    /// @notice The oracle's callback: decides the market from the answer.
    function onOracleAnswer(uint256 requestId, bytes calldata answer) external {
        uint256 marketId = marketOfRequest[requestId];
        Market storage m = _markets[marketId];
        if (msg.sender != address(oracle) || marketId == 0 || m.requestId != requestId) revert NotOracle(msg.sender);
        if (m.outcome != Outcome.Pending) revert NotResolvable(marketId);
        Outcome outcome = _parse(answer);
        if (outcome == Outcome.Yes && m.yesPool == 0 || outcome == Outcome.No && m.noPool == 0) {
            outcome = Outcome.Invalid;
        }
        m.outcome = outcome;
        emit MarketResolved(marketId, outcome, answer);
    }

    /// @notice Clears a resolution request the oracle refunded or rejected, so another can be made,
    /// and returns the fee to whoever paid it.
    function reclaimFee(uint256 requestId) external nonReentrant {
        uint256 marketId = marketOfRequest[requestId];
        address payer = feePayerOf[requestId];
        InferenceOracleBase.Status status = oracle.getRequest(requestId).status;
        if (
            payer == address(0)
                || (status != InferenceOracleBase.Status.Refunded && status != InferenceOracleBase.Status.Rejected)
        ) revert NothingToClaim(marketId, msg.sender);
        feePayerOf[requestId] = address(0);
        if (_markets[marketId].requestId == requestId) _markets[marketId].requestId = 0;
        token.safeTransfer(payer, oracle.getRequest(requestId).fee);
    }

    /// @notice Pays the caller its share of a resolved market (its bets back when it is invalid, or
    /// unresolved `RESOLVE_TIMEOUT` after closing).
    function claim(uint256 marketId) external nonReentrant returns (uint256 amount) {
        Market storage m = _market(marketId);
        Outcome outcome = m.outcome;
        if (outcome == Outcome.Pending && block.timestamp > uint256(m.closesAt) + RESOLVE_TIMEOUT) {
            outcome = Outcome.Invalid;
        }
        uint256[2] storage s = _stakes[marketId][msg.sender];
        if (outcome == Outcome.Invalid) {
            amount = s[0] + s[1];
        } else if (outcome == Outcome.Yes) {
            amount = s[1] * (m.yesPool + m.noPool) / m.yesPool;
        } else if (outcome == Outcome.No) {
            amount = s[0] * (m.yesPool + m.noPool) / m.noPool;
        }
        if (amount == 0) revert NothingToClaim(marketId, msg.sender);
        s[0] = 0;
        s[1] = 0;
        emit Claimed(marketId, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Market `marketId` (question, closing time, outcome, pools, pending request).
    function getMarket(uint256 marketId) external view returns (Market memory) {
        return _markets[marketId];
    }

    /// @notice `bettor`'s stakes on market `marketId`.
    function stakeOf(uint256 marketId, address bettor) external view returns (uint256 no, uint256 yes) {
        uint256[2] storage s = _stakes[marketId][bettor];
        return (s[0], s[1]);
    }

    function _market(uint256 marketId) private view returns (Market storage m) {
        m = _markets[marketId];
        if (m.closesAt == 0) revert UnknownMarket(marketId);
    }

    /// @dev "yes…" → Yes, "no…" → No (ASCII case-insensitive, leading whitespace skipped), else Invalid.
    function _parse(bytes calldata answer) private pure returns (Outcome) {
        uint256 i;
        while (i < answer.length && (answer[i] == 0x20 || answer[i] == 0x0a || answer[i] == 0x09)) ++i;
        if (answer.length >= i + 3 && _lower(answer[i]) == "y" && _lower(answer[i + 1]) == "e" && _lower(answer[i + 2]) == "s") {
            return Outcome.Yes;
        }
        if (answer.length >= i + 2 && _lower(answer[i]) == "n" && _lower(answer[i + 1]) == "o") return Outcome.No;
        return Outcome.Invalid;
    }

    function _lower(bytes1 c) private pure returns (bytes1) {
        return c >= "A" && c <= "Z" ? bytes1(uint8(c) + 32) : c;
    }
}
