// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only ERC-20 that, once armed, calls back into `target` from inside a transfer that
/// `target` sends, bubbling up any revert. It lets contract tests prove that the payouts of
/// `PaymentChannels` cannot be re-entered through a hostile token. Never part of a deployment.
contract ReentrantToken is ERC20 {
    /// @notice The contract whose outgoing transfer triggers the call back (zero: disarmed).
    address public target;
    /// @notice The calldata of the call back.
    bytes public callback;

    constructor() ERC20("Reentrant Test Token", "REENTER") {}

    /// @notice Mints `amount` to `to` (anyone; test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms one call back into `target_` with `callback_` on its next outgoing transfer.
    function arm(address target_, bytes calldata callback_) external {
        target = target_;
        callback = callback_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address armed = target;
        if (armed != address(0) && from == armed) {
            target = address(0);
            (bool ok, bytes memory reason) = armed.call(callback);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}
