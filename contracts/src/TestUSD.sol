// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title TestUSD
/// @notice 6-decimal devnet stablecoin with EIP-2612 `permit` and EIP-3009 transfer authorizations, so
/// unmodified x402 `exact` clients can pay with it. A capped public faucet exists only on deployments
/// created with `faucetEnabled`; the owner can always mint.
/// @dev Authorization signatures are checked with OpenZeppelin `SignatureChecker`, so ERC-1271 smart
/// wallets can authorize as well as EOAs. Both the `(v, r, s)` and the `bytes signature` forms of the
/// EIP-3009 functions are provided (the latter is what smart-wallet aware x402 facilitators call).
contract TestUSD is ERC20Permit, Ownable {
    /// @notice Largest amount a single `faucet` call may mint (1,000,000 TUSD).
    uint256 public constant FAUCET_LIMIT = 1_000_000 * 10 ** 6;

    /// @notice EIP-3009 `TransferWithAuthorization` typehash.
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 `ReceiveWithAuthorization` typehash.
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 `CancelAuthorization` typehash.
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    /// @notice Whether the public `faucet` may be used on this deployment.
    bool public immutable faucetEnabled;

    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    /// @notice An EIP-3009 authorization was consumed by a transfer.
    /// @param authorizer The account that signed the authorization.
    /// @param nonce The authorization's unique nonce.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice An EIP-3009 authorization was cancelled before use.
    /// @param authorizer The account that signed the cancellation.
    /// @param nonce The cancelled authorization's nonce.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The faucet is not enabled on this deployment.
    error FaucetDisabled();
    /// @notice A faucet request exceeds the per-call limit.
    error FaucetLimitExceeded(uint256 requested, uint256 limit);
    /// @notice The authorization's nonce was already used or cancelled.
    error AuthorizationAlreadyUsed(address authorizer, bytes32 nonce);
    /// @notice The authorization's `validAfter` time has not passed yet.
    error AuthorizationNotYetValid(uint256 validAfter);
    /// @notice The authorization's `validBefore` time has passed.
    error AuthorizationExpired(uint256 validBefore);
    /// @notice The signature was not produced by the authorizer.
    error InvalidAuthorizationSignature();
    /// @notice `receiveWithAuthorization` was called by someone other than the payee.
    error CallerNotPayee(address caller, address payee);

    /// @notice Deploys the token.
    /// @param owner_ Account allowed to `mint`.
    /// @param faucetEnabled_ Whether anyone may mint up to `FAUCET_LIMIT` per call via `faucet`.
    constructor(address owner_, bool faucetEnabled_) ERC20("Test USD", "TUSD") ERC20Permit("Test USD") Ownable(owner_) {
        faucetEnabled = faucetEnabled_;
    }

    /// @notice Number of decimals (6, like USDC).
    /// @return Always 6.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to` from the public faucet (devnets only).
    /// @param to Recipient of the minted tokens.
    /// @param amount Amount to mint, at most `FAUCET_LIMIT`.
    function faucet(address to, uint256 amount) external {
        if (!faucetEnabled) revert FaucetDisabled();
        if (amount > FAUCET_LIMIT) revert FaucetLimitExceeded(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }

    /// @notice Mints `amount` to `to`; owner only.
    /// @param to Recipient of the minted tokens.
    /// @param amount Amount to mint.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice Whether the EIP-3009 authorization `nonce` of `authorizer` was used or cancelled.
    /// @param authorizer The authorization's signer.
    /// @param nonce The authorization's nonce.
    /// @return True when the nonce can no longer be used.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @notice Executes a transfer authorized by an EIP-3009 signature of `from` (`v`, `r`, `s` form).
    /// @param from Payer and signer.
    /// @param to Payee.
    /// @param value Amount to transfer.
    /// @param validAfter The authorization is valid only after this time (exclusive).
    /// @param validBefore The authorization is valid only before this time (exclusive).
    /// @param nonce Unique random nonce chosen by the payer.
    /// @param v Signature recovery byte.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        _transferWithAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v)
        );
    }

    /// @notice Executes a transfer authorized by an EIP-3009 signature of `from` (bytes form; ERC-1271 aware).
    /// @param from Payer and signer.
    /// @param to Payee.
    /// @param value Amount to transfer.
    /// @param validAfter The authorization is valid only after this time (exclusive).
    /// @param validBefore The authorization is valid only before this time (exclusive).
    /// @param nonce Unique random nonce chosen by the payer.
    /// @param signature ECDSA signature (65 bytes) or ERC-1271 signature of `from`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        _transferWithAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature
        );
    }

    /// @notice Like `transferWithAuthorization`, but only the payee may submit it (front-running safe).
    /// @param from Payer and signer.
    /// @param to Payee; must be the caller.
    /// @param value Amount to transfer.
    /// @param validAfter The authorization is valid only after this time (exclusive).
    /// @param validBefore The authorization is valid only before this time (exclusive).
    /// @param nonce Unique random nonce chosen by the payer.
    /// @param v Signature recovery byte.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (to != msg.sender) revert CallerNotPayee(msg.sender, to);
        _transferWithAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v)
        );
    }

    /// @notice Like `transferWithAuthorization` (bytes form), but only the payee may submit it.
    /// @param from Payer and signer.
    /// @param to Payee; must be the caller.
    /// @param value Amount to transfer.
    /// @param validAfter The authorization is valid only after this time (exclusive).
    /// @param validBefore The authorization is valid only before this time (exclusive).
    /// @param nonce Unique random nonce chosen by the payer.
    /// @param signature ECDSA signature (65 bytes) or ERC-1271 signature of `from`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        if (to != msg.sender) revert CallerNotPayee(msg.sender, to);
        _transferWithAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature
        );
    }

    /// @notice Cancels an unused authorization of `authorizer` (`v`, `r`, `s` form).
    /// @param authorizer The authorization's signer, who also signs the cancellation.
    /// @param nonce Nonce of the authorization to cancel.
    /// @param v Signature recovery byte.
    /// @param r Signature `r`.
    /// @param s Signature `s`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        _cancelAuthorization(authorizer, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Cancels an unused authorization of `authorizer` (bytes form; ERC-1271 aware).
    /// @param authorizer The authorization's signer, who also signs the cancellation.
    /// @param nonce Nonce of the authorization to cancel.
    /// @param signature ECDSA signature (65 bytes) or ERC-1271 signature of `authorizer`.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes calldata signature) external {
        _cancelAuthorization(authorizer, nonce, signature);
    }

    function _transferWithAuthorization(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) private {
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore);
        _requireUnusedAuthorization(from, nonce);
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce)));
        if (!SignatureChecker.isValidSignatureNow(from, digest, signature)) revert InvalidAuthorizationSignature();

        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    function _cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) private {
        _requireUnusedAuthorization(authorizer, nonce);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        if (!SignatureChecker.isValidSignatureNow(authorizer, digest, signature)) {
            revert InvalidAuthorizationSignature();
        }

        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    function _requireUnusedAuthorization(address authorizer, bytes32 nonce) private view {
        if (_authorizationStates[authorizer][nonce]) revert AuthorizationAlreadyUsed(authorizer, nonce);
    }
}
