/**
 * Gas of Verity's x402 batch-settlement contract at its canonical address, with payloads signed by
 * the real `@x402/evm` client (ERC-3009 deposits, vouchers) and the calls its facilitator sends
 * (`deposit`, `claimWithSignature` submitted by the facilitator, `settle`, `refundWithSignature`).
 * Figures: opening a channel (first deposit) and a top-up, one claim of 1 and of 100 channels,
 * settle, a refund, a timed withdrawal, and the busy-channel figures (a lone claim covering 1,000
 * requests, and that claim plus its settle, per request). The ERC-3009 nonce is random per run, so the deposit
 * calldata (and its gas) can move by a few gas between runs.
 */
import type { Network } from "@x402/core/types";
import { createBatchSettlementEIP3009DepositPayload, signVoucher } from "@x402/evm/batch-settlement/client";
import { encodeAbiParameters, type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import {
  X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS as COLLECTOR,
  X402_BATCH_SETTLEMENT_ADDRESS as SETTLEMENT,
} from "../../packages/chain/src/x402-batch-settlement.ts";
import { testUSDAbi, x402BatchSettlementAbi } from "../generated/index.ts";
import type { Fixture } from "../test/fixture.ts";

const NETWORK: Network = "eip155:31337";
const REQUESTS_ON_A_BUSY_CHANNEL = 1_000;

export async function measureX402Batch(t: TestChain, f: Fixture, report: Record<string, number>): Promise<void> {
  const payer = privateKeyToAccount(t.account("client-4").privateKey);
  const authorizer = privateKeyToAccount(t.account("validator-1").privateKey);
  const receiver = t.account("provider-1").address; // already holds tokens, like a live provider
  const token = f.addresses.token;
  const facilitator = f.wallet("gateway");
  const gasOf = async (hash: Promise<Hex>) => Number((await f.mined(hash)).gasUsed);
  const [, name, version] = await f.publicClient.readContract({
    address: token,
    abi: testUSDAbi,
    functionName: "eip712Domain",
  });
  const requirements = {
    scheme: "batch-settlement",
    network: NETWORK,
    asset: token,
    amount: "1000",
    payTo: receiver,
    maxTimeoutSeconds: 10 * 365 * 86_400, // the report advances chain time by days
    extra: { name, version, receiverAuthorizer: authorizer.address, withdrawDelay: 900 },
  };
  const deposit = 1_000_000n;
  await f.mint(payer.address, deposit * 200n);

  let salt = 0;
  const newConfig = () => ({
    payer: payer.address,
    payerAuthorizer: payer.address,
    receiver,
    receiverAuthorizer: authorizer.address,
    token,
    withdrawDelay: 900,
    salt: keccak256(toHex(`x402-gas-${salt++}`)),
  });
  type Config = ReturnType<typeof newConfig>;
  const depositTx = async (config: Config, amount: bigint) => {
    const { payload } = await createBatchSettlementEIP3009DepositPayload(
      payer,
      2,
      requirements,
      config,
      amount.toString(),
      "1",
    );
    const auth = (
      payload as {
        deposit: {
          authorization: {
            erc3009Authorization: { validAfter: string; validBefore: string; salt: Hex; signature: Hex };
          };
        };
      }
    ).deposit.authorization.erc3009Authorization;
    const collectorData = encodeAbiParameters(
      [{ type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "bytes" }],
      [BigInt(auth.validAfter), BigInt(auth.validBefore), BigInt(auth.salt), auth.signature],
    );
    return facilitator.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "deposit",
      args: [config, amount, COLLECTOR, collectorData],
    });
  };
  const channelId = (config: Config) =>
    f.publicClient.readContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "getChannelId",
      args: [config],
    });
  const claimTx = async (configs: Config[], total: bigint) => {
    const claims = await Promise.all(
      configs.map(async (config) => {
        const cap = total + total / 4n; // honest receivers claim less than the cap (usage < ceiling)
        const voucher = await signVoucher(payer, await channelId(config), cap.toString(), NETWORK);
        return {
          voucher: { channel: config, maxClaimableAmount: cap },
          signature: voucher.signature,
          totalClaimed: total,
        };
      }),
    );
    const digest = await f.publicClient.readContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "getClaimBatchDigest",
      args: [claims],
    });
    const signature = await authorizer.sign({ hash: digest });
    return facilitator.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "claimWithSignature",
      args: [claims, signature],
    });
  };
  const settleTx = () =>
    facilitator.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "settle",
      args: [receiver, token],
    });

  const first = newConfig();
  report["x402Batch.deposit.open"] = await gasOf(depositTx(first, deposit));
  report["x402Batch.deposit.topUp"] = await gasOf(depositTx(first, deposit));
  // Warm-up: the receiver's claimed total and token balance are non-zero (the steady state).
  await f.mined(claimTx([first], 1_000n));
  await f.mined(settleTx());

  const batch: Config[] = [];
  for (let i = 0; i < 100; i++) {
    const config = newConfig();
    await f.mined(depositTx(config, deposit));
    batch.push(config);
  }
  const one = await gasOf(claimTx([first], 2_000n));
  report["x402Batch.claim.1.total"] = one;
  const hundred = await gasOf(claimTx(batch, 250_000n));
  report["x402Batch.claim.100.total"] = hundred;
  report["x402Batch.claim.100.perChannel"] = Math.round(hundred / 100);
  report["x402Batch.claim.perExtraChannel"] = Math.round((hundred - one) / 99);
  const settle = await gasOf(settleTx());
  report["x402Batch.settle"] = settle;
  // A busy channel: 1,000 requests at 1,000 base units, one voucher, one claim, one settle.
  const busyClaim = await gasOf(claimTx([first], 2_000n + 1_000n * BigInt(REQUESTS_ON_A_BUSY_CHANNEL)));
  const busySettle = await gasOf(settleTx());
  report["x402Batch.busyChannel.claimPerRequest"] = Math.round(busyClaim / REQUESTS_ON_A_BUSY_CHANNEL);
  report["x402Batch.busyChannel.perRequest"] = Math.round((busyClaim + busySettle) / REQUESTS_ON_A_BUSY_CHANNEL);

  const refundConfig = batch[0] as Config;
  const refundId = await channelId(refundConfig);
  const refundDigest = await f.publicClient.readContract({
    address: SETTLEMENT,
    abi: x402BatchSettlementAbi,
    functionName: "getRefundDigest",
    args: [refundId, 0n, 100_000n],
  });
  report["x402Batch.refundWithSignature"] = await gasOf(
    facilitator.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "refundWithSignature",
      args: [refundConfig, 100_000n, 0n, await authorizer.sign({ hash: refundDigest })],
    }),
  );
  const payerWallet = f.wallet("client-4");
  report["x402Batch.initiateWithdraw"] = await gasOf(
    payerWallet.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "initiateWithdraw",
      args: [refundConfig, deposit],
    }),
  );
  await t.increaseTime(900);
  report["x402Batch.finalizeWithdraw"] = await gasOf(
    payerWallet.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "finalizeWithdraw",
      args: [refundConfig],
    }),
  );
}
