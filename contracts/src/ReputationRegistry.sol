// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";

/// @title ReputationRegistry
/// @notice ERC-8004 Reputation Registry. Clients leave signed-decimal feedback (`value`, `valueDecimals`)
/// with two tags about an agent; anyone may append responses. Unlike the permissionless reference,
/// feedback is accepted only from addresses that have paid the agent through `PaymentChannels`
/// (the client shows, once per agent, a channel it pays whose claimed total is above zero: `provePayment`),
/// so every voice costs real settled payments, and never from the agent's owner, operators or payment wallet.
contract ReputationRegistry {
    /// @notice One feedback entry as stored on chain (endpoint, URI and hash are only emitted).
    struct Feedback {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        string tag1;
        string tag2;
    }

    /// @notice Largest supported `valueDecimals`.
    uint8 public constant MAX_VALUE_DECIMALS = 18;

    /// @notice Bound on `|value| * 10^(18 - valueDecimals)`, i.e. `|value / 10^valueDecimals| <= 1e20`. Keeps every
    /// summary within `int128` whatever decimals are mixed.
    uint256 public constant MAX_ABS_WAD_VALUE = 1e38;

    /// @notice The ERC-8004 identity registry (Verity `AgentRegistry`).
    IAgentRegistry public immutable agentRegistry;

    /// @notice The payment channels whose settled payments gate feedback.
    IPaymentChannels public immutable paymentChannels;

    /// @notice Deployer of this registry: the only address that may bind `disputes`, once.
    address public immutable deployer;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => Feedback))) private _feedback;
    mapping(uint256 agentId => mapping(address client => uint64 lastIndex)) private _lastIndex;
    mapping(uint256 agentId => address[] clients) private _clients;
    mapping(uint256 agentId => mapping(address client => bool known)) private _isClient;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => address[] responders))) private
        _responders;
    mapping(uint256 agentId => mapping(address client => mapping(uint64 index => mapping(address responder => uint64))))
        private _responseCount;

    /// @notice The Disputes contract allowed to record dispute verdicts (zero until bound).
    address public disputes;

    /// @notice Whether `client` has shown (`provePayment`) a channel it pays that has paid `agentId`.
    mapping(uint256 agentId => mapping(address client => bool)) public hasPaid;

    /// @notice `client` showed that its channel `channelId` has paid `agentId`: it may now leave feedback.
    event PaymentProven(uint256 indexed agentId, address indexed client, bytes32 channelId);

    /// @notice A client left feedback about an agent.
    /// @param agentId The agent.
    /// @param clientAddress The client.
    /// @param feedbackIndex 1-based index of this feedback among the client's feedback for the agent.
    /// @param value Signed value, scaled by `10^valueDecimals`.
    /// @param valueDecimals Decimals of `value`.
    /// @param indexedTag1 `tag1` (indexed, so topics hold its hash).
    /// @param tag1 First tag (what is measured).
    /// @param tag2 Second tag.
    /// @param endpoint The agent endpoint the feedback is about.
    /// @param feedbackURI URI of an off-chain feedback file.
    /// @param feedbackHash Hash of the feedback file.
    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );

    /// @notice A client revoked one of its feedback entries.
    /// @param agentId The agent.
    /// @param clientAddress The client.
    /// @param feedbackIndex The revoked entry.
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);

    /// @notice Someone responded to a feedback entry.
    /// @param agentId The agent.
    /// @param clientAddress The client that gave the feedback.
    /// @param feedbackIndex The feedback entry.
    /// @param responder The responder.
    /// @param responseURI URI of the response.
    /// @param responseHash Hash of the response.
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    /// @notice The deployer bound the Disputes contract allowed to record dispute verdicts.
    event DisputesBound(address indexed disputes);

    /// @notice A constructor address is zero.
    error ZeroAddress();
    /// @notice Only the deployer may bind the Disputes contract.
    error NotDeployer(address caller);
    /// @notice The Disputes contract is bound already.
    error DisputesAlreadyBound(address disputes);
    /// @notice Only the bound Disputes contract may record dispute verdicts.
    error OnlyDisputes(address caller);
    /// @notice The agent does not exist in the agent registry.
    error UnknownAgent(uint256 agentId);
    /// @notice The caller has not settled any payment to the agent yet (or not shown it with `provePayment`).
    error NoSettledPayments(address client, uint256 agentId);
    /// @notice The caller is not the payer of the channel it shows.
    error NotChannelPayer(bytes32 channelId, address caller);
    /// @notice The caller is the agent's owner, operator or payment wallet.
    error SelfFeedbackNotAllowed(uint256 agentId, address caller);
    /// @notice `valueDecimals` is above 18.
    error ValueDecimalsTooLarge(uint8 valueDecimals);
    /// @notice The feedback value is too large: `|value| / 10^valueDecimals` must not exceed 1e20.
    error FeedbackValueOutOfRange(int128 value, uint8 valueDecimals);
    /// @notice No feedback with this index exists for this agent and client.
    error FeedbackNotFound(uint256 agentId, address clientAddress, uint64 feedbackIndex);
    /// @notice The feedback entry was already revoked.
    error FeedbackAlreadyRevoked(uint256 agentId, address clientAddress, uint64 feedbackIndex);
    /// @notice A response needs a non-empty URI.
    error EmptyResponseURI();

    /// @notice Deploys the registry.
    /// @param agentRegistry_ The ERC-8004 identity registry.
    /// @param paymentChannels_ The payment channels whose settled payments gate feedback.
    constructor(address agentRegistry_, address paymentChannels_) {
        if (agentRegistry_ == address(0) || paymentChannels_ == address(0)) revert ZeroAddress();
        agentRegistry = IAgentRegistry(agentRegistry_);
        paymentChannels = IPaymentChannels(paymentChannels_);
        deployer = msg.sender;
    }

    /// @notice Binds the Disputes contract whose verdicts this registry records; deployer only, once
    /// (the deployment script binds it right after deploying Disputes).
    /// @param disputes_ The Disputes contract.
    function bindDisputes(address disputes_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (disputes != address(0)) revert DisputesAlreadyBound(disputes);
        if (disputes_ == address(0)) revert ZeroAddress();
        disputes = disputes_;
        emit DisputesBound(disputes_);
    }

    /// @notice Records a dispute verdict about `agentId` as feedback from the Disputes contract
    /// (bound Disputes only; no settled-payment requirement). Emits `NewFeedback`.
    /// @param agentId The agent judged.
    /// @param value Signed value scaled by `10^valueDecimals` (e.g. -100 for a guilty verdict).
    /// @param valueDecimals Decimals of `value`, 0 to 18.
    /// @param tag1 First tag.
    /// @param tag2 Second tag.
    /// @param feedbackURI URI of the evidence (emitted only).
    /// @param feedbackHash Hash of the evidence (emitted only).
    function recordDisputeOutcome(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external {
        if (msg.sender != disputes || msg.sender == address(0)) revert OnlyDisputes(msg.sender);
        if (valueDecimals > MAX_VALUE_DECIMALS) revert ValueDecimalsTooLarge(valueDecimals);
        uint256 absValue = value < 0 ? uint256(-int256(value)) : uint256(int256(value));
        if (absValue > MAX_ABS_WAD_VALUE / 10 ** (MAX_VALUE_DECIMALS - valueDecimals)) {
            revert FeedbackValueOutOfRange(value, valueDecimals);
        }
        uint64 feedbackIndex = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][feedbackIndex] =
            Feedback({value: value, valueDecimals: valueDecimals, isRevoked: false, tag1: tag1, tag2: tag2});
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit NewFeedback(agentId, msg.sender, feedbackIndex, value, valueDecimals, tag1, tag1, tag2, "", feedbackURI, feedbackHash);
    }

    /// @notice The identity registry this registry is linked to (ERC-8004).
    /// @return The agent registry address.
    function getIdentityRegistry() external view returns (address) {
        return address(agentRegistry);
    }

    /// @notice Shows that the caller pays the channel with terms `channel` and that it has paid its
    /// agent (a claim raised its claimed total above zero), which makes the caller eligible to leave
    /// feedback about that agent (`hasPaid`). Once per client and agent; channels are not stored or
    /// enumerated on-chain, so the client names the channel by its terms (its `ChannelOpened` event).
    /// @param channel Terms of a channel the caller opened as payer.
    function provePayment(IPaymentChannels.ChannelConfig calldata channel) external {
        (bytes32 channelId, address payer, uint256 agentId, uint256 claimed) = paymentChannels.paymentOf(channel);
        if (payer != msg.sender) revert NotChannelPayer(channelId, msg.sender);
        if (claimed == 0) revert NoSettledPayments(msg.sender, agentId);
        if (hasPaid[agentId][msg.sender]) return;
        hasPaid[agentId][msg.sender] = true;
        emit PaymentProven(agentId, msg.sender, channelId);
    }

    /// @notice Leaves feedback about `agentId`; the caller must have settled payments to it and must not control it.
    /// @param agentId The agent.
    /// @param value Signed value scaled by `10^valueDecimals` (e.g. 9977 with 2 decimals = 99.77).
    /// @param valueDecimals Decimals of `value`, 0 to 18.
    /// @param tag1 First tag (what is measured, e.g. `starred`, `uptime`); may be empty.
    /// @param tag2 Second tag; may be empty.
    /// @param endpoint The agent endpoint the feedback is about (emitted only).
    /// @param feedbackURI URI of an off-chain feedback file (emitted only).
    /// @param feedbackHash Hash of the feedback file (emitted only).
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external {
        if (valueDecimals > MAX_VALUE_DECIMALS) revert ValueDecimalsTooLarge(valueDecimals);
        uint256 absValue = value < 0 ? uint256(-int256(value)) : uint256(int256(value));
        if (absValue > MAX_ABS_WAD_VALUE / 10 ** (MAX_VALUE_DECIMALS - valueDecimals)) {
            revert FeedbackValueOutOfRange(value, valueDecimals);
        }
        _requireEligibleClient(agentId);

        uint64 feedbackIndex = ++_lastIndex[agentId][msg.sender];
        _feedback[agentId][msg.sender][feedbackIndex] =
            Feedback({value: value, valueDecimals: valueDecimals, isRevoked: false, tag1: tag1, tag2: tag2});
        if (!_isClient[agentId][msg.sender]) {
            _isClient[agentId][msg.sender] = true;
            _clients[agentId].push(msg.sender);
        }
        emit NewFeedback(
            agentId, msg.sender, feedbackIndex, value, valueDecimals, tag1, tag1, tag2, endpoint, feedbackURI, feedbackHash
        );
    }

    /// @notice Revokes one of the caller's feedback entries for `agentId` (it stays readable, flagged revoked).
    /// @param agentId The agent.
    /// @param feedbackIndex The caller's feedback entry (1-based).
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        Feedback storage feedback = _existingFeedback(agentId, msg.sender, feedbackIndex);
        if (feedback.isRevoked) revert FeedbackAlreadyRevoked(agentId, msg.sender, feedbackIndex);
        feedback.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @notice Appends a response (e.g. a refund proof or a spam flag) to a feedback entry; anyone may respond.
    /// @param agentId The agent.
    /// @param clientAddress The client that gave the feedback.
    /// @param feedbackIndex The feedback entry (1-based).
    /// @param responseURI URI of the response (non-empty).
    /// @param responseHash Hash of the response.
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        _existingFeedback(agentId, clientAddress, feedbackIndex);
        if (bytes(responseURI).length == 0) revert EmptyResponseURI();
        if (_responseCount[agentId][clientAddress][feedbackIndex][msg.sender]++ == 0) {
            _responders[agentId][clientAddress][feedbackIndex].push(msg.sender);
        }
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    /// @notice Average of the matching, non-revoked feedback of `agentId`.
    /// @dev Values are normalised to 18 decimals, averaged (truncating), and returned at the most common
    /// `valueDecimals` among the matches (the smallest on a tie), like the ERC-8004 reference.
    /// @param agentId The agent.
    /// @param clientAddresses Clients to include; empty means every client (all of them paid the agent).
    /// @param tag1 Only feedback with this `tag1`; empty means any.
    /// @param tag2 Only feedback with this `tag2`; empty means any.
    /// @return count Number of matching entries.
    /// @return summaryValue Average value, scaled by `10^summaryValueDecimals` (0 when `count` is 0).
    /// @return summaryValueDecimals Decimals of `summaryValue`.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        address[] memory clients = _clientList(agentId, clientAddresses);
        bytes32 tag1Hash = keccak256(bytes(tag1));
        bytes32 tag2Hash = keccak256(bytes(tag2));
        bool filterTag1 = bytes(tag1).length > 0;
        bool filterTag2 = bytes(tag2).length > 0;
        int256 sumWad;
        uint64[19] memory decimalsCount;
        for (uint256 i = 0; i < clients.length; ++i) {
            uint64 last = _lastIndex[agentId][clients[i]];
            for (uint64 j = 1; j <= last; ++j) {
                Feedback storage feedback = _feedback[agentId][clients[i]][j];
                if (feedback.isRevoked) continue;
                if (filterTag1 && keccak256(bytes(feedback.tag1)) != tag1Hash) continue;
                if (filterTag2 && keccak256(bytes(feedback.tag2)) != tag2Hash) continue;
                uint8 decimals = feedback.valueDecimals;
                sumWad += int256(feedback.value) * int256(10 ** (MAX_VALUE_DECIMALS - decimals));
                ++decimalsCount[decimals];
                ++count;
            }
        }
        if (count == 0) return (0, 0, 0);
        uint64 best;
        for (uint8 d = 0; d <= MAX_VALUE_DECIMALS; ++d) {
            if (decimalsCount[d] > best) {
                best = decimalsCount[d];
                summaryValueDecimals = d;
            }
        }
        int256 averageWad = sumWad / int256(uint256(count));
        // |averageWad| <= MAX_ABS_WAD_VALUE < 2^127, so the cast cannot overflow.
        summaryValue = int128(averageWad / int256(10 ** (MAX_VALUE_DECIMALS - summaryValueDecimals)));
    }

    /// @notice One feedback entry.
    /// @param agentId The agent.
    /// @param clientAddress The client.
    /// @param feedbackIndex The entry (1-based); reverts `FeedbackNotFound` when it does not exist.
    /// @return value Signed value scaled by `10^valueDecimals`.
    /// @return valueDecimals Decimals of `value`.
    /// @return tag1 First tag.
    /// @return tag2 Second tag.
    /// @return isRevoked Whether the client revoked it.
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        Feedback storage feedback = _existingFeedback(agentId, clientAddress, feedbackIndex);
        return (feedback.value, feedback.valueDecimals, feedback.tag1, feedback.tag2, feedback.isRevoked);
    }

    /// @notice All matching feedback of `agentId`, flattened.
    /// @param agentId The agent.
    /// @param clientAddresses Clients to include; empty means every client.
    /// @param tag1 Only feedback with this `tag1`; empty means any.
    /// @param tag2 Only feedback with this `tag2`; empty means any.
    /// @param includeRevoked Whether revoked entries are included.
    /// @return clients Client of each entry.
    /// @return feedbackIndexes Index of each entry.
    /// @return values Value of each entry.
    /// @return valueDecimals Decimals of each entry.
    /// @return tag1s First tag of each entry.
    /// @return tag2s Second tag of each entry.
    /// @return revokedStatuses Revoked flag of each entry.
    function readAllFeedback(
        uint256 agentId,
        address[] calldata clientAddresses,
        string calldata tag1,
        string calldata tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        )
    {
        address[] memory list = _clientList(agentId, clientAddresses);
        uint256 total;
        for (uint256 pass = 0; pass < 2; ++pass) {
            if (pass == 1) {
                clients = new address[](total);
                feedbackIndexes = new uint64[](total);
                values = new int128[](total);
                valueDecimals = new uint8[](total);
                tag1s = new string[](total);
                tag2s = new string[](total);
                revokedStatuses = new bool[](total);
            }
            uint256 k;
            for (uint256 i = 0; i < list.length; ++i) {
                uint64 last = _lastIndex[agentId][list[i]];
                for (uint64 j = 1; j <= last; ++j) {
                    Feedback storage feedback = _feedback[agentId][list[i]][j];
                    if (!includeRevoked && feedback.isRevoked) continue;
                    if (!_tagsMatch(feedback, tag1, tag2)) continue;
                    if (pass == 1) {
                        clients[k] = list[i];
                        feedbackIndexes[k] = j;
                        values[k] = feedback.value;
                        valueDecimals[k] = feedback.valueDecimals;
                        tag1s[k] = feedback.tag1;
                        tag2s[k] = feedback.tag2;
                        revokedStatuses[k] = feedback.isRevoked;
                    }
                    ++k;
                }
            }
            total = k;
        }
    }

    /// @notice Number of responses appended to feedback of `agentId`.
    /// @param agentId The agent.
    /// @param clientAddress The client whose feedback to count; zero means every client.
    /// @param feedbackIndex The entry to count; 0 means every entry of `clientAddress`.
    /// @param responders Only responses from these responders; empty means any.
    /// @return count Number of responses.
    function getResponseCount(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) external view returns (uint64 count) {
        if (clientAddress == address(0)) {
            address[] storage clients = _clients[agentId];
            for (uint256 i = 0; i < clients.length; ++i) {
                count += _countClientResponses(agentId, clients[i], 0, responders);
            }
        } else {
            count = _countClientResponses(agentId, clientAddress, feedbackIndex, responders);
        }
    }

    /// @notice Every client that has given feedback to `agentId`, in order of first feedback.
    /// @param agentId The agent.
    /// @return The clients.
    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clients[agentId];
    }

    /// @notice Index of the last feedback `clientAddress` gave `agentId` (0 when none).
    /// @param agentId The agent.
    /// @param clientAddress The client.
    /// @return The last index.
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _lastIndex[agentId][clientAddress];
    }

    /// @dev Reverts unless the caller may leave feedback about `agentId`. Only view calls to trusted contracts.
    function _requireEligibleClient(uint256 agentId) private view {
        try agentRegistry.ownerOf(agentId) returns (address) {}
        catch {
            revert UnknownAgent(agentId);
        }
        if (agentRegistry.isAuthorized(agentId, msg.sender) || agentRegistry.getAgentWallet(agentId) == msg.sender) {
            revert SelfFeedbackNotAllowed(agentId, msg.sender);
        }
        if (!hasPaid[agentId][msg.sender]) revert NoSettledPayments(msg.sender, agentId);
    }

    function _clientList(uint256 agentId, address[] calldata clientAddresses) private view returns (address[] memory) {
        if (clientAddresses.length > 0) return clientAddresses;
        return _clients[agentId];
    }

    function _existingFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        private
        view
        returns (Feedback storage)
    {
        if (feedbackIndex == 0 || feedbackIndex > _lastIndex[agentId][clientAddress]) {
            revert FeedbackNotFound(agentId, clientAddress, feedbackIndex);
        }
        return _feedback[agentId][clientAddress][feedbackIndex];
    }

    function _tagsMatch(Feedback storage feedback, string calldata tag1, string calldata tag2)
        private
        view
        returns (bool)
    {
        if (bytes(tag1).length > 0 && keccak256(bytes(feedback.tag1)) != keccak256(bytes(tag1))) return false;
        if (bytes(tag2).length > 0 && keccak256(bytes(feedback.tag2)) != keccak256(bytes(tag2))) return false;
        return true;
    }

    function _countClientResponses(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) private view returns (uint64 count) {
        uint64 first = feedbackIndex == 0 ? 1 : feedbackIndex;
        uint64 last = feedbackIndex == 0 ? _lastIndex[agentId][clientAddress] : feedbackIndex;
        for (uint64 j = first; j <= last; ++j) {
            address[] storage all = _responders[agentId][clientAddress][j];
            uint256 n = responders.length > 0 ? responders.length : all.length;
            for (uint256 k = 0; k < n; ++k) {
                address responder = responders.length > 0 ? responders[k] : all[k];
                count += _responseCount[agentId][clientAddress][j][responder];
            }
        }
    }
}
