// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Registry of open-weight models identified by `(weightsHash, tokenizerHash)`. Each model has an
/// owner who receives a royalty (basis points of every settled payment for the model). Royalties can only
/// be lowered, so an open payment channel is never charged more than when it was opened.
contract ModelRegistry is IModelRegistry {
    /// @notice A registered model.
    struct Model {
        address owner;
        uint16 royaltyBps;
        uint64 registeredAt;
        bytes32 weightsHash;
        bytes32 tokenizerHash;
        string licenceURI;
        string name;
    }

    /// @notice Basis-point denominator (100%).
    uint16 public constant BPS_DENOMINATOR = 10_000;

    /// @notice Highest royalty a model may be registered with.
    uint16 public immutable maxRoyaltyBps;

    uint256 private _modelCount;
    mapping(uint256 modelId => Model model) private _models;
    mapping(bytes32 weightsHash => mapping(bytes32 tokenizerHash => uint256 modelId)) private _modelIds;

    /// @notice A model was registered.
    /// @param modelId The new model id.
    /// @param owner The model's owner (royalty recipient).
    /// @param weightsHash Hash of the model weights.
    /// @param tokenizerHash Hash of the tokenizer.
    /// @param royaltyBps Royalty in basis points.
    /// @param licenceURI URI of the model licence.
    /// @param name Human-readable model name.
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        bytes32 weightsHash,
        bytes32 tokenizerHash,
        uint16 royaltyBps,
        string licenceURI,
        string name
    );

    /// @notice A model changed owner.
    /// @param modelId The model.
    /// @param previousOwner The previous owner.
    /// @param newOwner The new owner.
    event ModelTransferred(uint256 indexed modelId, address indexed previousOwner, address indexed newOwner);

    /// @notice A model's royalty was lowered.
    /// @param modelId The model.
    /// @param previousBps The previous royalty.
    /// @param newBps The new royalty.
    event RoyaltyLowered(uint256 indexed modelId, uint16 previousBps, uint16 newBps);

    /// @notice The constructor's maximum royalty exceeds 100%.
    error MaxRoyaltyAboveOneHundredPercent(uint16 maxRoyaltyBps);
    /// @notice No model with this id was registered.
    error UnknownModel(uint256 modelId);
    /// @notice This `(weightsHash, tokenizerHash)` pair is already registered.
    error ModelAlreadyRegistered(uint256 modelId);
    /// @notice The weights hash or the tokenizer hash is zero.
    error ZeroModelHash();
    /// @notice The royalty is above `maxRoyaltyBps`.
    error RoyaltyTooHigh(uint16 royaltyBps, uint16 maxRoyaltyBps);
    /// @notice The royalty can only be lowered.
    error RoyaltyIncreaseNotAllowed(uint16 currentBps, uint16 requestedBps);
    /// @notice The caller does not own the model.
    error NotModelOwner(uint256 modelId, address caller);
    /// @notice A model cannot be transferred to the zero address.
    error ZeroModelOwner();

    /// @notice Deploys the registry.
    /// @param maxRoyaltyBps_ Highest royalty a model may be registered with (at most 10,000).
    constructor(uint16 maxRoyaltyBps_) {
        if (maxRoyaltyBps_ > BPS_DENOMINATOR) revert MaxRoyaltyAboveOneHundredPercent(maxRoyaltyBps_);
        maxRoyaltyBps = maxRoyaltyBps_;
    }

    /// @notice Registers a model owned by the caller.
    /// @param weightsHash Hash of the model weights (non-zero).
    /// @param tokenizerHash Hash of the tokenizer (non-zero).
    /// @param royaltyBps Royalty in basis points, at most `maxRoyaltyBps`.
    /// @param licenceURI URI of the model licence.
    /// @param name Human-readable model name.
    /// @return modelId The new model id (ids start at 1).
    function registerModel(
        bytes32 weightsHash,
        bytes32 tokenizerHash,
        uint16 royaltyBps,
        string calldata licenceURI,
        string calldata name
    ) external returns (uint256 modelId) {
        if (weightsHash == bytes32(0) || tokenizerHash == bytes32(0)) revert ZeroModelHash();
        uint256 existing = _modelIds[weightsHash][tokenizerHash];
        if (existing != 0) revert ModelAlreadyRegistered(existing);
        if (royaltyBps > maxRoyaltyBps) revert RoyaltyTooHigh(royaltyBps, maxRoyaltyBps);

        modelId = ++_modelCount;
        _modelIds[weightsHash][tokenizerHash] = modelId;
        _models[modelId] = Model({
            owner: msg.sender,
            royaltyBps: royaltyBps,
            registeredAt: uint64(block.timestamp),
            weightsHash: weightsHash,
            tokenizerHash: tokenizerHash,
            licenceURI: licenceURI,
            name: name
        });
        emit ModelRegistered(modelId, msg.sender, weightsHash, tokenizerHash, royaltyBps, licenceURI, name);
    }

    /// @notice Transfers ownership (and future royalties) of `modelId`; owner only.
    /// @param modelId The model.
    /// @param newOwner The new owner (non-zero).
    function transferModel(uint256 modelId, address newOwner) external {
        Model storage model = _ownedModel(modelId);
        if (newOwner == address(0)) revert ZeroModelOwner();
        address previousOwner = model.owner;
        model.owner = newOwner;
        emit ModelTransferred(modelId, previousOwner, newOwner);
    }

    /// @notice Lowers (or keeps) the royalty of `modelId`; owner only.
    /// @param modelId The model.
    /// @param newBps The new royalty, at most the current one.
    function lowerRoyalty(uint256 modelId, uint16 newBps) external {
        Model storage model = _ownedModel(modelId);
        uint16 previousBps = model.royaltyBps;
        if (newBps > previousBps) revert RoyaltyIncreaseNotAllowed(previousBps, newBps);
        model.royaltyBps = newBps;
        emit RoyaltyLowered(modelId, previousBps, newBps);
    }

    /// @notice Current owner and royalty of `modelId`.
    /// @param modelId The model; reverts `UnknownModel` when never registered.
    /// @return owner The royalty recipient.
    /// @return royaltyBps The royalty in basis points.
    function royaltyInfo(uint256 modelId) external view returns (address owner, uint16 royaltyBps) {
        Model storage model = _existingModel(modelId);
        return (model.owner, model.royaltyBps);
    }

    /// @notice Everything stored about `modelId`.
    /// @param modelId The model; reverts `UnknownModel` when never registered.
    /// @return The model.
    function getModel(uint256 modelId) external view returns (Model memory) {
        return _existingModel(modelId);
    }

    /// @notice Id of the model with these hashes, or 0 when not registered.
    /// @param weightsHash Hash of the model weights.
    /// @param tokenizerHash Hash of the tokenizer.
    /// @return The model id, or 0.
    function modelIdOf(bytes32 weightsHash, bytes32 tokenizerHash) external view returns (uint256) {
        return _modelIds[weightsHash][tokenizerHash];
    }

    /// @notice Number of registered models (the highest model id).
    /// @return The count.
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    function _existingModel(uint256 modelId) private view returns (Model storage model) {
        model = _models[modelId];
        if (model.owner == address(0)) revert UnknownModel(modelId);
    }

    function _ownedModel(uint256 modelId) private view returns (Model storage model) {
        model = _existingModel(modelId);
        if (model.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
    }
}
