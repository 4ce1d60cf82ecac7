// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";

/// @title ValidationRegistry
/// @notice ERC-8004 Validation Registry. An agent's owner or operator asks a named validator to check a piece of
/// work (identified by `requestHash`); the validator answers with a score from 0 (failed) to 100 (passed), and
/// may update it later (progressive validation).
contract ValidationRegistry {
    /// @notice State of one validation request.
    struct ValidationStatus {
        address validatorAddress;
        uint8 response;
        bool hasResponse;
        uint64 lastUpdate;
        uint256 agentId;
        bytes32 responseHash;
        string tag;
    }

    /// @notice Highest possible response.
    uint8 public constant MAX_RESPONSE = 100;

    /// @notice The ERC-8004 identity registry (Verity `AgentRegistry`).
    IAgentRegistry public immutable agentRegistry;
    /// @notice Deployer of this registry: the only address that may bind `disputes`, once.
    address public immutable deployer;
    /// @notice The Disputes contract allowed to record dispute verdicts (zero until bound).
    address public disputes;

    mapping(bytes32 requestHash => ValidationStatus) private _validations;
    mapping(uint256 agentId => bytes32[] requestHashes) private _agentValidations;
    mapping(address validator => bytes32[] requestHashes) private _validatorRequests;

    /// @notice An agent asked a validator to validate some work.
    /// @param validatorAddress The validator asked.
    /// @param agentId The agent whose work is validated.
    /// @param requestURI URI of the validation request data (inputs and outputs to check).
    /// @param requestHash Commitment to the request data; identifies the request.
    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );

    /// @notice A validator answered (or updated its answer to) a validation request.
    /// @param validatorAddress The validator.
    /// @param agentId The agent whose work was validated.
    /// @param requestHash The request.
    /// @param response Score from 0 (failed) to 100 (passed).
    /// @param responseURI URI of the validator's evidence.
    /// @param responseHash Hash of the evidence.
    /// @param tag Free-form tag (e.g. the validation method or finality stage).
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    /// @notice A dispute verdict replaced the request another caller had written under its hash
    /// (about `agentId`); the replaced request is gone.
    event ValidationRequestReplaced(bytes32 indexed requestHash, uint256 indexed agentId);

    /// @notice The deployer bound the Disputes contract allowed to record dispute verdicts.
    event DisputesBound(address indexed disputes);

    /// @notice The constructor's agent registry address is zero.
    error ZeroAddress();
    /// @notice Only the deployer may bind the Disputes contract.
    error NotDeployer(address caller);
    /// @notice The Disputes contract is bound already.
    error DisputesAlreadyBound(address disputes);
    /// @notice Only the bound Disputes contract may record dispute verdicts.
    error OnlyDisputes(address caller);
    /// @notice The agent does not exist in the agent registry.
    error UnknownAgent(uint256 agentId);
    /// @notice The caller is neither the agent's owner nor an approved operator.
    error NotAgentOwner(uint256 agentId, address caller);
    /// @notice The validator address is zero.
    error ZeroValidatorAddress();
    /// @notice A request with this hash already exists.
    error ValidationRequestExists(bytes32 requestHash);
    /// @notice No request with this hash exists.
    error UnknownValidationRequest(bytes32 requestHash);
    /// @notice The caller is not the validator named in the request.
    error NotRequestedValidator(bytes32 requestHash, address caller);
    /// @notice The response is above 100.
    error ResponseOutOfRange(uint8 response);

    /// @notice Deploys the registry.
    /// @param agentRegistry_ The ERC-8004 identity registry.
    constructor(address agentRegistry_) {
        if (agentRegistry_ == address(0)) revert ZeroAddress();
        agentRegistry = IAgentRegistry(agentRegistry_);
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

    /// @notice Records a dispute verdict about `agentId` as a request answered by the Disputes
    /// contract (bound Disputes only): emits `ValidationRequest` then `ValidationResponse`.
    /// @param agentId The agent judged.
    /// @param requestHash Identifies the dispute. A request someone else wrote under this hash first
    /// (squatting the hash the verdict will use) does not block the verdict: it is replaced.
    /// @param response Score from 0 (guilty) to 100.
    /// @param responseURI URI of the evidence.
    /// @param responseHash Hash of the evidence (the challenged receipt).
    /// @param tag Tag of the entry.
    function recordDisputeOutcome(
        uint256 agentId,
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        if (msg.sender != disputes || msg.sender == address(0)) revert OnlyDisputes(msg.sender);
        if (response > MAX_RESPONSE) revert ResponseOutOfRange(response);
        ValidationStatus storage status = _validations[requestHash];
        if (status.validatorAddress == msg.sender) revert ValidationRequestExists(requestHash);
        if (status.validatorAddress != address(0)) emit ValidationRequestReplaced(requestHash, status.agentId);
        status.validatorAddress = msg.sender;
        status.agentId = agentId;
        status.response = response;
        status.hasResponse = true;
        status.responseHash = responseHash;
        status.tag = tag;
        status.lastUpdate = uint64(block.timestamp);
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[msg.sender].push(requestHash);
        emit ValidationRequest(msg.sender, agentId, responseURI, requestHash);
        emit ValidationResponse(msg.sender, agentId, requestHash, response, responseURI, responseHash, tag);
    }

    /// @notice The identity registry this registry is linked to (ERC-8004).
    /// @return The agent registry address.
    function getIdentityRegistry() external view returns (address) {
        return address(agentRegistry);
    }

    /// @notice Asks `validatorAddress` to validate work of `agentId`; agent owner or operator only.
    /// @param validatorAddress The validator (an EOA or a validator contract).
    /// @param agentId The agent whose work is validated.
    /// @param requestURI URI of the request data.
    /// @param requestHash Commitment to the request data; must not have been used before.
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (validatorAddress == address(0)) revert ZeroValidatorAddress();
        if (_validations[requestHash].validatorAddress != address(0)) revert ValidationRequestExists(requestHash);
        try agentRegistry.ownerOf(agentId) returns (address) {}
        catch {
            revert UnknownAgent(agentId);
        }
        if (!agentRegistry.isAuthorized(agentId, msg.sender)) revert NotAgentOwner(agentId, msg.sender);

        ValidationStatus storage status = _validations[requestHash];
        status.validatorAddress = validatorAddress;
        status.agentId = agentId;
        status.lastUpdate = uint64(block.timestamp);
        _agentValidations[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @notice Answers (or updates the answer to) a validation request; the named validator only.
    /// @param requestHash The request.
    /// @param response Score from 0 (failed) to 100 (passed).
    /// @param responseURI URI of the evidence.
    /// @param responseHash Hash of the evidence.
    /// @param tag Free-form tag.
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        ValidationStatus storage status = _existingRequest(requestHash);
        if (msg.sender != status.validatorAddress) revert NotRequestedValidator(requestHash, msg.sender);
        if (response > MAX_RESPONSE) revert ResponseOutOfRange(response);

        status.response = response;
        status.hasResponse = true;
        status.responseHash = responseHash;
        status.tag = tag;
        status.lastUpdate = uint64(block.timestamp);
        emit ValidationResponse(msg.sender, status.agentId, requestHash, response, responseURI, responseHash, tag);
    }

    /// @notice State of a validation request.
    /// @param requestHash The request; reverts `UnknownValidationRequest` when it does not exist.
    /// @return validatorAddress The validator asked.
    /// @return agentId The agent.
    /// @return response Latest score (0 until answered).
    /// @return responseHash Hash of the latest evidence.
    /// @return tag Latest tag.
    /// @return lastUpdate Time of the request or of the latest response.
    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        )
    {
        ValidationStatus storage status = _existingRequest(requestHash);
        return (
            status.validatorAddress,
            status.agentId,
            status.response,
            status.responseHash,
            status.tag,
            status.lastUpdate
        );
    }

    /// @notice Whether the validator has answered `requestHash` (a response of 0 is a real answer).
    /// @param requestHash The request; reverts `UnknownValidationRequest` when it does not exist.
    /// @return True once answered.
    function hasResponse(bytes32 requestHash) external view returns (bool) {
        return _existingRequest(requestHash).hasResponse;
    }

    /// @notice Average response over the answered requests of `agentId`.
    /// @param agentId The agent.
    /// @param validatorAddresses Only these validators; empty means any.
    /// @param tag Only responses with this tag; empty means any.
    /// @return count Number of answered matching requests.
    /// @return averageResponse Their average response, truncated (0 when `count` is 0).
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 averageResponse)
    {
        bytes32[] storage hashes = _agentValidations[agentId];
        bool filterTag = bytes(tag).length > 0;
        bytes32 tagHash = keccak256(bytes(tag));
        uint256 total;
        for (uint256 i = 0; i < hashes.length; ++i) {
            ValidationStatus storage status = _validations[hashes[i]];
            if (!status.hasResponse || status.agentId != agentId) continue; // replaced by a verdict on another agent
            if (filterTag && keccak256(bytes(status.tag)) != tagHash) continue;
            if (validatorAddresses.length > 0 && !_contains(validatorAddresses, status.validatorAddress)) continue;
            total += status.response;
            ++count;
        }
        if (count > 0) averageResponse = uint8(total / count);
    }

    /// @notice Every request hash made for `agentId`, oldest first.
    /// @param agentId The agent.
    /// @return requestHashes The requests.
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory requestHashes) {
        return _agentValidations[agentId];
    }

    /// @notice Every request hash addressed to `validatorAddress`, oldest first.
    /// @param validatorAddress The validator.
    /// @return requestHashes The requests.
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory requestHashes) {
        return _validatorRequests[validatorAddress];
    }

    function _existingRequest(bytes32 requestHash) private view returns (ValidationStatus storage status) {
        status = _validations[requestHash];
        if (status.validatorAddress == address(0)) revert UnknownValidationRequest(requestHash);
    }

    function _contains(address[] calldata list, address value) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
