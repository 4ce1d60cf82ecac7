// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {DisputesBase} from "./DisputesBase.sol";
import {IDisputeReputationRecorder, IDisputes, IDisputeValidationRecorder} from "./interfaces/IDisputes.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Staking} from "./Staking.sol";

/// @title Disputes
/// @notice The verification layer and the only address `Staking` accepts `slash` and `pauseOffers`
/// from. Anyone holding a provider-signed receipt may `challenge` it within Staking's `auditWindow`
/// (or an audit window after the channel's latest claim) by posting `challengeBond`; a committee of
/// `committeeSize` validators is drawn, weighted by bond, from the hash of a block mined after the
/// challenge (`drawCommittee`), commits votes during `commitWindow`, reveals them during
/// `revealWindow`, and anyone then `resolve`s: a strict majority of revealed "guilty" votes slashes the provider (payer refunded,
/// challenger rewarded, treasury the rest) and pauses its offers; anything else (tie, no reveals)
/// is "not guilty" and the challenge bond pays the provider.
/// @dev Committee randomness is the hash of the block after the challenge mixed with the dispute id
/// (`_randomSeed`): the challenger cannot know it when it challenges, but that block's producer can
/// withhold it to re-roll. Deployments where that matters override `_randomSeed` with a beacon / VRF.
contract Disputes is DisputesBase {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of a provider receipt.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 requestId,bytes32 channelId,uint256 modelId,bytes32 promptHash,bytes32 outputHash,"
        "bytes32 paramsHash,uint32 promptTokens,uint32 completionTokens,uint256 charge,uint256 cumulativeCharged,"
        "uint64 timestamp)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// @notice Tag of the registry entries a dispute verdict writes.
    string public constant OUTCOME_TAG = "verity-dispute";

    /// @notice Staking contract this contract slashes through.
    Staking public immutable staking;
    /// @notice Payment channels whose receipts are challenged (and the receipts' EIP-712 verifying contract).
    PaymentChannels public immutable paymentChannels;
    /// @notice Model registry receipts must name a model of.
    IModelRegistry public immutable modelRegistry;
    /// @notice ERC-8004 reputation registry a guilty verdict writes to.
    address public immutable reputationRegistry;
    /// @notice ERC-8004 validation registry a guilty verdict writes to.
    address public immutable validationRegistry;
    /// @notice Receives the slash left after refund and reward (PaymentChannels' treasury).
    address public immutable treasury;
    /// @notice How long after a receipt's timestamp it may be challenged (Staking's `auditWindow`).
    uint64 public immutable auditWindow;
    /// @notice Stake slashed on a guilty verdict: `min(stake, max(slashAmount, refundDue(disputeId)))`.
    uint256 public immutable slashAmount;
    /// @notice Challenger's share (bps) of the slash left after the payer's refund.
    uint16 public immutable challengerRewardBps;
    /// @notice Validators drawn per dispute.
    uint8 public immutable committeeSize;
    /// @notice Seconds after the challenge during which committee members commit.
    uint64 public immutable commitWindow;
    /// @notice Seconds after the commit window during which committee members reveal.
    uint64 public immutable revealWindow;

    /// @notice Wires the contract set and fixes the parameters; token, model registry and audit
    /// window come from `staking`, the treasury from `paymentChannels`.
    /// @dev Reverts `InvalidParameters` unless `1 <= committeeSize <= MAX_COMMITTEE`,
    /// `voterPenalty <= validatorBond`, `challengerRewardBps <= BPS`, both windows are non-zero and
    /// `commitWindow + revealWindow <= staking.disputeWindow()`.
    constructor(
        address staking_,
        address paymentChannels_,
        address agentRegistry_,
        address reputationRegistry_,
        address validationRegistry_,
        Params memory p
    ) DisputesBase(address(Staking(_nonZero(staking_)).token()), agentRegistry_, p) {
        if (paymentChannels_ == address(0) || reputationRegistry_ == address(0) || validationRegistry_ == address(0)) {
            revert ZeroAddress();
        }
        Staking s = Staking(staking_);
        if (
            p.committeeSize == 0 || p.committeeSize > MAX_COMMITTEE || p.challengerRewardBps > BPS
                || p.commitWindow == 0 || p.revealWindow == 0
                || uint256(p.commitWindow) + p.revealWindow > s.disputeWindow()
        ) revert InvalidParameters();
        staking = s;
        paymentChannels = PaymentChannels(paymentChannels_);
        modelRegistry = s.modelRegistry();
        reputationRegistry = reputationRegistry_;
        validationRegistry = validationRegistry_;
        treasury = PaymentChannels(paymentChannels_).treasury();
        auditWindow = s.auditWindow();
        slashAmount = p.slashAmount;
        challengerRewardBps = p.challengerRewardBps;
        committeeSize = p.committeeSize;
        commitWindow = p.commitWindow;
        revealWindow = p.revealWindow;
    }

    // ---------------------------------------------------------------- challenge

    /// @notice Challenges a provider-signed receipt, posting `challengeBond` (pulled with an allowance)
    /// and scheduling the committee draw from the next block (`drawCommittee` once it is mined).
    /// @dev Reverts `UnknownChannel`, `UnknownModel`, `ReceiptChannelMismatch`,
    /// `ReceiptSignatureInvalid` (not the channel's `receiverSigner`, fixed at open),
    /// `ChallengeWindowClosed` (past `challengeClosesAt`), `AlreadyChallenged`, `InsufficientBond`,
    /// `NotEnoughValidators` (fewer registered validators than seats), in that order. One dispute per signed receipt (its EIP-712 digest, which
    /// covers the request id and the channel).
    /// @param receipt The receipt as the provider signed it.
    /// @param channel Terms of the receipt's channel (its `ChannelOpened` event); must hash to `receipt.channelId`.
    /// @param providerSignature Signature of the channel's receipt signer (ECDSA or ERC-1271).
    /// @param evidenceHash Hash of the challenger's evidence (e.g. a re-execution transcript).
    /// @param evidenceURI Where the evidence can be fetched (emitted only).
    /// @return disputeId Id of the new dispute.
    function challenge(
        Receipt calldata receipt,
        IPaymentChannels.ChannelConfig calldata channel,
        bytes calldata providerSignature,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) external nonReentrant returns (uint256 disputeId) {
        return _challenge(receipt, channel, providerSignature, evidenceHash, evidenceURI);
    }

    /// @notice `challenge` with an EIP-2612 permit of the caller for this contract and `challengeBond`.
    /// @dev A failing permit (e.g. front-run) is ignored; the bond then needs an allowance.
    function challengeWithPermit(
        Receipt calldata receipt,
        IPaymentChannels.ChannelConfig calldata channel,
        bytes calldata providerSignature,
        bytes32 evidenceHash,
        string calldata evidenceURI,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 disputeId) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), challengeBond, deadline, v, r, s) {} catch {}
        return _challenge(receipt, channel, providerSignature, evidenceHash, evidenceURI);
    }

    /// @notice Draws the committee of `disputeId` from the hash of its seed block (anyone may call,
    /// once that block is mined). When the seed block is more than 256 blocks old its hash is gone:
    /// the draw is re-scheduled to the next block (`CommitteeDrawScheduled`) and nobody is drawn.
    /// The vote windows start at the draw.
    /// @dev Reverts `UnknownDispute`, `DisputeClosed`, `CommitteeAlreadyDrawn`, `SeedBlockNotMined`,
    /// `NotEnoughValidators` (eligible validators, stake-weighted, fewer than the committee size).
    /// @return drawn Whether the committee was drawn (false: re-scheduled).
    function drawCommittee(uint256 disputeId) external returns (bool drawn) {
        Dispute storage d = _openDispute(disputeId);
        if (d.drawnAt != 0) revert CommitteeAlreadyDrawn(disputeId);
        uint256 seedBlock = d.seedBlock;
        if (block.number <= seedBlock) revert SeedBlockNotMined(disputeId, seedBlock);
        uint256 seed = _randomSeed(disputeId, seedBlock);
        if (seed == 0) {
            d.seedBlock = uint64(block.number + 1);
            emit CommitteeDrawScheduled(disputeId, block.number + 1);
            return false;
        }
        address[] memory chosen = _draw(disputeId, d, seed);
        _committees[disputeId] = chosen;
        d.drawnAt = uint40(block.timestamp);
        emit CommitteeDrawn(disputeId, chosen, seed);
        return true;
    }

    // ---------------------------------------------------------------- votes

    /// @notice Commits the caller's vote on `disputeId` during the commit window (committee only).
    /// @param commitment `commitmentOf(disputeId, guilty, salt, msg.sender)`.
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        Dispute storage d = _openDispute(disputeId);
        uint256 commitEnd = _drawnAt(disputeId, d) + commitWindow;
        if (block.timestamp > commitEnd) revert CommitWindowClosed(disputeId, commitEnd);
        Vote storage v = _votes[disputeId][msg.sender];
        if (!v.member) revert NotOnCommittee(disputeId, msg.sender);
        if (v.committed) revert AlreadyCommitted(disputeId, msg.sender);
        v.committed = true;
        v.commitment = commitment;
        emit VoteCommitted(disputeId, msg.sender, commitment);
    }

    /// @notice Reveals the caller's committed vote on `disputeId` during the reveal window.
    /// @param guilty The vote committed to.
    /// @param salt The salt committed to.
    function revealVote(uint256 disputeId, bool guilty, bytes32 salt) external {
        Dispute storage d = _openDispute(disputeId);
        uint256 commitEnd = _drawnAt(disputeId, d) + commitWindow;
        uint256 revealEnd = commitEnd + revealWindow;
        if (block.timestamp <= commitEnd || block.timestamp > revealEnd) {
            revert NotRevealWindow(disputeId, commitEnd, revealEnd);
        }
        Vote storage v = _votes[disputeId][msg.sender];
        if (!v.committed) revert NotCommitted(disputeId, msg.sender);
        if (v.revealed) revert AlreadyRevealed(disputeId, msg.sender);
        if (commitmentOf(disputeId, guilty, salt, msg.sender) != v.commitment) {
            revert CommitmentMismatch(disputeId, msg.sender);
        }
        v.revealed = true;
        v.guilty = guilty;
        if (guilty) ++d.guiltyVotes;
        else ++d.notGuiltyVotes;
        emit VoteRevealed(disputeId, msg.sender, guilty);
    }

    // ---------------------------------------------------------------- resolve

    /// @notice Settles `disputeId` after its reveal window (anyone may call). Guilty iff revealed
    /// guilty votes outnumber not-guilty ones; see the contract notice for what each verdict pays.
    /// @return guilty The verdict.
    function resolve(uint256 disputeId) external nonReentrant returns (bool guilty) {
        Dispute storage d = _openDispute(disputeId);
        uint256 revealEnd = _drawnAt(disputeId, d) + commitWindow + revealWindow;
        if (block.timestamp <= revealEnd) revert RevealWindowOpen(disputeId, revealEnd);
        uint256 agentId = d.agentId;
        guilty = d.guiltyVotes > d.notGuiltyVotes;
        d.status = guilty ? Status.Guilty : Status.NotGuilty;
        --_openChallenges[agentId];
        uint256 unclaimedPenalties = _settleVoters(disputeId, guilty, d.guiltyVotes != d.notGuiltyVotes);
        if (guilty) {
            _punish(disputeId, d);
        } else {
            address provider = agentRegistry.getAgentWallet(agentId);
            if (provider == address(0)) provider = agentRegistry.ownerOf(agentId);
            emit DisputeResolved(disputeId, agentId, false, d.guiltyVotes, d.notGuiltyVotes, 0, 0, 0, 0, provider);
            if (challengeBond != 0) token.safeTransfer(provider, challengeBond);
        }
        if (unclaimedPenalties != 0) token.safeTransfer(treasury, unclaimedPenalties);
    }

    /// @notice Pays out the refund a guilty verdict on `disputeId` held back because the channel had
    /// not paid it yet (anyone may call; the money goes to the payer): as much of it as the channel
    /// has paid since, net of the channel's refunds. Once the channel is closed (nothing more can be
    /// claimed) what is still held goes to the treasury.
    /// @dev Reverts `NoRefundHeld` when nothing is held, `RefundNotReleasable` when the channel is
    /// open and has paid nothing more to refund.
    /// @return toPayer Refunded to the payer now.
    function releaseRefund(uint256 disputeId) external nonReentrant returns (uint256 toPayer) {
        uint256 held = heldRefundOf[disputeId];
        if (held == 0) revert NoRefundHeld(disputeId);
        Dispute storage d = _disputes[disputeId];
        bytes32 channelId = d.channelId;
        uint256 left = _unrefunded(channelId);
        toPayer = held < left ? held : left;
        (,,, bool closed,) = paymentChannels.channelState(channelId);
        uint256 toTreasury = closed ? held - toPayer : 0;
        if (toPayer == 0 && toTreasury == 0) revert RefundNotReleasable(disputeId);
        heldRefundOf[disputeId] = held - toPayer - toTreasury;
        refundedOf[channelId] += toPayer;
        emit RefundReleased(disputeId, channelId, toPayer, toTreasury);
        if (toPayer != 0) token.safeTransfer(d.payer, toPayer);
        if (toTreasury != 0) token.safeTransfer(treasury, toTreasury);
    }

    // ---------------------------------------------------------------- views

    /// @notice EIP-712 digest of `receipt` (domain `Verity Receipt` v1, this chain, PaymentChannels).
    function receiptHash(Receipt calldata receipt) public view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("Verity Receipt"),
                keccak256("1"),
                block.chainid,
                address(paymentChannels)
            )
        );
        return MessageHashUtils.toTypedDataHash(domain, keccak256(abi.encode(RECEIPT_TYPEHASH, receipt)));
    }

    /// @notice What the payer of `disputeId` is owed on a guilty verdict (before capping at the
    /// slash): `max(charge, min(cumulativeCharged, claimed))`, everything it paid on the channel up to
    /// and including the challenged answer, and at least that answer's charge.
    function refundOwed(uint256 disputeId) public view returns (uint256) {
        Dispute storage d = _disputes[disputeId];
        (, uint256 paid,,,) = paymentChannels.channelState(d.channelId);
        uint256 owed = d.cumulativeCharged < paid ? d.cumulativeCharged : paid;
        return owed > d.charge ? owed : d.charge;
    }

    /// @notice What a guilty verdict on `disputeId` pays its payer now (before capping at the slash):
    /// `refundOwed`, bounded by what the channel paid the provider (`claimed`) less what verdicts on
    /// the channel refunded already (`refundedOf`), so K disputes on one channel never refund more
    /// than it paid. The covered rest of `refundOwed` is held (`heldRefundOf`) for `releaseRefund`.
    function refundDue(uint256 disputeId) public view returns (uint256) {
        Dispute storage d = _disputes[disputeId];
        uint256 owed = refundOwed(disputeId);
        uint256 left = _unrefunded(d.channelId);
        return owed < left ? owed : left;
    }

    /// @notice When a receipt stamped `timestamp` on a channel last claimed at `lastClaimedAt` stops
    /// being challengeable: an audit window after the later of the two. The provider chooses the
    /// timestamp, but a claim is needed to be paid and the chain stamps it, so a claim re-opens the
    /// window for the receipts it pays.
    function challengeClosesAt(uint256 timestamp, uint256 lastClaimedAt) public view returns (uint256) {
        return (timestamp > lastClaimedAt ? timestamp : lastClaimedAt) + auditWindow;
    }

    /// @inheritdoc IDisputes
    function challengeableUntil(uint256 agentId) external view returns (uint256) {
        uint256 last = paymentChannels.agentLastClaimedAt(agentId);
        return last == 0 ? 0 : last + auditWindow;
    }

    /// @notice The commitment `voter` sends to `commitVote` for `guilty` with `salt`.
    function commitmentOf(uint256 disputeId, bool guilty, bytes32 salt, address voter) public pure returns (bytes32) {
        return keccak256(abi.encode(disputeId, guilty, salt, voter));
    }

    /// @notice Dispute `disputeId` (status `None` when it does not exist).
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @notice Committee of `disputeId`.
    function committeeOf(uint256 disputeId) external view returns (address[] memory) {
        return _committees[disputeId];
    }

    /// @notice `voter`'s vote on `disputeId` (`member`: whether it sits on the committee).
    function voteOf(uint256 disputeId, address voter) external view returns (Vote memory) {
        return _votes[disputeId][voter];
    }

    // ---------------------------------------------------------------- internals

    function _challenge(
        Receipt calldata receipt,
        IPaymentChannels.ChannelConfig calldata channel,
        bytes calldata providerSignature,
        bytes32 evidenceHash,
        string calldata evidenceURI
    ) private returns (uint256 disputeId) {
        if (paymentChannels.channelIdOf(channel) != receipt.channelId) revert UnknownChannel(receipt.channelId);
        PaymentChannels.ChannelView memory ch = paymentChannels.getChannel(channel);
        if (ch.payer == address(0)) revert UnknownChannel(receipt.channelId);
        try modelRegistry.royaltyInfo(receipt.modelId) returns (address, uint16) {}
        catch {
            revert UnknownModel(receipt.modelId);
        }
        if (receipt.modelId != ch.modelId) revert ReceiptChannelMismatch(receipt.channelId, receipt.modelId, ch.modelId);
        uint256 agentId = ch.receiverAgentId;
        bytes32 digest = receiptHash(receipt);
        // The signer was fixed when the channel opened: moving the agent or changing its wallet
        // later does not void receipts already signed.
        if (!SignatureChecker.isValidSignatureNow(ch.receiverSigner, digest, providerSignature)) {
            revert ReceiptSignatureInvalid(digest);
        }
        uint256 closesAt = challengeClosesAt(receipt.timestamp, ch.lastClaimedAt);
        if (closesAt < block.timestamp) revert ChallengeWindowClosed(digest, closesAt);
        uint256 existing = disputeOfReceipt[digest];
        if (existing != 0) revert AlreadyChallenged(digest, existing);
        uint256 allowance = token.allowance(msg.sender, address(this));
        uint256 balance = token.balanceOf(msg.sender);
        if (allowance < challengeBond || balance < challengeBond) {
            revert InsufficientBond(allowance < balance ? allowance : balance, challengeBond);
        }
        if (_validatorList.length < committeeSize) revert NotEnoughValidators(_validatorList.length, committeeSize);

        disputeId = ++disputeCount;
        uint64 seedBlock = uint64(block.number + 1);
        _disputes[disputeId] = Dispute({
            challenger: msg.sender,
            openedAt: uint40(block.timestamp),
            drawnAt: 0,
            status: Status.Open,
            payer: ch.payer,
            guiltyVotes: 0,
            notGuiltyVotes: 0,
            seedBlock: seedBlock,
            agentId: agentId,
            charge: receipt.charge,
            receiptHash: digest,
            channelId: receipt.channelId,
            cumulativeCharged: receipt.cumulativeCharged
        });
        disputeOfReceipt[digest] = disputeId;
        _receiverSigners[disputeId] = ch.receiverSigner;
        ++_openChallenges[agentId];
        emit ChallengeOpened(
            disputeId,
            agentId,
            msg.sender,
            digest,
            receipt.requestId,
            receipt.channelId,
            receipt.charge,
            challengeBond,
            evidenceHash,
            evidenceURI
        );
        emit CommitteeDrawScheduled(disputeId, seedBlock);
        if (challengeBond != 0) token.safeTransferFrom(msg.sender, address(this), challengeBond);
    }

    /// @dev Stake-weighted draw without replacement: each seat picks a validator with probability
    /// proportional to its bond among those left (bonds below `validatorBond` weigh nothing). A pick
    /// that may not sit is dropped without using the seat: the challenger, the channel's payer, the
    /// accused agent's owner, current wallet and fixed receipt signer, the accused agent itself, and
    /// a validator whose own agent the accused's owner holds. Operators approved by the accused are
    /// not excluded: approval needs no consent, so excluding them would let the accused veto every
    /// validator (its own keys can register without approval anyway; stake weight is the defence).
    function _draw(uint256 disputeId, Dispute storage d, uint256 seed) private returns (address[] memory chosen) {
        uint256 agentId = d.agentId;
        address[] memory pool = _validatorList;
        uint256 n = pool.length;
        uint256[] memory weights = new uint256[](n);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            uint256 bond = _validators[pool[i]].bond;
            if (bond >= validatorBond && bond != 0) {
                weights[i] = bond;
                total += bond;
            }
        }
        address owner = agentRegistry.ownerOf(agentId);
        address wallet = agentRegistry.getAgentWallet(agentId);
        address signer = _receiverSigners[disputeId];
        chosen = new address[](committeeSize);
        uint256 count;
        for (uint256 k; count < chosen.length && total != 0; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k))) % total;
            uint256 j;
            while (r >= weights[j]) {
                r -= weights[j];
                ++j;
            }
            address candidate = pool[j];
            total -= weights[j];
            weights[j] = 0;
            Validator storage v = _validators[candidate];
            if (
                candidate == d.challenger || candidate == d.payer || candidate == owner || candidate == wallet
                    || candidate == signer || v.agentId == agentId || agentRegistry.ownerOf(v.agentId) == owner
            ) continue;
            chosen[count++] = candidate;
            ++v.activeDuties;
            _votes[disputeId][candidate].member = true; // also pre-warms the vote slot the member commits to
        }
        if (count < chosen.length) revert NotEnoughValidators(count, chosen.length);
    }

    /// @dev Randomness of a committee draw: the hash of `seedBlock`, mined after the challenge, so
    /// the challenger cannot know it when choosing to challenge. Zero once the block is more than 256
    /// blocks old (the draw is then re-scheduled). A block producer can still withhold a block to
    /// re-roll; override with a beacon / VRF read where that matters.
    function _randomSeed(uint256 disputeId, uint256 seedBlock) internal view virtual returns (uint256) {
        bytes32 h = blockhash(seedBlock);
        if (h == bytes32(0)) return 0;
        return uint256(keccak256(abi.encode(h, disputeId, address(this))));
    }

    /// @dev Frees the committee and moves penalties to the members that revealed with the outcome
    /// (every revealer when the vote was not decisive). Returns penalties nobody earned (no reveals).
    function _settleVoters(uint256 disputeId, bool guilty, bool decisive) private returns (uint256 unclaimed) {
        address[] storage committee = _committees[disputeId];
        uint256 n = committee.length;
        bool[] memory wins = new bool[](n);
        uint256 winners;
        uint256 pool;
        for (uint256 i; i < n; ++i) {
            address voter = committee[i];
            Vote storage vote = _votes[disputeId][voter];
            Validator storage v = _validators[voter];
            --v.activeDuties;
            if (vote.revealed && (!decisive || vote.guilty == guilty)) {
                wins[i] = true;
                ++winners;
                continue;
            }
            uint256 penalty = v.bond < voterPenalty ? v.bond : voterPenalty;
            if (penalty == 0) continue;
            v.bond -= uint128(penalty);
            pool += penalty;
            emit VoterPenalized(disputeId, voter, penalty);
        }
        if (pool == 0) return 0;
        if (winners == 0) return pool;
        uint256 share = pool / winners;
        uint256 dust = pool - share * winners;
        for (uint256 i; i < n; ++i) {
            if (!wins[i]) continue;
            address voter = committee[i];
            uint256 amount = share + dust;
            dust = 0;
            _validators[voter].bond += uint128(amount);
            emit VoterRewarded(disputeId, voter, amount);
        }
    }

    /// @dev Guilty verdict: slash (payer refund, challenger reward, treasury rest), pause offers,
    /// return the bond, record the verdict in the ERC-8004 registries. The payer is owed what it paid
    /// on the channel up to and including the challenged answer (the receipt's `cumulativeCharged`,
    /// capped at what the channel has actually paid out), and never less than the answer's charge:
    /// a provider caught substituting once is presumed to have substituted on that channel before.
    function _punish(uint256 disputeId, Dispute storage d) private {
        uint256 agentId = d.agentId;
        uint256 owed = refundOwed(disputeId);
        (uint256 bonded, uint256 unbonding) = staking.stakeOf(agentId);
        uint256 target = slashAmount > owed ? slashAmount : owed;
        uint256 slashed = bonded + unbonding < target ? bonded + unbonding : target;
        uint256 owedCovered = slashed < owed ? slashed : owed;
        // Paid out now: only what the channel has paid and not yet had back; the rest is held here
        // until the channel pays it (a claim after the verdict) or closes (`releaseRefund`).
        uint256 due = refundDue(disputeId);
        uint256 refund = owedCovered < due ? owedCovered : due;
        uint256 held = owedCovered - refund;
        if (refund != 0) refundedOf[d.channelId] += refund;
        if (held != 0) {
            heldRefundOf[disputeId] = held;
            emit RefundHeld(disputeId, d.channelId, held);
        }
        uint256 reward = (slashed - owedCovered) * challengerRewardBps / BPS;
        uint256 rest = slashed - owedCovered - reward;
        address challenger = d.challenger;
        emit DisputeResolved(
            disputeId, agentId, true, d.guiltyVotes, d.notGuiltyVotes, slashed, refund, reward, rest, challenger
        );
        if (slashed != 0) {
            address[] memory recipients = new address[](4);
            uint256[] memory amounts = new uint256[](4);
            (recipients[0], recipients[1], recipients[2], recipients[3]) = (d.payer, address(this), challenger, treasury);
            (amounts[0], amounts[1], amounts[2], amounts[3]) = (refund, held, reward, rest);
            staking.slash(agentId, slashed, recipients, amounts);
        }
        staking.pauseOffers(agentId);
        if (challengeBond != 0) token.safeTransfer(challenger, challengeBond);
        bytes32 requestHash = keccak256(abi.encode(address(this), disputeId));
        try IDisputeValidationRecorder(validationRegistry).recordDisputeOutcome(
            agentId, requestHash, 0, "", d.receiptHash, OUTCOME_TAG
        ) {} catch {
            emit RegistryWriteFailed(disputeId, validationRegistry);
        }
        try IDisputeReputationRecorder(reputationRegistry).recordDisputeOutcome(
            agentId, -100, 0, OUTCOME_TAG, "guilty", "", d.receiptHash
        ) {} catch {
            emit RegistryWriteFailed(disputeId, reputationRegistry);
        }
    }

    /// @dev What `channelId` paid the provider and no verdict refunded yet.
    function _unrefunded(bytes32 channelId) private view returns (uint256) {
        (, uint256 paid,,,) = paymentChannels.channelState(channelId);
        uint256 refunded = refundedOf[channelId];
        return paid > refunded ? paid - refunded : 0;
    }

    function _drawnAt(uint256 disputeId, Dispute storage d) private view returns (uint256 drawnAt) {
        drawnAt = d.drawnAt;
        if (drawnAt == 0) revert CommitteeNotDrawn(disputeId);
    }

    function _openDispute(uint256 disputeId) private view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.status == Status.None) revert UnknownDispute(disputeId);
        if (d.status != Status.Open) revert DisputeClosed(disputeId);
    }

    function _nonZero(address a) private pure returns (address) {
        if (a == address(0)) revert ZeroAddress();
        return a;
    }
}
