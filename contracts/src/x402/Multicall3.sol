// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Multicall3
/// @notice The read-batching subset of Multicall3 that x402's facilitator uses (`tryAggregate`),
/// installed at the canonical Multicall3 address on the devnet, where no Multicall3 exists.
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice A call failed while `requireSuccess` was set.
    /// @param index Position of the failed call.
    error CallFailed(uint256 index);

    /// @notice Calls each target in turn and returns every call's success flag and return data.
    /// @param requireSuccess Revert if any call fails.
    /// @param calls Targets and calldata.
    /// @return returnData One result per call, in order.
    function tryAggregate(bool requireSuccess, Call[] calldata calls)
        external
        payable
        returns (Result[] memory returnData)
    {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory data) = calls[i].target.call(calls[i].callData);
            if (requireSuccess && !success) revert CallFailed(i);
            returnData[i] = Result(success, data);
        }
    }
}
