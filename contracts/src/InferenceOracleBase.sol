// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title InferenceOracleBase
/// @notice Types, parameters, events, errors and storage of `InferenceOracle`.
abstract contract InferenceOracleBase is ReentrancyGuardTransient {
    /// @notice What a requester asks. The prompt is inline (`prompt`, `promptHash` zero or its
    /// keccak256) or off-chain (`prompt` empty, `promptHash` its keccak256, `promptURI` where to get
    /// it). Sampling: temperature and top-p in thousandths, and the seed.
    struct RequestParams {
        uint256 modelId;
        uint256 offerId; // a Staking offer for `modelId` whose price for `maxTokens` the fee must cover
        bytes prompt;
        bytes32 promptHash;
        string promptURI;
        uint32 maxTokens;
        uint32 temperatureMilli;
        uint32 topPMilli;
        uint64 seed;
        uint256 fee;
        address callback; // zero: no callback
        bytes4 callbackSelector; // called as `selector(uint256 requestId, bytes answer)`
        uint32 callbackGasLimit;
        uint64 deadline; // last second an answer is accepted; refundable after it when unanswered
    }

    /// @notice A provider receipt (the `Receipt` of `Disputes`, signed in domain `Verity Receipt` v1
    /// with this contract as verifying contract). For an oracle answer: `requestId` is the request id,
    /// `channelId` zero, `outputHash` keccak256 of the answer bytes, `paramsHash` the request's
    /// `paramsHashOf`, `charge` and `cumulativeCharged` the fee.
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

    /// @notice Deployment parameters (immutable).
    struct Params {
        address resolver; // decides challenges (trust assumption, see docs/ORACLE.md)
        uint256 answerBond; // posted with an answer; lost to a successful challenger
        uint256 challengeBond; // posted with a challenge; lost to the provider if the answer stands
        uint64 challengeWindow; // seconds after an answer during which it may be challenged
        uint64 resolveTimeout; // seconds the resolver has to decide; after it everyone is refunded
        uint32 maxCallbackGas; // highest `callbackGasLimit` a request may ask for
    }

    /// @notice Lifecycle of a request.
    enum Status {
        None,
        Open,
        Answered,
        Challenged,
        Cleared, // challenged, and the resolver upheld the answer: finalizable at once
        Finalized,
        Rejected, // challenged, and the resolver found the answer wrong
        Refunded
    }

    /// @notice A request as stored.
    struct Request {
        address requester;
        uint64 deadline;
        Status status;
        uint32 maxTokens;
        address callback;
        bytes4 callbackSelector;
        uint32 callbackGasLimit;
        address answerer; // who posted the answer and its bond
        uint40 answeredAt;
        uint40 challengedAt;
        address challenger;
        uint256 fee;
        uint256 modelId;
        uint256 agentId;
        bytes32 inputHash; // keccak256(abi.encode(promptHash, paramsHash))
        bytes answer;
    }

    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Longest answer, in bytes.
    uint256 public constant MAX_ANSWER_BYTES = 4096;
    /// @notice EIP-712 type hash of a receipt (the same type as `Disputes.RECEIPT_TYPEHASH`).
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 requestId,bytes32 channelId,uint256 modelId,bytes32 promptHash,bytes32 outputHash,"
        "bytes32 paramsHash,uint32 promptTokens,uint32 completionTokens,uint256 charge,uint256 cumulativeCharged,"
        "uint64 timestamp)"
    );

    /// @notice The payment token (PaymentChannels' and Staking's).
    IERC20 public immutable token;
    /// @notice Decides challenges.
    address public immutable resolver;
    /// @notice Bond an answer posts.
    uint256 public immutable answerBond;
    /// @notice Bond a challenge posts.
    uint256 public immutable challengeBond;
    /// @notice Seconds after an answer during which anyone may challenge it.
    uint64 public immutable challengeWindow;
    /// @notice Seconds after a challenge the resolver has to decide it.
    uint64 public immutable resolveTimeout;
    /// @notice Highest callback gas limit a request may ask for.
    uint32 public immutable maxCallbackGas;

    /// @notice Number of requests so far (ids start at 1).
    uint256 public requestCount;
    mapping(uint256 requestId => Request) internal _requests;

    /// @notice `requester` asked `params` of model `modelId`, escrowing `params.fee`; `promptHash`
    /// is the prompt's keccak256 and `paramsHash` what receipts must commit to.
    event OracleRequested(
        uint256 indexed requestId,
        address indexed requester,
        uint256 indexed modelId,
        RequestParams params,
        bytes32 promptHash,
        bytes32 paramsHash
    );
    /// @notice Agent `agentId` answered `requestId` (posted by `answerer` with `bond`).
    event OracleAnswered(
        uint256 indexed requestId,
        uint256 indexed agentId,
        address indexed answerer,
        bytes answer,
        bytes32 receiptHash,
        uint32 promptTokens,
        uint32 completionTokens,
        uint256 bond
    );
    /// @notice `challenger` challenged the answer to `requestId`, posting `bond`.
    event OracleChallenged(uint256 indexed requestId, address indexed challenger, uint256 bond);
    /// @notice The resolver decided the challenge of `requestId`: `guilty` slashed the answer bond to
    /// the challenger and refunded the fee; otherwise the challenge bond went to the answerer.
    event OracleChallengeResolved(uint256 indexed requestId, bool guilty);
    /// @notice `requestId` was paid: `providerAmount` to agent `agentId`, `royaltyAmount` to the model
    /// owner, `feeAmount` to the treasury; the answer bond went back.
    event OracleFinalized(
        uint256 indexed requestId,
        uint256 indexed agentId,
        uint256 providerAmount,
        uint256 royaltyAmount,
        uint256 feeAmount
    );
    /// @notice The callback of `requestId` to `target` ran (`success` false: it reverted or ran out
    /// of gas; the answer stands and the payments were made regardless).
    event OracleCallback(uint256 indexed requestId, address indexed target, bool success);
    /// @notice `requestId` was refunded: `fee` to the requester (unanswered by its deadline, or a
    /// challenge the resolver did not decide in time, which also returns both bonds).
    event OracleRefunded(uint256 indexed requestId, address indexed requester, uint256 fee);

    /// @notice A required address argument is zero.
    error ZeroAddress();
    /// @notice A deployment parameter is out of range (windows must be non-zero).
    error InvalidParameters();
    /// @notice The fee does not cover the quoted offer's price for the request (`required`).
    error OracleFeeTooLow(uint256 fee, uint256 required);
    /// @notice The request's deadline is not in the future.
    error OracleDeadlineInvalid(uint64 deadline);
    /// @notice The request's deadline passed at `deadline`: no answer is accepted any more.
    error OracleDeadlinePassed(uint256 requestId, uint64 deadline);
    /// @notice The request was answered already (the first valid answer wins).
    error OracleAlreadyAnswered(uint256 requestId);
    /// @notice The prompt is missing, or its hash does not match the inline prompt.
    error OracleInvalidPrompt();
    /// @notice The callback gas limit is above `maxCallbackGas`, or a callback target has no selector.
    error OracleInvalidCallback(uint32 gasLimit, uint32 maxGas);
    /// @notice No such request.
    error OracleUnknownRequest(uint256 requestId);
    /// @notice The offer does not exist or is not for the request's model.
    error OracleUnknownOffer(uint256 offerId, uint256 modelId);
    /// @notice The answering agent's offers are paused or its bonded stake is below one offer's minimum.
    error OracleNotStaked(uint256 agentId);
    /// @notice The caller is not the answering agent's wallet, owner or operator.
    error OracleNotProvider(uint256 agentId, address caller);
    /// @notice The receipt does not describe this request and answer.
    error OracleReceiptMismatch(uint256 requestId);
    /// @notice The receipt is not signed by the agent's wallet (else owner).
    error OracleReceiptSignatureInvalid(uint256 requestId);
    /// @notice The answer is empty or longer than `MAX_ANSWER_BYTES`.
    error OracleAnswerInvalid(uint256 length);
    /// @notice The request is not in the state this call needs (`status` is where it is).
    error OracleWrongStatus(uint256 requestId, Status status);
    /// @notice The challenge window closed at `closesAt`.
    error OracleChallengeWindowClosed(uint256 requestId, uint256 closesAt);
    /// @notice The challenge window is open until `closesAt`; finalize after it.
    error OracleChallengeWindowOpen(uint256 requestId, uint256 closesAt);
    /// @notice Only the resolver may decide challenges.
    error OracleNotResolver(address caller);
    /// @notice Nothing to refund yet: the request is open until `until` (its deadline or the resolver's timeout).
    error OracleNotRefundable(uint256 requestId, uint256 until);
    /// @notice The transaction left too little gas to run the callback with its full limit.
    error OracleInsufficientGas(uint256 gasLeft, uint256 required);

    constructor(address token_, Params memory p) {
        if (token_ == address(0) || p.resolver == address(0)) revert ZeroAddress();
        if (p.challengeWindow == 0 || p.resolveTimeout == 0) revert InvalidParameters();
        token = IERC20(token_);
        resolver = p.resolver;
        answerBond = p.answerBond;
        challengeBond = p.challengeBond;
        challengeWindow = p.challengeWindow;
        resolveTimeout = p.resolveTimeout;
        maxCallbackGas = p.maxCallbackGas;
    }

    /// @notice Request `requestId` as stored (status `None` when it does not exist).
    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @notice What a receipt's `paramsHash` must be for these sampling parameters.
    function paramsHashOf(uint32 maxTokens, uint32 temperatureMilli, uint32 topPMilli, uint64 seed)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(maxTokens, temperatureMilli, topPMilli, seed));
    }
}
