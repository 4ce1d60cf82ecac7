// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDepositCollector} from "./IDepositCollector.sol";

/// @title X402BatchSettlement
/// @notice Verity's implementation of the x402 `batch-settlement` scheme contract (the ABI that
/// the x402 EVM package calls at the canonical address 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003).
/// A payer funds a channel (`deposit`, through a collector), signs cumulative EIP-712
/// `Voucher(channelId, maxClaimableAmount)` caps off chain, and the receiver's authorizer claims
/// what was actually charged (`claim`, or `claimWithSignature` submitted by anyone) for many
/// channels at once. Claimed funds are paid to the receiver by `settle`, one transfer per receiver
/// and token. The unclaimed rest returns to the payer by a cooperative refund (signed by the
/// receiver's authorizer) or a timed withdrawal (`initiateWithdraw`, then `finalizeWithdraw` after
/// the channel's `withdrawDelay`).
/// @dev Channel accounting: `balance` is what the channel holds for claims (deposits minus refunds
/// and withdrawals) and `totalClaimed` the cumulative claimed part of it, so `totalClaimed <=
/// balance` always and `balance - totalClaimed` is refundable. Claimed funds stay counted in
/// `balance` and leave the contract through `settle`. No storage is set at construction: the
/// runtime code works at any address (EIP712 rebuilds its domain for `address(this)`).
contract X402BatchSettlement is EIP712, ReentrancyGuardTransient, Multicall {
    using SafeERC20 for IERC20;

    /// @notice Immutable terms of a channel; `channelId = getChannelId(config)`.
    struct ChannelConfig {
        address payer;
        address payerAuthorizer; // signs vouchers; zero: the payer signs (ECDSA or ERC-1271)
        address receiver;
        address receiverAuthorizer; // authorizes claims and refunds for the receiver
        address token;
        uint40 withdrawDelay;
        bytes32 salt;
    }

    /// @notice A cumulative cap signed for a channel.
    struct Voucher {
        ChannelConfig channel;
        uint128 maxClaimableAmount;
    }

    /// @notice A voucher presented for claiming: `totalClaimed` is the channel's new claimed total
    /// (what the receiver charged so far; at most the voucher's cap).
    struct VoucherClaim {
        Voucher voucher;
        bytes signature;
        uint128 totalClaimed;
    }

    /// @dev One slot: every claim reads and writes only this.
    struct ChannelState {
        uint128 balance;
        uint128 totalClaimed;
    }

    struct PendingWithdrawal {
        uint128 amount;
        uint40 initiatedAt;
    }

    struct ReceiverState {
        uint128 totalClaimed;
        uint128 totalSettled;
    }

    /// @notice EIP-712 type hash of `ChannelConfig` (the channel id is its typed-data hash).
    bytes32 public constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
    );
    /// @notice EIP-712 type hash of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)");
    /// @notice EIP-712 type hash of a cooperative refund.
    bytes32 public constant REFUND_TYPEHASH = keccak256("Refund(bytes32 channelId,uint256 nonce,uint128 amount)");
    /// @notice EIP-712 type hash of one entry of a claim batch.
    bytes32 public constant CLAIM_ENTRY_TYPEHASH =
        keccak256("ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)");
    /// @notice EIP-712 type hash of a claim batch signed by the receiver's authorizer.
    bytes32 public constant CLAIM_BATCH_TYPEHASH = keccak256(
        "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
    );
    /// @notice Shortest allowed withdraw delay (15 minutes).
    uint40 public constant MIN_WITHDRAW_DELAY = 900;
    /// @notice Longest allowed withdraw delay (30 days).
    uint40 public constant MAX_WITHDRAW_DELAY = 30 days;

    /// @notice Channel balance and claimed total by channel id.
    mapping(bytes32 channelId => ChannelState) public channels;
    /// @notice The payer's pending withdrawal by channel id (`initiatedAt` 0: none).
    mapping(bytes32 channelId => PendingWithdrawal) public pendingWithdrawals;
    /// @notice What each receiver has claimed and been paid, per token.
    mapping(address receiver => mapping(address token => ReceiverState)) public receivers;
    /// @notice Number of refunds made on a channel; a refund signature names the next one.
    mapping(bytes32 channelId => uint256) public refundNonce;

    /// @notice A channel was funded (opened or topped up).
    event Deposited(
        bytes32 indexed channelId, address indexed payer, address indexed collector, uint128 amount, uint128 balance
    );
    /// @notice A channel's claimed total rose to `totalClaimed` (the increase is the difference to
    /// the channel's previous `Claimed` total; kept to one topic and one word for claim gas).
    event Claimed(bytes32 indexed channelId, uint128 totalClaimed);
    /// @notice `amount` of `token` claimed for `receiver` was paid out; `sender` submitted it.
    event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
    /// @notice The payer asked to withdraw `amount` after the channel's withdraw delay.
    event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 withdrawableAt);
    /// @notice `amount` left the channel back to the payer after the withdraw delay.
    event Withdrawn(bytes32 indexed channelId, address indexed payer, uint128 amount);
    /// @notice `amount` left the channel back to the payer by a cooperative refund number `nonce`.
    event Refunded(bytes32 indexed channelId, address indexed payer, uint128 amount, uint256 nonce);

    /// @notice The amount must be positive.
    error ZeroAmount();
    /// @notice The channel's withdraw delay is outside 900 seconds to 30 days.
    /// @param withdrawDelay The rejected delay.
    error WithdrawDelayOutOfRange(uint40 withdrawDelay);
    /// @notice A channel needs a payer, receiver, receiver authorizer and token.
    error InvalidChannelConfig();
    /// @notice The collector delivered a different amount than the deposit.
    /// @param expected The deposit amount.
    /// @param received What the contract's token balance actually grew by.
    error DepositAmountMismatch(uint256 expected, uint256 received);
    /// @notice The channel has no funds (never opened, or emptied).
    /// @param channelId The channel.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The voucher's signature is not the payer authorizer's (or the payer's).
    /// @param channelId The voucher's channel.
    error InvalidVoucherSignature(bytes32 channelId);
    /// @notice A claim asks for more than its voucher's cap.
    /// @param channelId The channel.
    /// @param totalClaimed The claimed total asked for.
    /// @param maxClaimableAmount The voucher's cap.
    error ClaimExceedsVoucher(bytes32 channelId, uint128 totalClaimed, uint128 maxClaimableAmount);
    /// @notice A claim asks for more than the channel holds.
    /// @param channelId The channel.
    /// @param totalClaimed The claimed total asked for.
    /// @param balance The channel's balance.
    error ClaimExceedsBalance(bytes32 channelId, uint128 totalClaimed, uint128 balance);
    /// @notice The caller (or the claim-batch signer) is not the channel's receiver authorizer.
    /// @param channelId The channel.
    error NotReceiverAuthorizer(bytes32 channelId);
    /// @notice The receiver authorizer's signature does not match.
    error InvalidAuthorizerSignature();
    /// @notice A claim batch must hold at least one claim.
    error EmptyClaimBatch();
    /// @notice Nothing claimed is waiting to be paid to this receiver in this token.
    error NothingToSettle();
    /// @notice Only the channel's payer may start a withdrawal.
    /// @param channelId The channel.
    error NotPayer(bytes32 channelId);
    /// @notice The channel has no pending withdrawal.
    /// @param channelId The channel.
    error NoPendingWithdrawal(bytes32 channelId);
    /// @notice The withdraw delay has not passed yet.
    /// @param withdrawableAt When the withdrawal can be finalized.
    error WithdrawNotReady(uint256 withdrawableAt);
    /// @notice The refund signature names another refund number.
    /// @param expected The channel's next refund number.
    /// @param given The number the signature covers.
    error InvalidRefundNonce(uint256 expected, uint256 given);
    /// @notice Nothing unclaimed is left in the channel to return.
    /// @param channelId The channel.
    error NothingToRefund(bytes32 channelId);

    constructor() EIP712("x402 Batch Settlement", "1") {}

    // ---------------------------------------------------------------- deposits

    /// @notice Funds channel `config` with `amount` pulled by `collector` from the payer; opens the
    /// channel on its first deposit. Anyone may submit it: the collector's authorization binds the
    /// payer's tokens to this channel.
    /// @param config The channel's terms.
    /// @param amount Tokens to add.
    /// @param collector The deposit collector that pulls the tokens (e.g. the ERC-3009 collector).
    /// @param collectorData The collector's authorization data.
    function deposit(ChannelConfig calldata config, uint128 amount, address collector, bytes calldata collectorData)
        external
        nonReentrant
    {
        if (amount == 0) revert ZeroAmount();
        _requireValidConfig(config);
        bytes32 channelId = getChannelId(config);
        IERC20 token = IERC20(config.token);
        uint256 before = token.balanceOf(address(this));
        IDepositCollector(collector).collect(config.payer, config.token, amount, channelId, collectorData);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert DepositAmountMismatch(amount, received);
        ChannelState storage state = channels[channelId];
        uint128 balance = state.balance + amount;
        state.balance = balance;
        emit Deposited(channelId, config.payer, collector, amount, balance);
    }

    // ---------------------------------------------------------------- claims

    /// @notice Claims vouchers; the caller must be every channel's receiver authorizer.
    /// All-or-nothing: one invalid voucher reverts the whole batch. A claim at or below a
    /// channel's claimed total changes nothing (claims never lower it).
    /// @param voucherClaims The vouchers and the claimed totals to settle them to.
    function claim(VoucherClaim[] calldata voucherClaims) external nonReentrant {
        _claim(voucherClaims, msg.sender);
    }

    /// @notice Claims vouchers on the strength of a `ClaimBatch` signature by the receiver
    /// authorizer shared by every channel in the batch; anyone may submit it. Same rules as `claim`.
    /// @param voucherClaims The vouchers and the claimed totals to settle them to.
    /// @param authorizerSignature The receiver authorizer's EIP-712 `ClaimBatch` signature.
    function claimWithSignature(VoucherClaim[] calldata voucherClaims, bytes calldata authorizerSignature)
        external
        nonReentrant
    {
        if (voucherClaims.length == 0) revert EmptyClaimBatch();
        address authorizer = voucherClaims[0].voucher.channel.receiverAuthorizer;
        if (!SignatureChecker.isValidSignatureNowCalldata(
                authorizer, getClaimBatchDigest(voucherClaims), authorizerSignature
            )) {
            revert InvalidAuthorizerSignature();
        }
        _claim(voucherClaims, authorizer);
    }

    /// @notice Pays `receiver` everything claimed for it in `token` and not yet paid; anyone may call.
    /// @param receiver The receiver to pay.
    /// @param token The token.
    function settle(address receiver, address token) external nonReentrant {
        ReceiverState storage state = receivers[receiver][token];
        uint128 claimed = state.totalClaimed;
        uint128 amount = claimed - state.totalSettled;
        if (amount == 0) revert NothingToSettle();
        state.totalSettled = claimed;
        IERC20(token).safeTransfer(receiver, amount);
        emit Settled(receiver, token, msg.sender, amount);
    }

    // ---------------------------------------------------------------- withdrawals and refunds

    /// @notice The payer asks to withdraw up to `amount` of the unclaimed balance after the
    /// channel's withdraw delay (replacing any earlier request and restarting the delay). Until
    /// then the receiver can still claim its vouchers.
    /// @param config The channel's terms.
    /// @param amount Most the payer wants back.
    function initiateWithdraw(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        bytes32 channelId = getChannelId(config);
        if (msg.sender != config.payer) revert NotPayer(channelId);
        if (channels[channelId].balance == 0) revert ChannelNotFound(channelId);
        uint40 now_ = uint40(block.timestamp);
        pendingWithdrawals[channelId] = PendingWithdrawal(amount, now_);
        emit WithdrawInitiated(channelId, amount, now_ + config.withdrawDelay);
    }

    /// @notice Returns the requested withdrawal (at most the unclaimed balance) to the payer once
    /// the withdraw delay has passed; anyone may call.
    /// @param config The channel's terms.
    function finalizeWithdraw(ChannelConfig calldata config) external nonReentrant {
        bytes32 channelId = getChannelId(config);
        PendingWithdrawal memory pending = pendingWithdrawals[channelId];
        if (pending.initiatedAt == 0) revert NoPendingWithdrawal(channelId);
        uint256 withdrawableAt = uint256(pending.initiatedAt) + config.withdrawDelay;
        if (block.timestamp < withdrawableAt) revert WithdrawNotReady(withdrawableAt);
        delete pendingWithdrawals[channelId];
        ChannelState storage state = channels[channelId];
        uint128 available = state.balance - state.totalClaimed;
        uint128 amount = pending.amount < available ? pending.amount : available;
        if (amount > 0) {
            state.balance -= amount;
            IERC20(config.token).safeTransfer(config.payer, amount);
        }
        emit Withdrawn(channelId, config.payer, amount);
    }

    /// @notice Cooperative refund by the receiver authorizer: returns up to `amount` of the
    /// unclaimed balance to the payer at once.
    /// @param config The channel's terms.
    /// @param amount Most to return.
    function refund(ChannelConfig calldata config, uint128 amount) external nonReentrant {
        bytes32 channelId = getChannelId(config);
        if (msg.sender != config.receiverAuthorizer) revert NotReceiverAuthorizer(channelId);
        _refund(config, channelId, amount);
    }

    /// @notice Cooperative refund on the strength of the receiver authorizer's EIP-712
    /// `Refund(channelId, nonce, amount)` signature; anyone may submit it, once (`nonce` must be
    /// the channel's next refund number).
    /// @param config The channel's terms.
    /// @param amount Most to return.
    /// @param nonce The channel's next refund number.
    /// @param receiverAuthorizerSignature The receiver authorizer's signature.
    function refundWithSignature(
        ChannelConfig calldata config,
        uint128 amount,
        uint256 nonce,
        bytes calldata receiverAuthorizerSignature
    ) external nonReentrant {
        bytes32 channelId = getChannelId(config);
        uint256 expected = refundNonce[channelId];
        if (nonce != expected) revert InvalidRefundNonce(expected, nonce);
        if (!SignatureChecker.isValidSignatureNowCalldata(
                config.receiverAuthorizer, getRefundDigest(channelId, nonce, amount), receiverAuthorizerSignature
            )) {
            revert InvalidAuthorizerSignature();
        }
        _refund(config, channelId, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice The channel id: the EIP-712 typed-data hash of `config` in this contract's domain.
    /// @param config The channel's terms.
    /// @return The channel id.
    function getChannelId(ChannelConfig calldata config) public view returns (bytes32) {
        return _hashTypedDataV4(_channelStructHash(config));
    }

    /// @notice The EIP-712 digest a voucher signature covers.
    /// @param channelId The channel.
    /// @param maxClaimableAmount The cumulative cap.
    /// @return The digest.
    function getVoucherDigest(bytes32 channelId, uint128 maxClaimableAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, maxClaimableAmount)));
    }

    /// @notice The EIP-712 digest a refund signature covers.
    /// @param channelId The channel.
    /// @param nonce The refund number.
    /// @param amount Most to return.
    /// @return The digest.
    function getRefundDigest(bytes32 channelId, uint256 nonce, uint128 amount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REFUND_TYPEHASH, channelId, nonce, amount)));
    }

    /// @notice The EIP-712 `ClaimBatch` digest the receiver authorizer signs for `voucherClaims`.
    /// @param voucherClaims The claims, in order.
    /// @return The digest.
    function getClaimBatchDigest(VoucherClaim[] calldata voucherClaims) public view returns (bytes32) {
        bytes32 domain = _domainSeparatorV4();
        bytes32[] memory entries = new bytes32[](voucherClaims.length);
        for (uint256 i = 0; i < voucherClaims.length; i++) {
            VoucherClaim calldata c = voucherClaims[i];
            bytes32 channelId =
                MessageHashUtils.toTypedDataHash(domain, _channelStructHash(c.voucher.channel));
            entries[i] = keccak256(
                abi.encode(CLAIM_ENTRY_TYPEHASH, channelId, c.voucher.maxClaimableAmount, c.totalClaimed)
            );
        }
        return MessageHashUtils.toTypedDataHash(
            domain, keccak256(abi.encode(CLAIM_BATCH_TYPEHASH, keccak256(abi.encodePacked(entries))))
        );
    }

    // ---------------------------------------------------------------- internals

    function _claim(VoucherClaim[] calldata voucherClaims, address authorizer) private {
        bytes32 domain = _domainSeparatorV4();
        // Claims of consecutive entries for one receiver and token are added up and stored once.
        address receiver;
        address token;
        uint128 pending;
        for (uint256 i = 0; i < voucherClaims.length; i++) {
            VoucherClaim calldata c = voucherClaims[i];
            ChannelConfig calldata config = c.voucher.channel;
            bytes32 channelId = MessageHashUtils.toTypedDataHash(domain, _channelStructHash(config));
            if (config.receiverAuthorizer != authorizer) revert NotReceiverAuthorizer(channelId);
            uint128 cap = c.voucher.maxClaimableAmount;
            bytes32 digest =
                MessageHashUtils.toTypedDataHash(domain, keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cap)));
            if (!_validVoucherSignature(config, digest, c.signature)) revert InvalidVoucherSignature(channelId);
            uint128 total = c.totalClaimed;
            if (total > cap) revert ClaimExceedsVoucher(channelId, total, cap);
            ChannelState storage state = channels[channelId];
            ChannelState memory current = state;
            if (total > current.balance) revert ClaimExceedsBalance(channelId, total, current.balance);
            if (total <= current.totalClaimed) continue; // already claimed this far
            state.totalClaimed = total;
            emit Claimed(channelId, total);
            if (config.receiver != receiver || config.token != token) {
                if (pending != 0) receivers[receiver][token].totalClaimed += pending;
                (receiver, token, pending) = (config.receiver, config.token, 0);
            }
            pending += total - current.totalClaimed;
        }
        if (pending != 0) receivers[receiver][token].totalClaimed += pending;
    }

    function _refund(ChannelConfig calldata config, bytes32 channelId, uint128 amount) private {
        if (amount == 0) revert ZeroAmount();
        ChannelState storage state = channels[channelId];
        uint128 available = state.balance - state.totalClaimed;
        if (available == 0) revert NothingToRefund(channelId);
        uint128 refunded = amount < available ? amount : available;
        state.balance -= refunded;
        uint256 nonce = refundNonce[channelId]++;
        IERC20(config.token).safeTransfer(config.payer, refunded);
        emit Refunded(channelId, config.payer, refunded, nonce);
    }

    function _validVoucherSignature(ChannelConfig calldata config, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        address authorizer = config.payerAuthorizer;
        if (authorizer == address(0)) {
            return SignatureChecker.isValidSignatureNowCalldata(config.payer, digest, signature);
        }
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return err == ECDSA.RecoverError.NoError && recovered == authorizer;
    }

    function _requireValidConfig(ChannelConfig calldata config) private pure {
        if (config.withdrawDelay < MIN_WITHDRAW_DELAY || config.withdrawDelay > MAX_WITHDRAW_DELAY) {
            revert WithdrawDelayOutOfRange(config.withdrawDelay);
        }
        if (
            config.payer == address(0) || config.receiver == address(0) || config.receiverAuthorizer == address(0)
                || config.token == address(0)
        ) revert InvalidChannelConfig();
    }

    function _channelStructHash(ChannelConfig calldata config) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                CHANNEL_CONFIG_TYPEHASH,
                config.payer,
                config.payerAuthorizer,
                config.receiver,
                config.receiverAuthorizer,
                config.token,
                config.withdrawDelay,
                config.salt
            )
        );
    }
}
