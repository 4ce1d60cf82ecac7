// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IModelRegistry
/// @notice What other Verity contracts need from the model registry.
interface IModelRegistry {
    /// @notice A credited dataset as a claim pays it: its current owner and its share of the royalty.
    struct DatasetPayee {
        uint256 datasetId;
        address owner;
        uint16 shareBps;
    }

    /// @notice Current owner, royalty (basis points) and credited datasets of `modelId` (each with
    /// its current owner and share, in basis points of the royalty; the shares add up to at most
    /// 10,000); reverts `UnknownModel` otherwise.
    function royaltySplit(uint256 modelId)
        external
        view
        returns (address owner, uint16 royaltyBps, DatasetPayee[] memory payees);

    /// @notice Current owner and royalty (basis points) of `modelId`; reverts `UnknownModel` otherwise.
    function royaltyInfo(uint256 modelId) external view returns (address owner, uint16 royaltyBps);
}
