/**
 * Dispute test helpers: provider-signed EIP-712 receipts (the packages/core types and domain), a
 * staked provider with a funded channel, a registered validator set, and the challenge / commit /
 * reveal / resolve steps of the dispute flow.
 */
import { type Address, type Hex, keccak256, maxUint256, parseEventLogs, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { type Receipt, receiptDomain, receiptTypes } from "../../packages/core/src/receipt.ts";
import { disputesAbi } from "../generated/index.ts";
import type { Fixture } from "./fixture.ts";

export type { Receipt };

export const VALIDATORS = ["validator-1", "validator-2", "validator-3", "validator-4", "validator-5"] as const;

/** Signs `receipt` in the receipt domain (PaymentChannels of `f`) with devnet account `signer`'s key. */
export function signReceipt(t: TestChain, f: Fixture, receipt: Receipt, signer: string | Hex): Promise<Hex> {
  const key = signer.startsWith("0x") ? (signer as Hex) : t.account(signer).privateKey;
  return privateKeyToAccount(key).signTypedData({
    domain: receiptDomain({ chainId: t.chain.id, verifyingContract: f.addresses.paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
}

/** The dispute parameters of the deployed Disputes contract. */
export async function disputeParams(f: Fixture) {
  const d = f.as("deployer").disputes;
  const [
    challengeBond,
    validatorBond,
    voterPenalty,
    slashAmount,
    rewardBps,
    committeeSize,
    commitWindow,
    revealWindow,
  ] = await Promise.all([
    d.read.challengeBond(),
    d.read.validatorBond(),
    d.read.voterPenalty(),
    d.read.slashAmount(),
    d.read.challengerRewardBps(),
    d.read.committeeSize(),
    d.read.commitWindow(),
    d.read.revealWindow(),
  ]);
  return {
    challengeBond,
    validatorBond,
    voterPenalty,
    slashAmount,
    rewardBps: BigInt(rewardBps),
    committeeSize,
    commitWindow,
    revealWindow,
  };
}

/**
 * Sets up a dispute scene on `f`: provider-1's agent (staked `stake`), a model, client-1's channel to
 * it, the five devnet validators registered (each with its own agent), challengers client-2 and
 * client-3 funded and approved.
 */
export async function disputeScene(t: TestChain, f: Fixture, stake: bigint) {
  const p = await disputeParams(f);
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 500);
  await f.fund(["provider-1"], stake, f.addresses.staking);
  await f.mined(f.as("provider-1").staking.write.stake([agentId, stake]));
  const config = f.channelConfig("client-1", agentId, modelId);
  const { channelId } = await f.openChannel("client-1", config, 10_000_000n);
  await f.fund([...VALIDATORS, "client-2", "client-3"], 1_000_000_000n, f.addresses.disputes);
  const validatorAgents = new Map<string, bigint>();
  for (const name of VALIDATORS) {
    const id = await f.registerAgent(name);
    validatorAgents.set(name, id);
    await f.mined(f.as(name).disputes.write.registerValidator([id]));
  }
  const nameOf = new Map<string, string>(VALIDATORS.map((n) => [t.account(n).address.toLowerCase(), n]));
  let nonce = 0;

  /** A receipt of the channel, timestamped at the latest block unless overridden. */
  async function receipt(overrides: Partial<Receipt> = {}): Promise<Receipt> {
    nonce += 1;
    const timestamp = (await f.publicClient.getBlock()).timestamp;
    return {
      requestId: keccak256(toHex(`request-${nonce}`)),
      channelId,
      modelId,
      promptHash: keccak256(toHex(`prompt-${nonce}`)),
      outputHash: keccak256(toHex(`output-${nonce}`)),
      paramsHash: keccak256(toHex("params")),
      promptTokens: 12,
      completionTokens: 34,
      charge: 1_000n,
      cumulativeCharged: 1_000n * BigInt(nonce),
      timestamp,
      ...overrides,
    };
  }

  /** Challenges a receipt (fresh unless given) signed by `signer` from `from`; returns the dispute id, committee names and receipt. */
  async function challenge(from = "client-2", r?: Receipt, signer = "provider-1") {
    const rcpt = r ?? (await receipt());
    const signature = await signReceipt(t, f, rcpt, signer);
    const tx = await f.mined(
      f
        .as(from)
        .disputes.write.challenge([
          rcpt,
          f.cfg(rcpt.channelId),
          signature,
          keccak256(toHex("evidence")),
          "ipfs://evidence",
        ]),
    );
    const [opened] = parseEventLogs({ abi: disputesAbi, logs: tx.logs, eventName: "ChallengeOpened" });
    if (!opened) throw new Error("no ChallengeOpened event");
    const { committee, drawTx } = await draw(opened.args.disputeId, from);
    return { disputeId: opened.args.disputeId, committee, receipt: rcpt, signature, tx, drawTx };
  }

  /** Mines the seed block of `disputeId` and draws its committee (from `from`); returns member names. */
  async function draw(disputeId: bigint, from = "client-2") {
    await t.testClient.mine({ blocks: 1 });
    const drawTx = await f.mined(f.as(from).disputes.write.drawCommittee([disputeId]));
    const [drawn] = parseEventLogs({ abi: disputesAbi, logs: drawTx.logs, eventName: "CommitteeDrawn" });
    if (!drawn) throw new Error("no CommitteeDrawn event");
    const committee = drawn.args.members.map((a) => nameOf.get(a.toLowerCase()) ?? a);
    return { committee, drawTx };
  }

  const salt = (voter: string) => keccak256(toHex(`salt-${voter}`));
  async function commit(disputeId: bigint, voter: string, guilty: boolean) {
    const commitment = await f
      .as(voter)
      .disputes.read.commitmentOf([disputeId, guilty, salt(voter), t.account(voter).address]);
    return f.mined(f.as(voter).disputes.write.commitVote([disputeId, commitment]));
  }
  async function reveal(disputeId: bigint, voter: string, guilty: boolean) {
    return f.mined(f.as(voter).disputes.write.revealVote([disputeId, guilty, salt(voter)]));
  }
  /** Commits every vote, moves past the commit window, reveals those in `reveals` (default: all). */
  async function vote(disputeId: bigint, votes: Record<string, boolean>, reveals?: readonly string[]) {
    for (const [voter, guilty] of Object.entries(votes)) await commit(disputeId, voter, guilty);
    await t.increaseTime(p.commitWindow + 1n);
    for (const [voter, guilty] of Object.entries(votes)) {
      if (!reveals || reveals.includes(voter)) await reveal(disputeId, voter, guilty);
    }
  }
  async function resolve(disputeId: bigint, from = "client-3") {
    return f.mined(f.as(from).disputes.write.resolve([disputeId]));
  }
  /** Every committee member votes guilty; the dispute is resolved from client-3. */
  async function convict(disputeId: bigint, committee: readonly string[]) {
    await vote(disputeId, Object.fromEntries(committee.map((m) => [m, true])));
    await toResolvable(disputeId);
    return resolve(disputeId);
  }
  /** The payer's claim of `amount` in total on `channel` (default: client-1's channel of the scene). */
  async function claim(amount: bigint, channel: Hex = channelId, payer = "client-1", claimer = "provider-1") {
    const c = await f.voucherClaim({ channelId: channel, cumulativeAmount: amount, signer: payer });
    return f.mined(f.as(claimer).channels.write.claim([[c]]));
  }
  async function toResolvable(disputeId: bigint) {
    const d = await f.as("deployer").disputes.read.getDispute([disputeId]);
    const end = BigInt(d.drawnAt) + p.commitWindow + p.revealWindow;
    const now = (await f.publicClient.getBlock()).timestamp;
    if (now <= end) await t.increaseTime(end - now + 1n);
  }

  return {
    p,
    agentId,
    modelId,
    channelId,
    validatorAgents,
    receipt,
    challenge,
    draw,
    salt,
    commit,
    reveal,
    vote,
    resolve,
    convict,
    claim,
    toResolvable,
    address: (name: string): Address => t.account(name).address,
    approveMax: (name: string) => f.approve(name, f.addresses.disputes, maxUint256),
  };
}

export type DisputeScene = Awaited<ReturnType<typeof disputeScene>>;
