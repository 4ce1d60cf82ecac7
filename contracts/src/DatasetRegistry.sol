// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";

/// @title DatasetRegistry
/// @notice Registry of datasets identified by their content digest. A contributor registers a dataset
/// with its licence, where to fetch it and its terms: the smallest share of a model's royalty a model
/// owner must credit it with (`ModelRegistry.creditDataset`) and a price per retrieval (for
/// retrieval-augmented serving). The owner is the payee: every claim that pays a crediting model's
/// royalty pays the dataset's owner at that moment.
/// @dev A digest can be registered once: the first registrant owns it. Nothing on-chain proves that
/// the registrant compiled the data, so a digest can be squatted; licences and the off-chain record
/// settle authorship (docs/DATA-MARKET.md, known limits). Terms are fixed at registration.
contract DatasetRegistry is IDatasetRegistry {
    /// @notice A registered dataset.
    struct Dataset {
        address owner;
        uint16 minShareBps;
        uint64 registeredAt;
        bytes32 digest;
        uint256 pricePerUse;
        string licenceURI;
        string uri;
    }

    /// @notice Basis-point denominator (100%).
    uint16 public constant BPS_DENOMINATOR = 10_000;

    uint256 private _datasetCount;
    mapping(uint256 datasetId => Dataset dataset) private _datasets;
    mapping(bytes32 digest => uint256 datasetId) private _datasetIds;

    /// @notice A dataset was registered.
    /// @param datasetId The new dataset id.
    /// @param owner The dataset's owner (payee).
    /// @param digest Content digest of the dataset.
    /// @param minShareBps Smallest share of a model royalty a credit must give it.
    /// @param pricePerUse Price per retrieval, in base units of the payment token.
    /// @param licenceURI URI of the dataset licence.
    /// @param uri Where the dataset can be fetched.
    event DatasetRegistered(
        uint256 indexed datasetId,
        address indexed owner,
        bytes32 indexed digest,
        uint16 minShareBps,
        uint256 pricePerUse,
        string licenceURI,
        string uri
    );

    /// @notice A dataset changed owner (and payee).
    /// @param datasetId The dataset.
    /// @param previousOwner The previous owner.
    /// @param newOwner The new owner.
    event DatasetTransferred(uint256 indexed datasetId, address indexed previousOwner, address indexed newOwner);

    /// @notice No dataset with this id was registered.
    error DatasetUnknown(uint256 datasetId);
    /// @notice A dataset with this content digest is registered already (the first registrant owns it).
    error DatasetDigestTaken(uint256 datasetId);
    /// @notice The dataset's content digest is zero.
    error ZeroDatasetDigest();
    /// @notice A dataset share is above 100% (10,000 bps).
    error DatasetShareTooHigh(uint256 shareBps, uint256 maxBps);
    /// @notice The caller does not own the dataset.
    error NotDatasetOwner(uint256 datasetId, address caller);
    /// @notice A dataset cannot be transferred to the zero address.
    error ZeroDatasetOwner();

    /// @notice Registers a dataset owned (and paid) by the caller.
    /// @param digest Content digest of the dataset (non-zero, not registered before).
    /// @param minShareBps Smallest share of a model royalty a credit must give it (at most 10,000).
    /// @param pricePerUse Price per retrieval in base units of the payment token (0: not sold per use).
    /// @param licenceURI URI of the dataset licence.
    /// @param uri Where the dataset can be fetched.
    /// @return datasetId The new dataset id (ids start at 1).
    function register(
        bytes32 digest,
        uint16 minShareBps,
        uint256 pricePerUse,
        string calldata licenceURI,
        string calldata uri
    ) external returns (uint256 datasetId) {
        if (digest == bytes32(0)) revert ZeroDatasetDigest();
        uint256 existing = _datasetIds[digest];
        if (existing != 0) revert DatasetDigestTaken(existing);
        if (minShareBps > BPS_DENOMINATOR) revert DatasetShareTooHigh(minShareBps, BPS_DENOMINATOR);

        datasetId = ++_datasetCount;
        _datasetIds[digest] = datasetId;
        _datasets[datasetId] = Dataset({
            owner: msg.sender,
            minShareBps: minShareBps,
            registeredAt: uint64(block.timestamp),
            digest: digest,
            pricePerUse: pricePerUse,
            licenceURI: licenceURI,
            uri: uri
        });
        emit DatasetRegistered(datasetId, msg.sender, digest, minShareBps, pricePerUse, licenceURI, uri);
    }

    /// @notice Transfers ownership (and every future payment) of `datasetId`; owner only.
    /// @param datasetId The dataset.
    /// @param newOwner The new owner (non-zero).
    function transfer(uint256 datasetId, address newOwner) external {
        Dataset storage dataset = _datasets[datasetId];
        address previousOwner = dataset.owner;
        if (previousOwner == address(0)) revert DatasetUnknown(datasetId);
        if (previousOwner != msg.sender) revert NotDatasetOwner(datasetId, msg.sender);
        if (newOwner == address(0)) revert ZeroDatasetOwner();
        dataset.owner = newOwner;
        emit DatasetTransferred(datasetId, previousOwner, newOwner);
    }

    /// @inheritdoc IDatasetRegistry
    function termsOf(uint256 datasetId) external view returns (address owner, uint16 minShareBps, uint256 pricePerUse) {
        Dataset storage dataset = _datasets[datasetId];
        return (dataset.owner, dataset.minShareBps, dataset.pricePerUse);
    }

    /// @inheritdoc IDatasetRegistry
    function ownerOf(uint256 datasetId) external view returns (address) {
        return _datasets[datasetId].owner;
    }

    /// @notice Everything stored about `datasetId`.
    /// @param datasetId The dataset; reverts `DatasetUnknown` when never registered.
    /// @return The dataset.
    function getDataset(uint256 datasetId) external view returns (Dataset memory) {
        Dataset storage dataset = _datasets[datasetId];
        if (dataset.owner == address(0)) revert DatasetUnknown(datasetId);
        return dataset;
    }

    /// @notice Id of the dataset with this digest, or 0 when not registered.
    /// @param digest Content digest of the dataset.
    /// @return The dataset id, or 0.
    function datasetIdOf(bytes32 digest) external view returns (uint256) {
        return _datasetIds[digest];
    }

    /// @notice Number of registered datasets (the highest dataset id).
    /// @return The count.
    function datasetCount() external view returns (uint256) {
        return _datasetCount;
    }
}
