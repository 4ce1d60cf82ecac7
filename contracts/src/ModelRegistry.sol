// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Registry of open-weight models identified by `(weightsHash, tokenizerHash)`. Each model has an
/// owner who receives a royalty (basis points of every settled payment for the model). Royalties can only
/// be lowered, so an open payment channel is never charged more than when it was opened.
/// A model owner credits the datasets the model was trained, fine-tuned or retrieval-augmented on
/// (`creditDataset`) with shares of that royalty; PaymentChannels pays each credited dataset its
/// share in the claim that pays the royalty. Credits can only be added or raised, never lowered
/// or removed, so a model owner cannot cut its contributors out later.
contract ModelRegistry is IModelRegistry {
    /// @notice A registered model.
    struct Model {
        address owner;
        uint16 royaltyBps;
        uint64 registeredAt;
        uint8 datasetCount;
        bytes32 weightsHash;
        bytes32 tokenizerHash;
        string licenceURI;
        string name;
    }

    /// @notice Basis-point denominator (100%).
    uint16 public constant BPS_DENOMINATOR = 10_000;

    /// @notice A dataset credit: the dataset and its share of the model royalty (one storage slot).
    struct DatasetCredit {
        uint240 datasetId;
        uint16 shareBps;
    }

    /// @notice Most datasets a model may credit (bounds the gas every claim spends on them).
    uint8 public constant MAX_DATASET_CREDITS = 8;

    /// @notice Highest royalty a model may be registered with.
    uint16 public immutable maxRoyaltyBps;

    /// @notice The dataset registry credits refer to.
    IDatasetRegistry public immutable datasetRegistry;

    uint256 private _modelCount;
    mapping(uint256 modelId => Model model) private _models;
    mapping(bytes32 weightsHash => mapping(bytes32 tokenizerHash => uint256 modelId)) private _modelIds;
    mapping(uint256 modelId => mapping(uint256 index => DatasetCredit credit)) private _credits;

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

    /// @notice A model credited a dataset with a share of its royalty (new, or raised).
    /// @param modelId The model.
    /// @param datasetId The dataset.
    /// @param shareBps The dataset's share of the model royalty now.
    /// @param totalShareBps The sum of every credited dataset's share of the model royalty.
    event DatasetCredited(uint256 indexed modelId, uint256 indexed datasetId, uint16 shareBps, uint16 totalShareBps);

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
    /// @notice The dataset registry address is zero.
    error ZeroDatasetRegistry();
    /// @notice No dataset with this id was registered.
    error DatasetUnknown(uint256 datasetId);
    /// @notice The credited shares of the model's datasets would add up to more than 100% (10,000 bps) of its royalty.
    error DatasetShareTooHigh(uint256 shareBps, uint256 maxBps);
    /// @notice The share is below what the dataset's terms ask of a credit.
    error DatasetShareBelowTerms(uint256 datasetId, uint16 shareBps, uint16 minShareBps);
    /// @notice A dataset credit needs a non-zero share.
    error ZeroDatasetShare();
    /// @notice A dataset credit can only be raised, never lowered or removed.
    error DatasetCreditLowered(uint256 datasetId, uint16 currentBps, uint16 requestedBps);
    /// @notice The model credits `MAX_DATASET_CREDITS` datasets already.
    error DatasetCreditsFull(uint256 modelId);

    /// @notice Deploys the registry.
    /// @param maxRoyaltyBps_ Highest royalty a model may be registered with (at most 10,000).
    /// @param datasetRegistry_ The dataset registry dataset credits refer to.
    constructor(uint16 maxRoyaltyBps_, address datasetRegistry_) {
        if (maxRoyaltyBps_ > BPS_DENOMINATOR) revert MaxRoyaltyAboveOneHundredPercent(maxRoyaltyBps_);
        if (datasetRegistry_ == address(0)) revert ZeroDatasetRegistry();
        maxRoyaltyBps = maxRoyaltyBps_;
        datasetRegistry = IDatasetRegistry(datasetRegistry_);
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
            datasetCount: 0,
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

    /// @notice Credits `datasetId` with `shareBps` of the model royalty, or raises its credit to
    /// `shareBps`; owner only. The share must be non-zero and at least the dataset's `minShareBps`,
    /// the model's credits must stay within 100% of its royalty and `MAX_DATASET_CREDITS` datasets.
    /// @param modelId The model.
    /// @param datasetId A registered dataset.
    /// @param shareBps The dataset's share of the model royalty, in basis points of that royalty.
    function creditDataset(uint256 modelId, uint256 datasetId, uint16 shareBps) external {
        Model storage model = _ownedModel(modelId);
        if (shareBps == 0) revert ZeroDatasetShare();
        (address datasetOwner, uint16 minShareBps,) = datasetRegistry.termsOf(datasetId);
        if (datasetOwner == address(0)) revert DatasetUnknown(datasetId);
        if (shareBps < minShareBps) revert DatasetShareBelowTerms(datasetId, shareBps, minShareBps);

        uint256 count = model.datasetCount;
        uint256 total = shareBps;
        uint256 slot = count;
        mapping(uint256 => DatasetCredit) storage credits = _credits[modelId];
        for (uint256 i; i < count; ++i) {
            DatasetCredit memory credit = credits[i];
            if (credit.datasetId == datasetId) {
                if (shareBps < credit.shareBps) revert DatasetCreditLowered(datasetId, credit.shareBps, shareBps);
                slot = i;
            } else {
                total += credit.shareBps;
            }
        }
        if (total > BPS_DENOMINATOR) revert DatasetShareTooHigh(total, BPS_DENOMINATOR);
        if (slot == count) {
            if (count == MAX_DATASET_CREDITS) revert DatasetCreditsFull(modelId);
            model.datasetCount = uint8(count + 1);
        }
        // Dataset ids are a counter, far below 2^240.
        credits[slot] = DatasetCredit({datasetId: uint240(datasetId), shareBps: shareBps});
        emit DatasetCredited(modelId, datasetId, shareBps, uint16(total));
    }

    /// @notice The datasets `modelId` credits, in the order they were first credited.
    /// @param modelId The model; reverts `UnknownModel` when never registered.
    /// @return credits The credits.
    function datasetCredits(uint256 modelId) external view returns (DatasetCredit[] memory credits) {
        Model storage model = _existingModel(modelId);
        uint256 count = model.datasetCount;
        credits = new DatasetCredit[](count);
        for (uint256 i; i < count; ++i) {
            credits[i] = _credits[modelId][i];
        }
    }

    /// @inheritdoc IModelRegistry
    function royaltySplit(uint256 modelId)
        external
        view
        returns (address owner, uint16 royaltyBps, DatasetPayee[] memory payees)
    {
        Model storage model = _existingModel(modelId);
        owner = model.owner;
        royaltyBps = model.royaltyBps;
        uint256 count = model.datasetCount;
        payees = new DatasetPayee[](count);
        for (uint256 i; i < count; ++i) {
            DatasetCredit memory credit = _credits[modelId][i];
            payees[i] = DatasetPayee({
                datasetId: credit.datasetId,
                owner: datasetRegistry.ownerOf(credit.datasetId),
                shareBps: credit.shareBps
            });
        }
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
