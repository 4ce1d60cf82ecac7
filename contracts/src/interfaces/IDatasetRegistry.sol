// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDatasetRegistry
/// @notice What other Verity contracts need from the dataset registry.
interface IDatasetRegistry {
    /// @notice The contributor's terms of `datasetId`: its owner (the payee, zero when never
    /// registered), the smallest share of a model royalty a credit must give it and its price per
    /// retrieval. Never reverts.
    function termsOf(uint256 datasetId) external view returns (address owner, uint16 minShareBps, uint256 pricePerUse);

    /// @notice Current owner (payee) of `datasetId`, zero when never registered. Never reverts.
    function ownerOf(uint256 datasetId) external view returns (address);
}
