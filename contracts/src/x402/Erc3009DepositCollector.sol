// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IDepositCollector} from "./IDepositCollector.sol";

/// @notice The ERC-3009 entry point the collector uses (the `bytes signature` form, which also
/// accepts ERC-1271 signatures on tokens that support them).
interface IERC3009Receive {
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
}

/// @title Erc3009DepositCollector
/// @notice x402 batch-settlement deposit collector for ERC-3009 tokens (USDC, TestUSD). The payer
/// signs `ReceiveWithAuthorization(from = payer, to = this collector, value, validAfter,
/// validBefore, nonce)` with `nonce = keccak256(abi.encode(channelId, salt))`, so the signature
/// funds exactly one channel; `collectorData = abi.encode(validAfter, validBefore, salt,
/// signature)`. Only the batch-settlement contract at its canonical address may call `collect`:
/// anyone else could otherwise submit a payer's signature and keep the tokens.
/// @dev No storage and no constructor: the runtime code is position-independent apart from the
/// canonical batch-settlement address it trusts.
contract Erc3009DepositCollector is IDepositCollector {
    using SafeERC20 for IERC20;

    /// @notice The canonical x402 batch-settlement contract, the only allowed caller.
    address public constant BATCH_SETTLEMENT = 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003;

    /// @notice `collect` was called by someone other than the batch-settlement contract.
    /// @param caller The rejected caller.
    error CallerNotBatchSettlement(address caller);

    /// @inheritdoc IDepositCollector
    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata collectorData)
        external
    {
        if (msg.sender != BATCH_SETTLEMENT) revert CallerNotBatchSettlement(msg.sender);
        (uint256 validAfter, uint256 validBefore, uint256 salt, bytes memory signature) =
            abi.decode(collectorData, (uint256, uint256, uint256, bytes));
        bytes32 nonce = keccak256(abi.encode(channelId, salt));
        IERC3009Receive(token)
            .receiveWithAuthorization(payer, address(this), amount, validAfter, validBefore, nonce, signature);
        IERC20(token).safeTransfer(msg.sender, amount);
    }
}
