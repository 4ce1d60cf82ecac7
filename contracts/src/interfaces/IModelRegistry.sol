// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IModelRegistry
/// @notice What other Verity contracts need from the model registry.
interface IModelRegistry {
    /// @notice Current owner and royalty (basis points) of `modelId`; reverts `UnknownModel` otherwise.
    function royaltyInfo(uint256 modelId) external view returns (address owner, uint16 royaltyBps);
}
