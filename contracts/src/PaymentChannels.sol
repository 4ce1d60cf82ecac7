// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";

/// @title PaymentChannels
/// @notice Unidirectional payment channels from a payer to an agent (provider), settled with
/// cumulative EIP-712 vouchers `Voucher(bytes32 channelId,uint256 cumulativeAmount)` signed by the
/// channel's `payerAuthorizer` (an ECDSA key: smart-contract payers name an EOA session key).
/// A voucher is a cap: it is signed before a request runs, for what the channel has charged so far
/// plus the request's ceiling, and the receiver claims only what it actually charged (at most the
/// cap). Many channels settle in one `claim`; each increase is split between the provider (agent
/// wallet, else agent owner), the model owner (royalty) and the treasury (protocol fee).
contract PaymentChannels is IPaymentChannels, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A voucher presented for settlement: `cumulativeAmount` is the signed cap (what the
    /// `signature` covers), `amount` the channel's new claimed total the receiver settles to
    /// (what it actually charged; at most the cap).
    struct Claim {
        ChannelConfig config;
        uint256 cumulativeAmount;
        uint256 amount;
        bytes signature;
    }

    /// @notice Channel state as returned by `getChannel`.
    struct ChannelView {
        address payer;
        address payerAuthorizer;
        uint256 receiverAgentId;
        uint256 modelId;
        uint64 withdrawDelay;
        uint64 withdrawableAt;
        uint256 deposit;
        uint256 claimed;
        bool closed;
        uint64 lastClaimedAt; // block time of the latest claim that raised `claimed` (0: never claimed)
        address receiverSigner; // who signs the channel's receipts: the agent wallet at open, else the owner
    }

    /// @dev The mutable state of a channel, one storage slot: open writes it, a claim reads and
    /// writes it. The channel's terms are not stored: every call names its `ChannelConfig`, whose
    /// hash is the channel id, so a config that was not opened finds no state (`ChannelNotFound`).
    /// Deposits are non-zero from open on (a channel exists iff `deposit != 0`) and fit 96 bits.
    struct Channel {
        uint96 deposit;
        uint96 claimed;
        uint40 lastClaimedAt;
        bool closed;
    }

    /// @notice EIP-712 type hash of a voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");
    /// @notice Basis-point denominator of fees and royalties.
    uint256 public constant BPS = 10_000;

    /// @notice The only token channels are funded in.
    IERC20 public immutable token;
    /// @notice ERC-8004 identity registry; channel receivers are its agent ids.
    IAgentRegistry public immutable agentRegistry;
    /// @notice Model registry; royalties are read from it at claim time.
    IModelRegistry public immutable modelRegistry;
    /// @notice Receives the protocol fee.
    address public immutable treasury;
    /// @notice Protocol fee in basis points of every claimed increase.
    uint16 public immutable protocolFeeBps;
    /// @notice Shortest `withdrawDelay` a channel may use.
    uint64 public immutable minWithdrawDelay;
    /// @notice Longest `withdrawDelay` a channel may use.
    uint64 public immutable maxWithdrawDelay;

    /// @dev What a claim owes one agent, one storage slot written once per agent per claim: when it
    /// last claimed, its providers' share not withdrawn yet, and the protocol fee its claims raised
    /// and nobody has collected for the treasury yet.
    struct AgentAccount {
        uint40 lastClaimedAt;
        uint104 earnings;
        uint104 fees;
    }

    mapping(bytes32 channelId => Channel) private _channels;
    /// @notice When the pending withdrawal of `channelId` can be finalized (0: none pending).
    mapping(bytes32 channelId => uint256) public withdrawableAt;
    mapping(uint256 agentId => AgentAccount) private _accounts;
    /// @notice Royalties credited to `owner` (a model owner) by claims and not withdrawn yet.
    mapping(address owner => uint256) public creditOf;

    /// @notice A channel was opened with its full configuration and first deposit.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed payer,
        uint256 indexed receiverAgentId,
        address payerAuthorizer,
        uint256 modelId,
        address token,
        uint64 withdrawDelay,
        bytes32 salt,
        uint256 amount,
        address receiverSigner
    );
    /// @notice `from` added `amount` to the deposit, which is now `deposit`.
    event ChannelToppedUp(bytes32 indexed channelId, address indexed from, uint256 amount, uint256 deposit);
    /// @notice A claim settled: the channel has now paid out `cumulativeAmount` in total (the claimed amount,
    /// capped by the deposit) against a voucher signed for up to `voucherAmount`; `increase` was split three ways.
    event Claimed(
        bytes32 indexed channelId,
        uint256 indexed receiverAgentId,
        uint256 cumulativeAmount,
        uint256 voucherAmount,
        uint256 increase,
        uint256 providerAmount,
        uint256 royaltyAmount,
        uint256 feeAmount
    );
    /// @notice A credited dataset was paid its share of a model royalty settled by this claim call
    /// (one event per dataset and run of consecutive claims of the model); the model owner's
    /// `royaltyAmount` in `Claimed` includes it.
    event DatasetRoyaltyPaid(uint256 indexed datasetId, uint256 indexed modelId, address indexed to, uint256 amount);
    /// @notice A claim of a batch was not paid and moved nothing: `reason` is the selector of the
    /// custom error it fails with on its own (`ChannelNotFound`, `ChannelClosed`, `ClaimAboveVoucher`,
    /// `VoucherNotIncreasing`, `VoucherSignatureInvalid` or `NothingToClaim`).
    event ClaimSkipped(bytes32 indexed channelId, bytes4 reason);
    /// @notice `amount` of `agentId`'s earnings went to its wallet `to` (its agent wallet, else owner).
    event EarningsWithdrawn(uint256 indexed agentId, address indexed to, uint256 amount);
    /// @notice `amount` of protocol fees owed by the claims of the listed agents went to the treasury.
    event FeesCollected(address indexed treasury, uint256 amount);
    /// @notice `owner` withdrew `amount` of credited royalties to `to`.
    event CreditsWithdrawn(address indexed owner, address indexed to, uint256 amount);
    /// @notice The payer started withdrawing; the rest of the deposit is refundable from `withdrawableAt`.
    event WithdrawInitiated(bytes32 indexed channelId, uint64 withdrawableAt);
    /// @notice A top-up by the payer cancelled the pending withdrawal.
    event WithdrawCancelled(bytes32 indexed channelId);
    /// @notice The channel closed and `refund` went back to the payer.
    event WithdrawFinalized(bytes32 indexed channelId, uint256 refund);

    /// @notice A required address argument is zero.
    error ZeroAddress();
    /// @notice The protocol fee exceeds 100%.
    error InvalidFeeBps(uint16 bps);
    /// @notice The minimum withdraw delay exceeds the maximum, or the maximum exceeds 2^32 - 1 seconds.
    error InvalidWithdrawDelayRange(uint64 minDelay, uint64 maxDelay);
    /// @notice The config names a receipt signer other than the receiver agent's wallet (else owner) now.
    error ReceiverSignerMismatch(address expected, address given);
    /// @notice The channel names a token other than the payment token of this deployment.
    error UnsupportedToken(address token);
    /// @notice Only the channel payer may do this.
    error NotPayer(address caller);
    /// @notice The channel payer authorizer is the zero address.
    error InvalidPayerAuthorizer();
    /// @notice No agent with this id is registered (channels accept ids below 2^32).
    error UnknownAgent(uint256 agentId);
    /// @notice No model with this id is registered (channels accept ids below 2^32).
    error UnknownModel(uint256 modelId);
    /// @notice The channel withdraw delay is outside the range this deployment accepts.
    error WithdrawDelayOutOfRange(uint64 withdrawDelay);
    /// @notice The amount is zero.
    error ZeroAmount();
    /// @notice The channel deposit would exceed 2^96 - 1 base units.
    error DepositTooLarge(uint256 deposit);
    /// @notice A channel with this configuration is already open (change the salt).
    error ChannelExists(bytes32 channelId);
    /// @notice No channel with this id was opened.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The channel was withdrawn and closed.
    error ChannelClosed(bytes32 channelId);
    /// @notice The claim batch is empty.
    error NoClaims();
    /// @notice The claimed amount is not above what the channel already paid (stale or replayed claim).
    error VoucherNotIncreasing(bytes32 channelId, uint256 amount, uint256 claimed);
    /// @notice The claimed amount is above the cap the voucher was signed for.
    error ClaimAboveVoucher(bytes32 channelId, uint256 amount, uint256 cumulativeAmount);
    /// @notice Only the channel receiver (agent owner, approved operator or agent wallet) may claim.
    error NotReceiver(bytes32 channelId, address caller);
    /// @notice The voucher is not signed by the channel payer authorizer for this chain and contract.
    error VoucherSignatureInvalid(bytes32 channelId);
    /// @notice The channel deposit is fully claimed; the voucher can pay more only after a top-up.
    error NothingToClaim(bytes32 channelId);
    /// @notice Only the agent's receiver side (owner, approved operator or agent wallet) may withdraw its earnings.
    error NotAgentReceiver(uint256 agentId, address caller);
    /// @notice There is nothing credited to withdraw.
    error NothingToWithdraw();
    /// @notice The agent's uncollected earnings or fees would exceed 2^104 - 1 base units; withdraw first.
    error EarningsOverflow(uint256 agentId);
    /// @notice A withdrawal of this channel is already pending.
    error WithdrawAlreadyInitiated(bytes32 channelId);
    /// @notice No withdrawal of this channel was initiated.
    error WithdrawNotInitiated(bytes32 channelId);
    /// @notice The channel withdraw delay has not passed yet.
    error WithdrawNotReady(bytes32 channelId, uint64 withdrawableAt);

    /// @notice Fixes the payment token, registries, treasury, protocol fee and withdraw-delay range.
    /// @param token_ Payment token (must support EIP-2612 for the `*WithPermit` entry points).
    /// @param agentRegistry_ ERC-8004 identity registry (receivers are its agent ids).
    /// @param modelRegistry_ Model registry (royalties).
    /// @param treasury_ Receiver of the protocol fee.
    /// @param protocolFeeBps_ Protocol fee in basis points of every claimed increase.
    /// @param minWithdrawDelay_ Shortest `withdrawDelay` a channel may use.
    /// @param maxWithdrawDelay_ Longest `withdrawDelay` a channel may use.
    constructor(
        address token_,
        address agentRegistry_,
        address modelRegistry_,
        address treasury_,
        uint16 protocolFeeBps_,
        uint64 minWithdrawDelay_,
        uint64 maxWithdrawDelay_
    ) EIP712("Verity PaymentChannels", "1") {
        if (token_ == address(0) || agentRegistry_ == address(0) || modelRegistry_ == address(0)) {
            revert ZeroAddress();
        }
        if (treasury_ == address(0)) revert ZeroAddress();
        if (protocolFeeBps_ > BPS) revert InvalidFeeBps(protocolFeeBps_);
        if (minWithdrawDelay_ > maxWithdrawDelay_ || maxWithdrawDelay_ > type(uint32).max) {
            revert InvalidWithdrawDelayRange(minWithdrawDelay_, maxWithdrawDelay_);
        }
        token = IERC20(token_);
        agentRegistry = IAgentRegistry(agentRegistry_);
        modelRegistry = IModelRegistry(modelRegistry_);
        treasury = treasury_;
        protocolFeeBps = protocolFeeBps_;
        minWithdrawDelay = minWithdrawDelay_;
        maxWithdrawDelay = maxWithdrawDelay_;
    }

    // ---------------------------------------------------------------- opening and funding

    /// @notice Opens the channel described by `config` and deposits `amount` from the payer.
    /// @dev Caller must be `config.payer` and have approved `amount`. Reverts `ChannelExists` for a
    /// config used before (change `salt` to open another channel with the same terms).
    /// @return channelId `keccak256(abi.encode(config))`.
    function open(ChannelConfig calldata config, uint256 amount) external nonReentrant returns (bytes32 channelId) {
        channelId = _open(config, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice `open` with an EIP-2612 permit signed by the payer for this contract and `amount`.
    /// @dev A permit that fails (e.g. already used by a front-runner) is ignored; the transfer then
    /// needs an existing allowance.
    function openWithPermit(ChannelConfig calldata config, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (bytes32 channelId)
    {
        channelId = _open(config, amount);
        _permit(amount, deadline, v, r, s);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Adds `amount` to the deposit of the channel with terms `config`; anyone may top up.
    /// @dev A top-up by the payer cancels a pending withdrawal. A top-up by anyone else does not
    /// (otherwise dust top-ups could block the payer's withdrawal forever); it is refunded to the
    /// payer with the rest of the deposit.
    function topUp(ChannelConfig calldata config, uint256 amount) external nonReentrant {
        _topUp(config, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice `topUp` with an EIP-2612 permit signed by the caller for this contract and `amount`.
    function topUpWithPermit(
        ChannelConfig calldata config,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        _topUp(config, amount);
        _permit(amount, deadline, v, r, s);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice Settles many channels in one transaction. Each `Claim` names the channel by its
    /// terms (`config`; an unopened config is `ChannelNotFound`) and carries a voucher (the cap
    /// `cumulativeAmount` the payer's authorizer signed before the request ran: charged so far plus
    /// the request's ceiling) and `amount`, the channel's new claimed total (what the receiver
    /// actually charged, `amount <= cumulativeAmount`). The channel pays `min(amount, deposit)`
    /// minus what it already paid; the unused rest of the cap stays in escrow for the payer (later
    /// claims or the refund at `finalizeWithdraw`).
    /// @dev Only the receiver side of every channel may call: the receiver agent's owner, an
    /// approved operator (`IAgentRegistry.isAuthorized`) or its agent wallet; checked once per run
    /// of consecutive claims with the same agent. Each claim is checked in the order
    /// `ChannelNotFound`, `ChannelClosed`, `NotReceiver`, `ClaimAboveVoucher`,
    /// `VoucherNotIncreasing`, `VoucherSignatureInvalid`, `NothingToClaim`. A claim failing any
    /// check but `NotReceiver` is skipped with `ClaimSkipped(channelId, selector of that error)`
    /// and moves nothing; the others are paid, so one bad voucher cannot hold back a batch. When no
    /// claim of the batch is paid the call reverts with the first claim's precise error (a single
    /// claim behaves as before), and `NotReceiver` always reverts the whole call.
    /// A claim moves no tokens: each increase is credited inside this contract, split three ways
    /// (fee and royalty round down, the provider gets the exact rest): the provider's share and the
    /// protocol fee to the agent's account (one slot per agent, written once per run of its claims,
    /// with the claim time), the royalty to the model owner (`creditOf`, written once per run of
    /// claims with the same owner). The royalty of each run of consecutive claims of one model is
    /// split among the model's credited datasets (`DatasetRoyaltyPaid`, credited to each dataset's
    /// owner in `creditOf`): each gets `floor(royalty * shareBps / 10,000)`, the model owner the
    /// exact rest. `withdrawEarnings`, `collectFees` and `withdrawCredits` pay them
    /// out, one transfer for many claims. Sort claims by agent and model.
    function claim(Claim[] calldata claims) external nonReentrant {
        uint256 count = claims.length;
        if (count == 0) revert NoClaims();
        bytes32 domain = _domainSeparatorV4();
        uint256 feeBps = protocolFeeBps;

        uint256 agentId = type(uint256).max; // cache keys: no stored id reaches uint256 max
        uint256 modelId = type(uint256).max;
        address modelOwner;
        uint256 royaltyBps;
        uint256 earningsSum; // of the current agent's run, not booked yet
        uint256 feeSum;
        IModelRegistry.DatasetPayee[] memory payees; // the current model's credited datasets
        uint256 modelRoyalty; // royalty of the current run of claims of a model with credited datasets
        address royaltyTo;
        uint256 royaltySum;
        bool paid;
        bytes memory firstError; // revert data of the first skipped claim

        for (uint256 i; i < count; ++i) {
            Claim calldata c = claims[i];
            ChannelConfig calldata config = c.config;
            bytes32 channelId = channelIdOf(config);
            Channel storage ch = _channels[channelId];
            uint256 cap = c.cumulativeAmount;
            uint256 settled;
            uint256 increase;
            uint256 channelModel;
            {
                bytes memory failure;
                // The state slot is read once, before any call; the terms come from calldata.
                address authorizer = config.payerAuthorizer;
                uint256 channelAgent = config.receiverAgentId;
                channelModel = config.modelId;
                uint256 claimed = ch.claimed;
                uint256 deposit = ch.deposit;
                bool closed = ch.closed;
                uint256 amount = c.amount;
                if (deposit == 0) {
                    failure = abi.encodeWithSelector(ChannelNotFound.selector, channelId);
                } else if (closed) {
                    failure = abi.encodeWithSelector(ChannelClosed.selector, channelId);
                } else {
                    if (channelAgent != agentId) {
                        if (agentId != type(uint256).max) _book(agentId, earningsSum, feeSum);
                        agentId = channelAgent;
                        earningsSum = 0;
                        feeSum = 0;
                        if (
                            msg.sender != agentRegistry.getAgentWallet(channelAgent)
                                && !agentRegistry.isAuthorized(channelAgent, msg.sender)
                        ) {
                            revert NotReceiver(channelId, msg.sender);
                        }
                    }
                    if (amount > cap) {
                        failure = abi.encodeWithSelector(ClaimAboveVoucher.selector, channelId, amount, cap);
                    } else if (amount <= claimed) {
                        failure = abi.encodeWithSelector(VoucherNotIncreasing.selector, channelId, amount, claimed);
                    } else if (!_signedBy(domain, channelId, cap, c.signature, authorizer)) {
                        failure = abi.encodeWithSelector(VoucherSignatureInvalid.selector, channelId);
                    } else {
                        settled = amount < deposit ? amount : deposit;
                        if (settled <= claimed) failure = abi.encodeWithSelector(NothingToClaim.selector, channelId);
                    }
                }
                if (failure.length != 0) {
                    if (firstError.length == 0) firstError = failure;
                    emit ClaimSkipped(channelId, bytes4(failure));
                    continue;
                }
                increase = settled - claimed;
                ch.claimed = uint96(settled);
                ch.lastClaimedAt = uint40(block.timestamp);
            }
            if (channelModel != modelId) {
                // The previous model's run is over: pay its datasets their shares out of its royalty
                // (still in `royaltySum`, whose recipient is that model's owner).
                if (modelRoyalty != 0) {
                    royaltySum -= _payDatasets(modelId, payees, modelRoyalty);
                    modelRoyalty = 0;
                }
                modelId = channelModel;
                (modelOwner, royaltyBps, payees) = _royalty(channelModel, feeBps);
            }
            uint256 fee = increase * feeBps / BPS;
            uint256 royalty = increase * royaltyBps / BPS;
            uint256 provider = increase - fee - royalty;
            earningsSum += provider;
            feeSum += fee;
            if (royalty != 0) {
                if (modelOwner != royaltyTo) {
                    if (royaltySum != 0) creditOf[royaltyTo] += royaltySum;
                    royaltyTo = modelOwner;
                    royaltySum = 0;
                }
                royaltySum += royalty;
                if (payees.length != 0) modelRoyalty += royalty;
            }
            paid = true;
            emit Claimed(channelId, agentId, settled, cap, increase, provider, royalty, fee);
        }
        if (!paid) {
            // Every claim was skipped: revert with the first one's error.
            assembly ("memory-safe") {
                revert(add(firstError, 0x20), mload(firstError))
            }
        }
        if (modelRoyalty != 0) royaltySum -= _payDatasets(modelId, payees, modelRoyalty);
        _book(agentId, earningsSum, feeSum);
        if (royaltySum != 0) creditOf[royaltyTo] += royaltySum;
    }

    // ---------------------------------------------------------------- payouts

    /// @notice Pays `agentId`'s credited earnings to its wallet (the agent wallet, else its owner).
    /// @dev The agent's receiver side only (owner, approved operator or agent wallet), so nobody
    /// else picks when the tokens leave (e.g. just before the owner changes the wallet).
    /// @return amount What was paid.
    function withdrawEarnings(uint256 agentId) external nonReentrant returns (uint256 amount) {
        address wallet = _providerWallet(agentId);
        if (msg.sender != wallet && !agentRegistry.isAuthorized(agentId, msg.sender)) {
            revert NotAgentReceiver(agentId, msg.sender);
        }
        AgentAccount storage account = _accounts[agentId];
        amount = account.earnings;
        if (amount == 0) revert NothingToWithdraw();
        account.earnings = 0;
        emit EarningsWithdrawn(agentId, wallet, amount);
        token.safeTransfer(wallet, amount);
    }

    /// @notice Pays the protocol fees the listed agents' claims raised to the treasury.
    /// @dev Anyone may call: the fees can only go to `treasury`.
    /// @return amount What was paid.
    function collectFees(uint256[] calldata agentIds) external nonReentrant returns (uint256 amount) {
        for (uint256 i; i < agentIds.length; ++i) {
            AgentAccount storage account = _accounts[agentIds[i]];
            amount += account.fees;
            account.fees = 0;
        }
        if (amount == 0) revert NothingToWithdraw();
        emit FeesCollected(treasury, amount);
        token.safeTransfer(treasury, amount);
    }

    /// @notice Pays the royalties credited to the caller to `to`.
    /// @return amount What was paid.
    function withdrawCredits(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        amount = creditOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        creditOf[msg.sender] = 0;
        emit CreditsWithdrawn(msg.sender, to, amount);
        token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- withdrawal

    /// @notice Starts the channel's `withdrawDelay`; the provider can still claim until it ends.
    /// @dev Payer only. A later top-up by the payer cancels it.
    function initiateWithdraw(ChannelConfig calldata config) external {
        (bytes32 channelId,) = _existing(config);
        if (msg.sender != config.payer) revert NotPayer(msg.sender);
        if (withdrawableAt[channelId] != 0) revert WithdrawAlreadyInitiated(channelId);
        uint64 readyAt = uint64(block.timestamp) + config.withdrawDelay;
        withdrawableAt[channelId] = readyAt;
        emit WithdrawInitiated(channelId, readyAt);
    }

    /// @notice After the delay, refunds `deposit - claimed` to the payer and closes the channel for
    /// good (later claims and top-ups revert `ChannelClosed`). Anyone may call it: the refund always
    /// goes to the payer.
    function finalizeWithdraw(ChannelConfig calldata config) external nonReentrant {
        (bytes32 channelId, Channel storage ch) = _existing(config);
        uint64 readyAt = uint64(withdrawableAt[channelId]);
        if (readyAt == 0) revert WithdrawNotInitiated(channelId);
        if (block.timestamp < readyAt) revert WithdrawNotReady(channelId, readyAt);
        uint256 refund = uint256(ch.deposit) - ch.claimed;
        ch.closed = true;
        emit WithdrawFinalized(channelId, refund);
        _pay(config.payer, refund);
    }

    // ---------------------------------------------------------------- views

    /// @notice Terms and state of the channel with terms `config`; every field is zero when it was
    /// never opened (a config nobody opened has no state).
    function getChannel(ChannelConfig calldata config) external view returns (ChannelView memory view_) {
        bytes32 channelId = channelIdOf(config);
        Channel storage ch = _channels[channelId];
        if (ch.deposit == 0) return view_;
        return ChannelView({
            payer: config.payer,
            payerAuthorizer: config.payerAuthorizer,
            receiverAgentId: config.receiverAgentId,
            modelId: config.modelId,
            withdrawDelay: config.withdrawDelay,
            withdrawableAt: uint64(withdrawableAt[channelId]),
            deposit: ch.deposit,
            claimed: ch.claimed,
            closed: ch.closed,
            lastClaimedAt: ch.lastClaimedAt,
            receiverSigner: config.receiverSigner
        });
    }

    /// @notice Mutable state of `channelId` (all zero when it was never opened; `deposit != 0` for
    /// every opened channel). Its terms are in its `ChannelOpened` event.
    function channelState(bytes32 channelId)
        external
        view
        returns (uint256 deposit, uint256 claimed, uint64 lastClaimedAt, bool closed, uint64 withdrawableAt_)
    {
        Channel storage ch = _channels[channelId];
        return (ch.deposit, ch.claimed, ch.lastClaimedAt, ch.closed, uint64(withdrawableAt[channelId]));
    }

    /// @notice Block time of the latest claim by `agentId` on any of its channels (0: never claimed).
    /// `Staking` keeps the agent's last stake in place until the audit window after it has passed.
    function agentLastClaimedAt(uint256 agentId) external view returns (uint256) {
        return _accounts[agentId].lastClaimedAt;
    }

    /// @notice What `agentId`'s claims credited and nobody withdrew yet: its providers' share
    /// (`withdrawEarnings`) and the protocol fee owed to the treasury (`collectFees`).
    function earningsOf(uint256 agentId) external view returns (uint256 earnings, uint256 fees) {
        AgentAccount storage account = _accounts[agentId];
        return (account.earnings, account.fees);
    }

    /// @notice The id of the channel with terms `config`.
    function channelIdOf(ChannelConfig calldata config) public pure returns (bytes32) {
        return keccak256(abi.encode(config));
    }

    /// @inheritdoc IPaymentChannels
    function paymentOf(ChannelConfig calldata config)
        external
        view
        returns (bytes32 channelId, address payer, uint256 agentId, uint256 claimed)
    {
        channelId = channelIdOf(config);
        Channel storage ch = _channels[channelId];
        if (ch.deposit == 0) return (channelId, address(0), 0, 0);
        return (channelId, config.payer, config.receiverAgentId, ch.claimed);
    }

    /// @notice EIP-712 digest the payer's authorizer signs for a voucher.
    function hashVoucher(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32) {
        return _hashTypedDataV4(_voucherStructHash(channelId, cumulativeAmount));
    }

    /// @notice EIP-712 domain separator (`Verity PaymentChannels`, version `1`, this chain and contract).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    function _open(ChannelConfig calldata config, uint256 amount) private returns (bytes32 channelId) {
        if (msg.sender != config.payer) revert NotPayer(msg.sender);
        if (config.token != address(token)) revert UnsupportedToken(config.token);
        if (config.payerAuthorizer == address(0)) revert InvalidPayerAuthorizer();
        uint64 delay = config.withdrawDelay;
        if (delay < minWithdrawDelay || delay > maxWithdrawDelay) revert WithdrawDelayOutOfRange(delay);
        if (amount == 0) revert ZeroAmount();
        if (amount > type(uint96).max) revert DepositTooLarge(amount);
        uint256 agentId = config.receiverAgentId;
        uint256 modelId = config.modelId;
        if (agentId > type(uint32).max) revert UnknownAgent(agentId);
        address receiverSigner;
        try agentRegistry.ownerOf(agentId) returns (address owner) {
            if (owner == address(0)) revert UnknownAgent(agentId);
            receiverSigner = owner;
        } catch {
            revert UnknownAgent(agentId);
        }
        address agentWallet = agentRegistry.getAgentWallet(agentId);
        if (agentWallet != address(0)) receiverSigner = agentWallet;
        if (config.receiverSigner != receiverSigner) revert ReceiverSignerMismatch(receiverSigner, config.receiverSigner);
        if (modelId > type(uint32).max) revert UnknownModel(modelId);
        try modelRegistry.royaltyInfo(modelId) returns (address, uint16) {}
        catch {
            revert UnknownModel(modelId);
        }
        channelId = channelIdOf(config);
        Channel storage ch = _channels[channelId];
        if (ch.deposit != 0) revert ChannelExists(channelId);
        ch.deposit = uint96(amount);
        emit ChannelOpened(
            channelId,
            config.payer,
            agentId,
            config.payerAuthorizer,
            modelId,
            config.token,
            delay,
            config.salt,
            amount,
            receiverSigner
        );
    }

    function _topUp(ChannelConfig calldata config, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        (bytes32 channelId, Channel storage ch) = _existing(config);
        uint256 deposit = ch.deposit + amount;
        if (deposit > type(uint96).max) revert DepositTooLarge(deposit);
        ch.deposit = uint96(deposit);
        emit ChannelToppedUp(channelId, msg.sender, amount, deposit);
        if (msg.sender == config.payer && withdrawableAt[channelId] != 0) {
            withdrawableAt[channelId] = 0;
            emit WithdrawCancelled(channelId);
        }
    }

    /// @dev The channel with terms `config`, which must have been opened and not be closed.
    function _existing(ChannelConfig calldata config) private view returns (bytes32 channelId, Channel storage ch) {
        channelId = channelIdOf(config);
        ch = _channels[channelId];
        if (ch.deposit == 0) revert ChannelNotFound(channelId);
        if (ch.closed) revert ChannelClosed(channelId);
    }

    function _permit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }

    function _providerWallet(uint256 agentId) private view returns (address wallet) {
        wallet = agentRegistry.getAgentWallet(agentId);
        if (wallet == address(0)) wallet = agentRegistry.ownerOf(agentId);
    }

    /// @dev Royalty terms and credited datasets now, read once per run of claims of a model; the
    /// royalty is capped so fee + royalty never exceed the increase.
    function _royalty(uint256 modelId, uint256 feeBps)
        private
        view
        returns (address owner, uint256 bps, IModelRegistry.DatasetPayee[] memory payees)
    {
        (owner, bps, payees) = modelRegistry.royaltySplit(modelId);
        if (owner == address(0)) bps = 0;
        if (bps > BPS - feeBps) bps = BPS - feeBps;
    }

    /// @dev Adds a run of claims to `agentId`'s account in one slot write, stamped with the claim time.
    function _book(uint256 agentId, uint256 earnings, uint256 fees) private {
        AgentAccount memory account = _accounts[agentId];
        earnings += account.earnings;
        fees += account.fees;
        if (earnings > type(uint104).max || fees > type(uint104).max) revert EarningsOverflow(agentId);
        _accounts[agentId] = AgentAccount(uint40(block.timestamp), uint104(earnings), uint104(fees));
    }

    /// @dev Credits each credited dataset's owner `floor(royalty * shareBps / BPS)` of a model's `royalty` and
    /// returns the total paid; the model owner keeps the exact rest, so nothing is created or lost
    /// and rounding favours no contributor (each loses under one base unit). Shares add up to at
    /// most `BPS` (ModelRegistry enforces it), so the total never exceeds `royalty`.
    function _payDatasets(uint256 modelId, IModelRegistry.DatasetPayee[] memory payees, uint256 royalty)
        private
        returns (uint256 paid)
    {
        uint256 count = payees.length;
        for (uint256 i; i < count; ++i) {
            IModelRegistry.DatasetPayee memory payee = payees[i];
            uint256 amount = royalty * payee.shareBps / BPS;
            if (amount == 0) continue;
            paid += amount;
            creditOf[payee.owner] += amount;
            emit DatasetRoyaltyPaid(payee.datasetId, modelId, payee.owner, amount);
        }
    }

    function _pay(address to, uint256 amount) private {
        if (amount != 0) token.safeTransfer(to, amount);
    }

    /// @dev Whether `signature` is `authorizer`'s voucher for `cap` on `channelId` under `domain`.
    function _signedBy(bytes32 domain, bytes32 channelId, uint256 cap, bytes calldata signature, address authorizer)
        private
        pure
        returns (bool)
    {
        bytes32 digest = MessageHashUtils.toTypedDataHash(domain, _voucherStructHash(channelId, cap));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return err == ECDSA.RecoverError.NoError && signer == authorizer;
    }

    function _voucherStructHash(bytes32 channelId, uint256 cumulativeAmount) private pure returns (bytes32 h) {
        bytes32 typeHash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), channelId)
            mstore(add(ptr, 0x40), cumulativeAmount)
            h := keccak256(ptr, 0x60)
        }
    }
}
