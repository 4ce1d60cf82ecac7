// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title GatewayDeposits
/// @notice The one way to fund a prepaid balance at a gateway: pulls `amount` of `token` from the
/// caller straight to `gateway` and emits `Deposited`, naming the account the gateway credits.
/// Gateways credit only this event, never a plain transfer they receive (x402 settlements, refunds
/// and mints reach the gateway's address too and are not deposits).
/// @dev Stateless and ownerless: it never holds tokens; the transfer goes from the caller to the gateway.
contract GatewayDeposits {
    using SafeERC20 for IERC20;

    /// @notice `from` paid `amount` of `token` to `gateway`, to be credited to `account`.
    /// @param gateway The gateway's address, which received the tokens.
    /// @param account The account whose prepaid balance the gateway credits.
    /// @param from The caller, whose tokens were transferred.
    /// @param token The token transferred.
    /// @param amount Amount transferred.
    event Deposited(
        address indexed gateway, address indexed account, address indexed from, address token, uint256 amount
    );

    /// @notice A deposit of zero tokens.
    error ZeroDeposit();
    /// @notice The gateway is the zero address.
    error ZeroGateway();
    /// @notice The account to credit is the zero address.
    error ZeroAccount();
    /// @notice The token is the zero address.
    error ZeroToken();

    /// @notice Transfers `amount` of `token` from the caller to `gateway`, credited there to `account`.
    /// @dev The caller must have approved this contract for at least `amount`.
    /// @param token The payment token.
    /// @param gateway The gateway's address.
    /// @param account The account whose prepaid balance is credited.
    /// @param amount Amount to deposit.
    function deposit(address token, address gateway, address account, uint256 amount) external {
        _deposit(token, gateway, account, amount);
    }

    /// @notice `deposit` after an EIP-2612 permit signed by the caller for this contract and `amount`.
    /// @dev A permit that fails (e.g. already used by a front-runner) is ignored; the transfer then
    /// needs an existing allowance.
    /// @param token The payment token (EIP-2612).
    /// @param gateway The gateway's address.
    /// @param account The account whose prepaid balance is credited.
    /// @param amount Amount to deposit, and the permit's value.
    /// @param deadline The permit's deadline.
    /// @param v Permit signature recovery byte.
    /// @param r Permit signature `r`.
    /// @param s Permit signature `s`.
    function depositWithPermit(
        address token,
        address gateway,
        address account,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (token == address(0)) revert ZeroToken();
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(token, gateway, account, amount);
    }

    function _deposit(address token, address gateway, address account, uint256 amount) private {
        if (token == address(0)) revert ZeroToken();
        if (gateway == address(0)) revert ZeroGateway();
        if (account == address(0)) revert ZeroAccount();
        if (amount == 0) revert ZeroDeposit();
        IERC20(token).safeTransferFrom(msg.sender, gateway, amount);
        emit Deposited(gateway, account, msg.sender, token, amount);
    }
}
