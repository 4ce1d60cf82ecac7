/**
 * Settlement gas per paid request: Verity vouchers against x402 `exact`, in one run on one fresh
 * in-process chain (the production deployment) with the same token (TestUSD).
 *
 * - Vouchers: 100 clients × 100 requests to one provider (agent) = 100 channels, each opened with
 *   `openWithPermit` (one transaction per client, what the SDK sends). Each client's 100 requests end
 *   in its final voucher (cap = charged before the last request + its ceiling) and the charged total;
 *   the provider's agent owner claims the charged total per channel, as its claimer does, in one
 *   `claim` of 100 channels and (from the same pre-claim state, via a chain snapshot) in ten
 *   `claim`s of 10. Gas per request = claim gas / 10,000 requests; "incl. open" adds the open gas.
 * - x402 `exact`: the same requests paid by EIP-3009 `transferWithAuthorization` (the v, r, s
 *   overload the official facilitator sends for ECDSA signatures), one transaction per request: a
 *   sample of 200 from all 100 payers with fresh (unused, unique) nonces, sent by the facilitator; the mean
 *   stands for each of the 10,000.
 *
 * - A claim moves no tokens: it credits the provider's share and the fee to the agent's account and
 *   the royalty to the model owner, and `withdrawEarnings` / `collectFees` / `withdrawCredits` pay
 *   those out, each one transfer for any number of claims. Each batch round ends with the three
 *   payouts (checked against the split); their gas is reported beside the claim.
 * - One busy channel: the claim of one channel after a warm-up claim (channel, agent account and
 *   royalty credit already non-zero, as a busy provider's are), per 1,000 requests its voucher
 *   covers; then the provider's payout on its own, and a cycle of 10 such claims with the three
 *   payouts, amortised over the 10 claims.
 *
 * Provider, model owner and treasury already hold tokens (the steady state of a live provider), so
 * neither side pays a first-balance write. Gas is `gasUsed` from receipts (21,000 base and calldata
 * included) and deterministic on EDR; transactions are sent without waiting and mined in batches,
 * which leaves per-transaction gas unchanged (warm/cold access is per transaction). Every figure is
 * of successful settlements: receipts, channel state, authorization state and the token balances of
 * provider, model owner, treasury, escrow and payers are all checked against the expected split.
 */
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { agentRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, permitTypes, voucherDomain, voucherTypes } from "@verity/core";
import { authorizationTypes } from "@x402/evm";
import {
  type Abi,
  type Address,
  encodeFunctionData,
  type Hex,
  keccak256,
  type LocalAccount,
  parseEventLogs,
  parseSignature,
  type TransactionReceipt,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Target gas per request on one channel whose claim covers 1,000 requests. */
const BUSY_CHANNEL_ANCHOR = 71;
const CLIENTS = 100;
const REQUESTS_PER_CLIENT = 100;
const REQUESTS = CLIENTS * REQUESTS_PER_CLIENT;
const BATCH_SIZES = [100, 10] as const;
const X402_SAMPLE = 200;
/** Per-client escrow: 1 TUSD (6 decimals); every client also keeps 1 TUSD for its x402 payments. */
const DEPOSIT = 1_000_000n;
/** Per-request ceiling the client signs on top of what was already charged. */
const CEILING = 4_000n;
const ROYALTY_BPS = 500;
const MAX_FEE = 10n ** 9n;
const started = performance.now();

const log = (message: string) =>
  process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(1)}s ${message}\n`);

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`settlement-gas: ${message}`);
}

/** Deterministic per-request charges: 200–2,000 base units (0.0002–0.002 TUSD), as usage × price varies. */
let seed = 7;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const charges: bigint[][] = Array.from({ length: CLIENTS }, () =>
  Array.from({ length: REQUESTS_PER_CLIENT }, () => BigInt(200 + Math.floor(random() * 1801))),
);

const t = await createTestChain();
try {
  await run(t);
} finally {
  await t.close();
}

async function run(t: TestChain): Promise<void> {
  const { publicClient, testClient } = t;
  const deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { treasury: t.account("treasury").address },
  });
  const token = deployment.token.address;
  const channels = deployment.contracts.PaymentChannels.address;
  const providerOwner = t.account("provider-1").address;
  const modelOwner = t.account("modelOwner").address;
  const treasury = t.account("treasury").address;
  const facilitator = privateKeyToAccount(t.account("gateway").privateKey);
  const deployer = privateKeyToAccount(t.account("deployer").privateKey);
  const sender = t.wallet("gateway");
  const balanceOf = (who: Address) =>
    publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [who] });
  /** Token balances of provider, model owner, treasury and the escrow (PaymentChannels). */
  const balances = async () => {
    const [provider, royalty, fee, escrow] = await Promise.all(
      [providerOwner, modelOwner, treasury, channels].map(balanceOf),
    );
    return { provider: provider ?? 0n, royalty: royalty ?? 0n, fee: fee ?? 0n, escrow: escrow ?? 0n };
  };
  const channelViews = (list: readonly ChannelConfig[]) =>
    Promise.all(
      list.map((config) =>
        publicClient.readContract({
          address: channels,
          abi: paymentChannelsAbi,
          functionName: "getChannel",
          args: [config],
        }),
      ),
    );
  const creditsOf = async (agent: bigint) => {
    const [[earnings, fees], royalty] = await Promise.all([
      publicClient.readContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "earningsOf",
        args: [agent],
      }),
      publicClient.readContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "creditOf",
        args: [modelOwner],
      }),
    ]);
    return { earnings, fees, royalty };
  };
  const nonceOf = (who: Address) => publicClient.getTransactionCount({ address: who, blockTag: "pending" });

  type Tx = { from: LocalAccount; to: Address; abi: Abi; functionName: string; args: readonly unknown[] };
  /**
   * Signs `txs` (nonces counted per sender from the chain), sends them all with automine off, then
   * mines blocks until every one is in; returns the receipts in order, each checked successful.
   */
  async function mineTogether(txs: readonly Tx[], gas: bigint): Promise<TransactionReceipt[]> {
    const next = new Map<Address, number>();
    for (const tx of txs) {
      if (!next.has(tx.from.address)) next.set(tx.from.address, await nonceOf(tx.from.address));
    }
    const raws: Hex[] = [];
    for (const tx of txs) {
      const nonce = next.get(tx.from.address) ?? 0;
      next.set(tx.from.address, nonce + 1);
      raws.push(
        await tx.from.signTransaction({
          chainId: t.chain.id,
          type: "eip1559",
          to: tx.to,
          data: encodeFunctionData({ abi: tx.abi, functionName: tx.functionName, args: tx.args } as never),
          nonce,
          gas,
          maxFeePerGas: MAX_FEE,
          maxPriorityFeePerGas: 1n,
        }),
      );
    }
    await testClient.setAutomine(false);
    const hashes: Hex[] = [];
    try {
      for (const raw of raws) hashes.push(await sender.sendRawTransaction({ serializedTransaction: raw }));
      for (let round = 0; ; round++) {
        check(round < 50, "transactions were not mined");
        await testClient.mine({ blocks: 1 });
        if ((await publicClient.getTransactionReceipt({ hash: hashes.at(-1) as Hex }).catch(() => null)) === null) {
          continue;
        }
        const receipts = await Promise.all(
          hashes.map((hash) => publicClient.getTransactionReceipt({ hash }).catch(() => null)),
        );
        if (receipts.some((r) => r === null)) continue;
        const mined = receipts as TransactionReceipt[];
        for (const r of mined) check(r.status === "success", `transaction ${r.transactionHash} reverted`);
        return mined;
      }
    } finally {
      await testClient.setAutomine(true);
    }
  }
  const gasOf = (receipts: readonly TransactionReceipt[]) => receipts.reduce((sum, r) => sum + Number(r.gasUsed), 0);

  // The provider's agent and its model (5% royalty), both on the production contracts.
  const owner = t.wallet("provider-1");
  const registered = await publicClient.simulateContract({
    account: owner.account,
    address: deployment.contracts.AgentRegistry.address,
    abi: agentRegistryAbi,
    functionName: "register",
    args: ["https://provider-1.example/card.json"],
  });
  await publicClient.waitForTransactionReceipt({ hash: await owner.writeContract(registered.request) });
  const agentId = registered.result;
  const modelRegistration = await publicClient.simulateContract({
    account: t.wallet("modelOwner").account,
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [keccak256(toHex("bench-weights")), keccak256(toHex("bench-tokenizer")), ROYALTY_BPS, "", "bench-model"],
  });
  await publicClient.waitForTransactionReceipt({
    hash: await t.wallet("modelOwner").writeContract(modelRegistration.request),
  });
  const modelId = modelRegistration.result;
  const [feeBps, [royaltyTo, royaltyBps]] = await Promise.all([
    publicClient.readContract({ address: channels, abi: paymentChannelsAbi, functionName: "protocolFeeBps" }),
    publicClient.readContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "royaltyInfo",
      args: [modelId],
    }),
  ]);
  check(royaltyTo === modelOwner && royaltyBps === ROYALTY_BPS, "model royalty");

  // 100 clients: fresh payer keys (gas money set directly) and hot authorizer keys; TestUSD minted
  // to them and, for the steady state, to the provider, the model owner and the treasury.
  const payers = Array.from({ length: CLIENTS }, (_, i) =>
    privateKeyToAccount(keccak256(toHex(`settlement-gas-payer-${i}`))),
  );
  const authorizers = Array.from({ length: CLIENTS }, (_, i) =>
    privateKeyToAccount(keccak256(toHex(`settlement-gas-authorizer-${i}`))),
  );
  await Promise.all(payers.map((p) => testClient.setBalance({ address: p.address, value: 10n ** 18n })));
  const mint = (to: Address, amount: bigint): Tx => ({
    from: deployer,
    to: token,
    abi: testUSDAbi,
    functionName: "mint",
    args: [to, amount],
  });
  await mineTogether(
    [
      ...payers.map((p) => mint(p.address, 2n * DEPOSIT)),
      mint(providerOwner, DEPOSIT),
      mint(modelOwner, DEPOSIT),
      mint(treasury, DEPOSIT),
    ],
    100_000n,
  );
  log(`deployed, agent ${agentId}, model ${modelId}, ${CLIENTS} clients funded`);

  // Opening: one openWithPermit per client (permit for exactly the deposit, signed by the payer).
  const now = (await publicClient.getBlock()).timestamp;
  const configs: ChannelConfig[] = payers.map((p, i) => ({
    payer: p.address,
    payerAuthorizer: (authorizers[i] as LocalAccount).address,
    receiverAgentId: agentId,
    modelId,
    token,
    withdrawDelay: BigInt(deployment.params.minWithdrawDelay),
    salt: keccak256(toHex(`settlement-gas-channel-${i}`)),
    receiverSigner: providerOwner, // the agent has no wallet: its owner signs receipts
  }));
  const tokenDomain = {
    name: deployment.token.name,
    version: deployment.token.version,
    chainId: t.chain.id,
    verifyingContract: token,
  } as const;
  const opens: Tx[] = [];
  for (const [i, payer] of payers.entries()) {
    const deadline = now + 3_600n;
    const signature = await payer.signTypedData({
      domain: tokenDomain,
      types: permitTypes,
      primaryType: "Permit",
      message: { owner: payer.address, spender: channels, value: DEPOSIT, nonce: 0n, deadline },
    });
    const { v, r, s, yParity } = parseSignature(signature);
    opens.push({
      from: payer,
      to: channels,
      abi: paymentChannelsAbi,
      functionName: "openWithPermit",
      args: [configs[i], DEPOSIT, deadline, Number(v ?? BigInt(yParity + 27)), r, s],
    });
  }
  const openReceipts = await mineTogether(opens, 400_000n);
  const openGas = gasOf(openReceipts);
  const channelIds = configs.map((c) => channelIdOf(c));
  const opened = parseEventLogs({
    abi: paymentChannelsAbi,
    eventName: "ChannelOpened",
    logs: openReceipts.flatMap((r) => r.logs),
  });
  check(opened.length === CLIENTS, "one ChannelOpened per client");
  const views = await channelViews(configs);
  for (const [i, view] of views.entries()) {
    check(view.payer === payers[i]?.address && view.deposit === DEPOSIT, `channel ${i} opened with its deposit`);
    check(view.receiverAgentId === agentId && view.claimed === 0n, `channel ${i} is the provider's and unclaimed`);
  }
  log(`${CLIENTS} channels opened (${openGas.toLocaleString("en-US")} gas)`);

  // Each client's 100 requests: the last voucher is `charged before the last request + ceiling`,
  // signed by the authorizer; the provider charged the sum of actual usage (≤ the cap).
  const charged = charges.map((c) => c.reduce((a, b) => a + b, 0n));
  const domain = voucherDomain({ chainId: t.chain.id, verifyingContract: channels });
  const claims = await Promise.all(
    channelIds.map(async (channelId, i) => {
      const perRequest = charges[i] as bigint[];
      const cap = (charged[i] as bigint) - (perRequest.at(-1) as bigint) + CEILING;
      const amount = charged[i] as bigint;
      check(amount <= cap && amount <= DEPOSIT, "charged total within the cap and the deposit");
      const signature = await (authorizers[i] as LocalAccount).signTypedData({
        domain,
        types: voucherTypes,
        primaryType: "Voucher",
        message: { channelId, cumulativeAmount: cap },
      });
      return { config: configs[i] as ChannelConfig, cumulativeAmount: cap, amount, signature };
    }),
  );
  // The split the contract must pay, per channel (rounding down fee and royalty, as it does).
  const split = { provider: 0n, royalty: 0n, fee: 0n, total: 0n };
  for (const amount of charged) {
    const fee = (amount * BigInt(feeBps)) / 10_000n;
    const royalty = (amount * BigInt(royaltyBps)) / 10_000n;
    split.fee += fee;
    split.royalty += royalty;
    split.provider += amount - fee - royalty;
    split.total += amount;
  }

  // A chain snapshot can be restored once: each restore takes a fresh one for the next round.
  let beforeClaims = await t.snapshot();
  const claimGas = new Map<number, { gas: number; txs: number; payoutGas?: number }>();
  const providerKey = privateKeyToAccount(t.account("provider-1").privateKey);
  /** The three payouts, each its own transaction: provider earnings, treasury fees, royalty credits. */
  const payouts = (): Tx[] => [
    { from: providerKey, to: channels, abi: paymentChannelsAbi, functionName: "withdrawEarnings", args: [agentId] },
    { from: facilitator, to: channels, abi: paymentChannelsAbi, functionName: "collectFees", args: [[agentId]] },
    {
      from: privateKeyToAccount(t.account("modelOwner").privateKey),
      to: channels,
      abi: paymentChannelsAbi,
      functionName: "withdrawCredits",
      args: [modelOwner],
    },
  ];
  const payOut = () => mineTogether(payouts(), 200_000n);
  for (const [round, size] of BATCH_SIZES.entries()) {
    if (round > 0) {
      await beforeClaims();
      beforeClaims = await t.snapshot();
    }
    const before = await balances();
    const credited = await creditsOf(agentId);
    const txs: Tx[] = [];
    for (let i = 0; i < claims.length; i += size) {
      // Sent by the agent owner (only the receiver may claim: it chooses the amount).
      txs.push({
        from: privateKeyToAccount(t.account("provider-1").privateKey),
        to: channels,
        abi: paymentChannelsAbi,
        functionName: "claim",
        args: [claims.slice(i, i + size)],
      });
    }
    const receipts = await mineTogether(txs, 30_000_000n / BigInt(txs.length));
    const events = parseEventLogs({
      abi: paymentChannelsAbi,
      eventName: "Claimed",
      logs: receipts.flatMap((r) => r.logs),
    });
    check(events.length === CLIENTS, `one Claimed per channel (batch ${size})`);
    const credits = await creditsOf(agentId);
    check(credits.earnings - credited.earnings === split.provider, `provider credited its split (batch ${size})`);
    check(credits.royalty - credited.royalty === split.royalty, `model owner credited the royalty (batch ${size})`);
    check(credits.fees - credited.fees === split.fee, `fee credited for the treasury (batch ${size})`);
    check((await balances()).escrow === before.escrow, `claims move no tokens (batch ${size})`);
    const claimed = await channelViews(configs);
    for (const [i, view] of claimed.entries()) check(view.claimed === charged[i], `channel ${i} claimed in full`);
    const payoutReceipts = await payOut();
    const after = await balances();
    check(after.provider - before.provider === split.provider, `provider paid its split (batch ${size})`);
    check(after.royalty - before.royalty === split.royalty, `model owner paid the royalty (batch ${size})`);
    check(after.fee - before.fee === split.fee, `treasury paid the fee (batch ${size})`);
    check(before.escrow - after.escrow === split.total, `escrow released the charged total (batch ${size})`);
    claimGas.set(size, { gas: gasOf(receipts), txs: receipts.length, payoutGas: gasOf(payoutReceipts) });
    log(`claimed ${CLIENTS} channels in ${receipts.length} tx (${gasOf(receipts).toLocaleString("en-US")} gas)`);
  }

  // One busy channel (from the same pre-claim state): vouchers of channel 0 for growing totals,
  // each claim settling the next step. A warm-up claim and payout first, so the channel, the
  // agent's account and the royalty credit are non-zero, as a busy provider's are.
  await beforeClaims();
  const busyStep = 20_000n;
  let busyTotal = 0n;
  const busyClaim = async (): Promise<Tx> => {
    busyTotal += busyStep;
    check(busyTotal <= DEPOSIT, "busy channel within its deposit");
    const signature = await (authorizers[0] as LocalAccount).signTypedData({
      domain,
      types: voucherTypes,
      primaryType: "Voucher",
      message: { channelId: channelIds[0] as Hex, cumulativeAmount: busyTotal },
    });
    const claim = { config: configs[0] as ChannelConfig, cumulativeAmount: busyTotal, amount: busyTotal, signature };
    return { from: providerKey, to: channels, abi: paymentChannelsAbi, functionName: "claim", args: [[claim]] };
  };
  await mineTogether([await busyClaim()], 300_000n);
  const [busy] = await mineTogether([await busyClaim()], 300_000n);
  check(busy !== undefined, "the busy-channel claim");
  const busyCredits = await creditsOf(agentId);
  const [withdrawReceipt] = await mineTogether(payouts().slice(0, 1), 200_000n);
  check(withdrawReceipt !== undefined, "the provider's payout");
  const payoutGas = { withdrawEarnings: Number(withdrawReceipt.gasUsed), collectFees: 0, withdrawCredits: 0 };
  const providerBefore = await balanceOf(providerOwner);
  const [fees, credits] = await mineTogether(payouts().slice(1), 200_000n); // earnings were just paid
  check(fees !== undefined && credits !== undefined, "the treasury's and model owner's payouts");
  payoutGas.collectFees = Number(fees.gasUsed);
  payoutGas.withdrawCredits = Number(credits.gasUsed);
  check(busyCredits.earnings > 0n && (await balanceOf(providerOwner)) === providerBefore, "earnings paid once");
  check((await creditsOf(agentId)).earnings === 0n, "nothing left to withdraw");
  claimGas.set(1, { gas: Number(busy.gasUsed), txs: 1 });
  log(`claimed 1 busy channel (${busy.gasUsed.toLocaleString("en-US")} gas), payout ${payoutGas.withdrawEarnings} gas`);
  // A cycle of 10 claims, then the three payouts (the first claim re-creates the royalty credit).
  const CYCLE = 10;
  const cycleClaims: TransactionReceipt[] = [];
  for (let k = 0; k < CYCLE; k++) cycleClaims.push(...(await mineTogether([await busyClaim()], 300_000n)));
  const cycleEarnings = (await creditsOf(agentId)).earnings;
  const providerCycle0 = await balanceOf(providerOwner);
  const [cycleWithdraw, ...cycleRest] = await mineTogether(payouts(), 200_000n);
  check(cycleWithdraw !== undefined && cycleRest.length === 2, "the cycle's payouts");
  check((await balanceOf(providerOwner)) - providerCycle0 === cycleEarnings, "the cycle's earnings paid out");
  const cycle = {
    claims: gasOf(cycleClaims),
    withdrawEarnings: Number(cycleWithdraw.gasUsed),
    otherPayouts: gasOf(cycleRest),
  };
  log(`busy cycle: ${CYCLE} claims ${cycle.claims} gas, payouts ${cycle.withdrawEarnings} + ${cycle.otherPayouts} gas`);

  // x402 `exact`: 200 of the same requests, each its own transferWithAuthorization to the provider.
  const block = (await publicClient.getBlock()).timestamp;
  const sample: { from: LocalAccount; value: bigint; nonce: Hex; tx: Tx }[] = [];
  for (let k = 0; k < X402_SAMPLE; k++) {
    const from = payers[k % CLIENTS] as LocalAccount;
    const value = (charges[k % CLIENTS] as bigint[])[Math.floor(k / CLIENTS) % REQUESTS_PER_CLIENT] as bigint;
    const authorization = {
      from: from.address,
      to: providerOwner,
      value,
      validAfter: block - 600n,
      validBefore: block + 300n,
      nonce: keccak256(toHex(`settlement-gas-x402-${k}`)),
    };
    const signature = await from.signTypedData({
      domain: tokenDomain,
      types: authorizationTypes,
      primaryType: "TransferWithAuthorization",
      message: authorization,
    });
    const { v, r, s, yParity } = parseSignature(signature);
    sample.push({
      from,
      value,
      nonce: authorization.nonce,
      tx: {
        from: facilitator,
        to: token,
        abi: testUSDAbi,
        functionName: "transferWithAuthorization",
        args: [
          authorization.from,
          authorization.to,
          value,
          authorization.validAfter,
          authorization.validBefore,
          authorization.nonce,
          Number(v ?? BigInt(yParity + 27)),
          r,
          s,
        ],
      },
    });
  }
  const x402Provider0 = await balanceOf(providerOwner);
  const payers0 = await Promise.all(payers.map((p) => balanceOf(p.address)));
  const x402Receipts = await mineTogether(
    sample.map((p) => p.tx),
    150_000n,
  );
  const used = await Promise.all(
    sample.map((p) =>
      publicClient.readContract({
        address: token,
        abi: testUSDAbi,
        functionName: "authorizationState",
        args: [p.from.address, p.nonce],
      }),
    ),
  );
  check(
    used.every((u) => u),
    "every x402 authorization was used",
  );
  const paid = sample.reduce((sum, p) => sum + p.value, 0n);
  check((await balanceOf(providerOwner)) - x402Provider0 === paid, "the provider received every x402 payment");
  const payers1 = await Promise.all(payers.map((p) => balanceOf(p.address)));
  for (const [i, payer] of payers.entries()) {
    const spent = sample.filter((p) => p.from === payer).reduce((sum, p) => sum + p.value, 0n);
    check((payers0[i] as bigint) - (payers1[i] as bigint) === spent, `payer ${i} paid its x402 payments`);
  }
  const x402Gas = x402Receipts.map((r) => Number(r.gasUsed));
  const x402Mean = gasOf(x402Receipts) / x402Receipts.length;
  log(`${X402_SAMPLE} x402 transfers settled (mean ${x402Mean.toFixed(1)} gas)`);

  const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;
  const line = (metric: string, value: number, baseline: number | null, extra: Record<string, unknown>) =>
    console.log(
      JSON.stringify({
        bench: "settlement-gas",
        metric,
        value: round(value),
        unit: "gas",
        baseline: baseline === null ? null : round(baseline),
        ratio: baseline === null ? null : round(value / baseline, 5),
        ...extra,
      }),
    );
  line("gas_per_request_x402_exact", x402Mean, null, {
    requests: REQUESTS,
    sample: X402_SAMPLE,
    payers: CLIENTS,
    sampleMin: Math.min(...x402Gas),
    sampleMax: Math.max(...x402Gas),
    extrapolatedTotalGas: Math.round(x402Mean * REQUESTS),
  });
  for (const size of BATCH_SIZES) {
    const claimed = claimGas.get(size);
    if (!claimed) continue;
    const extra = {
      requests: REQUESTS,
      channels: CLIENTS,
      batchSize: size,
      claimTxs: claimed.txs,
      claimGasTotal: claimed.gas,
    };
    line(`gas_per_request_vouchers_batch${size}`, claimed.gas / REQUESTS, x402Mean, extra);
    line(`gas_per_request_vouchers_batch${size}_incl_open`, (claimed.gas + openGas) / REQUESTS, x402Mean, {
      ...extra,
      openGasTotal: openGas,
      openMethod: "openWithPermit",
    });
    const payout = claimed.payoutGas ?? 0;
    line(`gas_per_request_vouchers_batch${size}_incl_payout`, (claimed.gas + payout) / REQUESTS, x402Mean, {
      ...extra,
      payoutGasTotal: payout,
      payouts: "withdrawEarnings + collectFees + withdrawCredits, once for all channels",
    });
  }
  line("gas_per_channel_open", openGas / CLIENTS, null, { channels: CLIENTS, openMethod: "openWithPermit" });
  // One busy channel: a single-channel claim settles every request its latest voucher covers, so
  // at 1,000 requests per voucher the claim costs its gas / 1,000 per request (anchor: 71 gas).
  const single = claimGas.get(1);
  if (single) {
    const perClaim = single.gas / single.txs;
    line("gas_per_request_busy_channel_1000", perClaim / 1000, BUSY_CHANNEL_ANCHOR, {
      requestsPerVoucher: 1000,
      claimGas: Math.round(perClaim),
      anchor: "target for a claim covering 1,000 requests on one channel",
      after: "a warm-up claim (channel, agent account and royalty credit non-zero)",
    });
  }
  line("gas_withdraw_earnings", payoutGas.withdrawEarnings, null, {
    collectFeesGas: payoutGas.collectFees,
    withdrawCreditsGas: payoutGas.withdrawCredits,
    note: "one payout pays every claim credited since the last one",
  });
  const perCycle = (gas: number) => gas / CYCLE / 1000;
  line(
    "gas_per_request_busy_channel_1000_incl_payout",
    perCycle(cycle.claims + cycle.withdrawEarnings),
    BUSY_CHANNEL_ANCHOR,
    {
      claimsPerPayout: CYCLE,
      requestsPerVoucher: 1000,
      claimsGas: cycle.claims,
      withdrawEarningsGas: cycle.withdrawEarnings,
    },
  );
  line(
    "gas_per_request_busy_channel_1000_incl_all_payouts",
    perCycle(cycle.claims + cycle.withdrawEarnings + cycle.otherPayouts),
    BUSY_CHANNEL_ANCHOR,
    {
      claimsPerPayout: CYCLE,
      requestsPerVoucher: 1000,
      claimsGas: cycle.claims,
      payoutsGas: cycle.withdrawEarnings + cycle.otherPayouts,
      payouts: "withdrawEarnings + collectFees + withdrawCredits",
    },
  );
  log("done");
}
