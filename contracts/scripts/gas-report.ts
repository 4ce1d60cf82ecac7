/**
 * Gas report: deploys the contracts on a fresh in-process chain and measures `gasUsed` (from
 * receipts, so the 21,000 base and calldata are included) of the main operations, including one
 * `claim` settling 1, 10, 100 and 1,000 channels, and the x402 batch-settlement contract
 * (scripts/gas-x402-batch.ts) and the data market's dataset royalties (scripts/gas-datasets.ts). Gas is deterministic on EDR (but for the random ERC-3009 nonce of
 * an x402 deposit, a few gas).
 *
 *   node contracts/scripts/gas-report.ts           measure and write contracts/gas-snapshot.json
 *   node contracts/scripts/gas-report.ts --check   measure and fail if a figure moved more than 1%
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Hex, maxUint256, toHex } from "viem";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  gatewayDepositsAbi,
  gatewayDepositsBytecode,
  paymentChannelsAbi,
  stakingAbi,
  testUSDAbi,
} from "../generated/index.ts";
import { disputeScene } from "../test/disputes-helpers.ts";
import { deployFixture, type Fixture } from "../test/fixture.ts";
import { oracleScene } from "../test/oracle-helpers.ts";
import { signTransferWithAuthorization } from "../test/signing.ts";
import { measureDatasets } from "./gas-datasets.ts";
import { measureX402Batch } from "./gas-x402-batch.ts";

const snapshotPath = join(dirname(dirname(fileURLToPath(import.meta.url))), "gas-snapshot.json");
const TOLERANCE = 0.01;
const BATCH_SIZES = [1, 10, 100, 1000] as const;

type Report = Record<string, number>;

async function measure(): Promise<Report> {
  const t = await createTestChain();
  try {
    const report = await run(t, await deployFixture(t));
    await measureOracle(t, report);
    return report;
  } finally {
    await t.close();
  }
}

async function run(t: TestChain, f: Fixture): Promise<Report> {
  const report: Report = {};
  const channels = f.addresses.paymentChannels;
  const gasOf = async (hash: Promise<Hex>) => Number((await f.mined(hash)).gasUsed);
  const client = f.wallet("client-1");
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 500);
  const deposit = 1_000_000n;
  const totalChannels = 2 + BATCH_SIZES.reduce((a, b) => a + b, 0);
  await f.mint(t.account("client-1").address, deposit * BigInt(totalChannels + 10));
  await f.approve("client-1", channels, maxUint256);

  let salt = 0;
  const open = (withdrawDelay?: bigint) => {
    const config = f.channelConfig("client-1", agentId, modelId, {
      salt: salt++,
      ...(withdrawDelay === undefined ? {} : { withdrawDelay }),
    });
    return {
      config,
      hash: client.writeContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "open",
        args: [config, deposit],
      }),
    };
  };

  // Opening: the first channel of a payer to an agent (also records it for settledVolume).
  const first = open();
  report["paymentChannels.open"] = await gasOf(first.hash);
  const firstId = await f.channelIdOf(first.config);
  report["paymentChannels.openAnother"] = await gasOf(open().hash);

  const permitConfig = f.channelConfig("client-2", agentId, modelId);
  await f.mint(permitConfig.payer, deposit);
  const permit = await f.signPermit("client-2", channels, deposit, maxUint256);
  report["paymentChannels.openWithPermit"] = await gasOf(
    f.wallet("client-2").writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "openWithPermit",
      args: [permitConfig, deposit, maxUint256, permit.v, permit.r, permit.s],
    }),
  );
  report["paymentChannels.topUp"] = await gasOf(
    client.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "topUp",
      args: [first.config, deposit],
    }),
  );

  // Warm-up claim so provider, model owner and treasury already hold tokens (the steady state).
  // Each claim settles less than its voucher's cap, as an honest provider does (usage < ceiling).
  const claim = async (ids: Hex[], amount: bigint, from = "provider-1") => {
    const cumulativeAmount = amount + amount / 4n;
    const claims = await Promise.all(
      ids.map((channelId) => f.voucherClaim({ channelId, cumulativeAmount, amount, signer: "client-1" })),
    );
    return gasOf(
      t
        .wallet(from)
        .writeContract({ address: channels, abi: paymentChannelsAbi, functionName: "claim", args: [claims] }),
    );
  };
  await claim([firstId], 1_000n);

  // Batches: every channel is fresh and gets one voucher, all in one transaction.
  for (const size of BATCH_SIZES) {
    const ids: Hex[] = [];
    for (let i = 0; i < size; i++) {
      const o = open();
      await f.mined(o.hash);
      ids.push(await f.channelIdOf(o.config));
    }
    const gas = await claim(ids, 250_000n);
    report[`paymentChannels.claim.${size}.total`] = gas;
    report[`paymentChannels.claim.${size}.perChannel`] = Math.round(gas / size);
  }
  report["paymentChannels.claim.warm"] = await claim([firstId], 2_000n);
  // The same claim sent by an approved operator: the receiver check then asks the registry.
  await f.mined(f.as("provider-1").agents.write.setApprovalForAll([t.account("gateway").address, true]));
  report["paymentChannels.claim.warmByOperator"] = await claim([firstId], 3_000n, "gateway");

  // Payouts: claims credit the provider's share and the fee to the agent and the royalty to the
  // model owner. Each payout is measured the second time, when its recipient already holds tokens
  // (as a live provider, treasury and model owner do); the first time it pays ~17k more.
  const payouts = {
    withdrawEarnings: () =>
      gasOf(
        f.wallet("provider-1").writeContract({
          address: channels,
          abi: paymentChannelsAbi,
          functionName: "withdrawEarnings",
          args: [agentId],
        }),
      ),
    collectFees: () =>
      gasOf(
        f.wallet("validator-1").writeContract({
          address: channels,
          abi: paymentChannelsAbi,
          functionName: "collectFees",
          args: [[agentId]],
        }),
      ),
    withdrawCredits: () =>
      gasOf(
        f.wallet("modelOwner").writeContract({
          address: channels,
          abi: paymentChannelsAbi,
          functionName: "withdrawCredits",
          args: [t.account("modelOwner").address],
        }),
      ),
  };
  let settled = 3_000n;
  for (const [name, pay] of Object.entries(payouts)) {
    await pay();
    settled += 1_000n;
    await claim([firstId], settled);
    report[`paymentChannels.${name}`] = await pay();
  }

  report["paymentChannels.initiateWithdraw"] = await gasOf(
    client.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "initiateWithdraw",
      args: [first.config],
    }),
  );
  await t.increaseTime(f.params.minWithdrawDelay);
  report["paymentChannels.finalizeWithdraw"] = await gasOf(
    client.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "finalizeWithdraw",
      args: [first.config],
    }),
  );

  await measureStaking(t, f, agentId, modelId, report);
  report["x402.exact.transferWithAuthorization"] = await measureX402(t, f);
  await measureX402Batch(t, f, report);
  await measureGatewayDeposits(t, f, report);
  await measureDisputes(t, f, report);
  await measureDatasets(t, f, agentId, report);
  return report;
}

/**
 * The dispute flow: registering a validator, a challenge (checks, bond pull, draw scheduled), the
 * committee draw (3 out of 5, bond-weighted) from the next block, a commit, a reveal, and resolving guilty (slash to 3 recipients, pause, two registry records)
 * and not guilty (bond to the provider). The second dispute runs once every account is warm.
 */
async function measureDisputes(t: TestChain, f: Fixture, report: Report) {
  const s = await disputeScene(t, f, 1_000_000_000n);
  const gasOf = (receipt: { gasUsed: bigint }) => Number(receipt.gasUsed);
  await f.mined(f.as("validator-1").disputes.write.deregisterValidator());
  report["disputes.registerValidator"] = gasOf(
    await f.mined(f.as("validator-1").disputes.write.registerValidator([s.validatorAgents.get("validator-1") ?? 0n])),
  );
  await s.claim(5_000n); // the channel has paid: the guilty verdict refunds (and records the refund)
  for (const guilty of [true, false]) {
    const { disputeId, committee, tx, drawTx } = await s.challenge("client-2");
    const [a = "", b = "", c = ""] = committee;
    const suffix = guilty ? "guilty" : "notGuilty";
    if (guilty) {
      report["disputes.challenge"] = gasOf(tx);
      report["disputes.drawCommittee"] = gasOf(drawTx);
    }
    const commit = await s.commit(disputeId, a, guilty);
    await s.commit(disputeId, b, guilty);
    await s.commit(disputeId, c, !guilty);
    await t.increaseTime(s.p.commitWindow + 1n);
    const reveal = await s.reveal(disputeId, a, guilty);
    await s.reveal(disputeId, b, guilty);
    await s.reveal(disputeId, c, !guilty);
    if (guilty) {
      report["disputes.commitVote"] = gasOf(commit);
      report["disputes.revealVote"] = gasOf(reveal);
    }
    await s.toResolvable(disputeId);
    report[`disputes.resolve.${suffix}`] = gasOf(await s.resolve(disputeId));
  }
}

async function measureStaking(t: TestChain, f: Fixture, agentId: bigint, modelId: bigint, report: Report) {
  const staking = f.addresses.staking;
  const owner = f.wallet("provider-1");
  const gasOf = async (hash: Promise<Hex>) => Number((await f.mined(hash)).gasUsed);
  const amount = f.params.minStakePerOffer * 3n;
  await f.mint(t.account("provider-1").address, amount);
  await f.approve("provider-1", staking, maxUint256);
  report["staking.stake"] = await gasOf(
    owner.writeContract({ address: staking, abi: stakingAbi, functionName: "stake", args: [agentId, amount] }),
  );
  report["staking.addOffer"] = await gasOf(
    owner.writeContract({
      address: staking,
      abi: stakingAbi,
      functionName: "addOffer",
      args: [agentId, modelId, 150_000n, 600_000n, 4096, "https://provider-1.example/v1"],
    }),
  );
  report["staking.requestUnbond"] = await gasOf(
    owner.writeContract({
      address: staking,
      abi: stakingAbi,
      functionName: "requestUnbond",
      args: [agentId, f.params.minStakePerOffer],
    }),
  );
  await t.increaseTime(f.params.unbondingDelay);
  report["staking.withdraw"] = await gasOf(
    owner.writeContract({
      address: staking,
      abi: stakingAbi,
      functionName: "withdraw",
      args: [agentId, t.account("provider-1").address],
    }),
  );
}

/** What an x402 `exact` payment costs on-chain: one EIP-3009 `transferWithAuthorization`. */
async function measureX402(t: TestChain, f: Fixture): Promise<number> {
  const from = t.account("client-3");
  const to = t.account("provider-1").address; // already holds tokens, like a live provider
  const value = 10_000n;
  await f.mint(from.address, value * 10n);
  const nonce = toHex(1, { size: 32 });
  const message = { from: from.address, to, value, validAfter: 0n, validBefore: maxUint256, nonce };
  const { v, r, s } = await signTransferWithAuthorization(
    from.privateKey,
    { chainId: t.chain.id, verifyingContract: f.addresses.token },
    message,
  );
  const receipt = await f.mined(
    f.wallet("gateway").writeContract({
      address: f.addresses.token,
      abi: testUSDAbi,
      functionName: "transferWithAuthorization",
      args: [from.address, to, value, 0n, maxUint256, nonce, v, r, s],
    }),
  );
  return Number(receipt.gasUsed);
}

/**
 * A prepaid deposit to a gateway that already holds tokens: `deposit` after an approval, and
 * `depositWithPermit` (permit + deposit in one transaction, what `verity gateway deposit` sends).
 */
async function measureGatewayDeposits(t: TestChain, f: Fixture, report: Report) {
  const deposits = await t.deploy({ from: "deployer", abi: gatewayDepositsAbi, bytecode: gatewayDepositsBytecode });
  const gateway = t.account("gateway").address;
  const client = t.account("client-3").address;
  await f.mint(client, 1_000_000n);
  await f.mint(gateway, 1n);
  await f.approve("client-3", deposits, 100_000n);
  const gasOf = async (hash: Promise<Hex>) => Number((await f.mined(hash)).gasUsed);
  const wallet = f.wallet("client-3");
  report["gatewayDeposits.deposit"] = await gasOf(
    wallet.writeContract({
      address: deposits,
      abi: gatewayDepositsAbi,
      functionName: "deposit",
      args: [f.addresses.token, gateway, client, 100_000n],
    }),
  );
  const deadline = (await t.publicClient.getBlock()).timestamp + 600n;
  const { v, r, s } = await f.signPermit("client-3", deposits, 100_000n, deadline);
  report["gatewayDeposits.depositWithPermit"] = await gasOf(
    wallet.writeContract({
      address: deposits,
      abi: gatewayDepositsAbi,
      functionName: "depositWithPermit",
      args: [f.addresses.token, gateway, client, 100_000n, deadline, v, r, s],
    }),
  );
}

/**
 * The inference oracle on a deployment of its own: a request with an inline prompt (the second one,
 * with every account warm), its answer (receipt check, stake check, the answer stored), finalize
 * paying the royalty split and calling a callback that stores the answer, a challenge, and the
 * refund of an unanswered request.
 */
async function measureOracle(t: TestChain, report: Report) {
  const s = await oracleScene(t);
  const gasOf = (receipt: { gasUsed: bigint }) => Number(receipt.gasUsed);
  const warm = await s.request();
  await s.f.mined(s.answer(warm.requestId, warm.params));
  await t.increaseTime(s.challengeWindow + 1n);
  await s.f.mined(s.oracle("client-2").write.finalize([warm.requestId]));
  const { requestId, params, tx } = await s.request();
  report["inferenceOracle.request"] = gasOf(tx);
  report["inferenceOracle.answer"] = gasOf(await s.f.mined(s.answer(requestId, params)));
  await t.increaseTime(s.challengeWindow + 1n);
  report["inferenceOracle.finalizeWithCallback"] = gasOf(
    await s.f.mined(s.oracle("client-2").write.finalize([requestId])),
  );
  const challenged = await s.request();
  await s.f.mined(s.answer(challenged.requestId, challenged.params));
  report["inferenceOracle.challenge"] = gasOf(
    await s.f.mined(s.oracle("client-2").write.challenge([challenged.requestId])),
  );
  const unanswered = await s.request();
  await t.increaseTime(3601n);
  report["inferenceOracle.refund"] = gasOf(await s.f.mined(s.oracle("client-1").write.refund([unanswered.requestId])));
}

/** Prints snapshot vs current figures; returns the keys that moved more than the tolerance. */
function printTable(current: Report, committed: Report | undefined): string[] {
  const failures: string[] = [];
  const keys = [...new Set([...Object.keys(current), ...Object.keys(committed ?? {})])];
  const width = Math.max(...keys.map((k) => k.length));
  console.log(
    `${"operation".padEnd(width)}  ${"snapshot".padStart(10)}  ${"current".padStart(10)}  ${"diff".padStart(7)}`,
  );
  for (const key of keys) {
    const now = current[key];
    const then = committed?.[key];
    const diff = now !== undefined && then !== undefined && then !== 0 ? (now - then) / then : undefined;
    const cell = (n: number | undefined) => (n === undefined ? "-" : n.toLocaleString("en-US")).padStart(10);
    const pct = diff === undefined ? "-" : `${(diff * 100).toFixed(2)}%`;
    console.log(`${key.padEnd(width)}  ${cell(then)}  ${cell(now)}  ${pct.padStart(7)}`);
    if (now === undefined || then === undefined || Math.abs(diff ?? 0) > TOLERANCE) failures.push(key);
  }
  return failures;
}

function printComparison(report: Report): void {
  const perChannel = report["paymentChannels.claim.1000.perChannel"];
  const x402 = report["x402.exact.transferWithAuthorization"];
  if (perChannel === undefined || x402 === undefined) return;
  console.log(
    `\nclaim of 1,000 channels: ${perChannel.toLocaleString("en-US")} gas per channel vs x402 exact ` +
      `${x402.toLocaleString("en-US")} gas per payment (${(x402 / perChannel).toFixed(1)}x cheaper; and one ` +
      "voucher settles any number of requests).",
  );
  const batchOpen = report["x402Batch.deposit.open"];
  const batchExtra = report["x402Batch.claim.perExtraChannel"];
  const batchBusy = report["x402Batch.busyChannel.perRequest"];
  const batchBusyClaim = report["x402Batch.busyChannel.claimPerRequest"];
  if (batchOpen === undefined || batchExtra === undefined || batchBusy === undefined) return;
  if (batchBusyClaim === undefined) return;
  console.log(
    `x402 batch-settlement (Verity's contract): open ${batchOpen.toLocaleString("en-US")} gas ` +
      `(x402 publishes 111,738), ${batchExtra.toLocaleString("en-US")} gas per extra channel in a claim ` +
      `(≈19,200), ${batchBusyClaim} gas per request on a busy channel at 1,000 requests (≈71; ` +
      `${batchBusy} with its settle).`,
  );
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const started = performance.now();
  const report = await measure();
  const committed = existsSync(snapshotPath) ? (JSON.parse(readFileSync(snapshotPath, "utf8")) as Report) : undefined;
  const failures = printTable(report, committed);
  printComparison(report);
  console.log(`\nmeasured in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  if (check) {
    if (!committed) {
      console.error(`${snapshotPath} is missing: run \`npm run gas\` and commit it.`);
      process.exit(1);
    }
    if (failures.length > 0) {
      console.error(`gas moved more than ${TOLERANCE * 100}% for: ${failures.join(", ")} (run \`npm run gas\`).`);
      process.exit(1);
    }
    console.log("gas snapshot matches");
    return;
  }
  writeFileSync(snapshotPath, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${snapshotPath}`);
}

await main();
