import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { channelConfigOf, channelViewOf } from "@verity/chain/testing";
import { paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { encodeVoucherHeader, voucherDomain, voucherTypes } from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import { openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
let channelId: `0x${string}`;
let modelId: bigint;
const DEPOSIT = 50_000n;

before(async () => {
  p = await startTestProvider({ maxOutputTokens: 64 });
  modelId = p.info.models[0]?.modelId ?? 0n;
  channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-2",
    agentId: p.info.agentId,
    modelId,
    amount: DEPOSIT,
  });
});
after(async () => {
  await p.close();
});

async function sign(args: {
  amount: bigint;
  channel?: `0x${string}`;
  key?: string;
  chainId?: number;
  contract?: `0x${string}`;
}) {
  const account = privateKeyToAccount(p.t.account(args.key ?? "client-2").privateKey);
  const signature = await account.signTypedData({
    domain: voucherDomain({
      chainId: args.chainId ?? p.deployment.chainId,
      verifyingContract: args.contract ?? p.deployment.contracts.PaymentChannels.address,
    }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId: args.channel ?? channelId, cumulativeAmount: args.amount },
  });
  return encodeVoucherHeader({ channelId: args.channel ?? channelId, cumulativeAmount: args.amount, signature });
}

async function chat(args: { voucher?: string; body?: unknown; raw?: string }) {
  const response = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(args.voucher ? { "verity-voucher": args.voucher } : {}) },
    body:
      args.raw ??
      JSON.stringify(args.body ?? { model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 }),
  });
  const json = (await response.json()) as {
    error?: { code: string; hint?: string };
    payment?: Record<string, unknown>;
  };
  return { status: response.status, code: json.error?.code, json };
}

/** Everything a rejection must leave untouched: the provider's store and on-chain balances. */
async function snapshot() {
  const c = p.deployment.contracts;
  const channel = await channelViewOf({
    publicClient: p.t.publicClient,
    paymentChannels: c.PaymentChannels.address,
    channelId: channelId,
  });
  const escrow = await p.t.publicClient.readContract({
    address: p.deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [c.PaymentChannels.address],
  });
  return {
    store: p.provider.store?.totals(),
    charges: p.provider.store?.channel(channelId),
    claimed: channel.claimed,
    escrow,
  };
}

test("every bad request is refused with its status and reason code, and changes nothing", async () => {
  const good = await sign({ amount: 10_000n });
  const other = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-3",
    agentId: p.info.agentId,
    modelId,
    amount: 1_000n,
  });
  const cases: [string, () => Promise<{ status: number; code: string | undefined }>, number, string][] = [
    ["malformed JSON", () => chat({ voucher: good, raw: "{not json" }), 400, "invalid_json"],
    [
      "wrong shape",
      () => chat({ voucher: good, body: { model: "verity-tiny", messages: "hi" } }),
      400,
      "invalid_request",
    ],
    [
      "unknown model",
      () => chat({ voucher: good, body: { model: "gpt-9", messages: [{ role: "user", content: "hi" }] } }),
      404,
      "unknown_model",
    ],
    [
      "max_tokens over the offer",
      () =>
        chat({
          voucher: good,
          body: { model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 65 },
        }),
      400,
      "max_tokens_over_offer",
    ],
    [
      "prompt over the context window",
      () =>
        chat({
          voucher: good,
          body: { model: "verity-tiny", messages: [{ role: "user", content: "word ".repeat(5_000) }], max_tokens: 8 },
        }),
      413,
      "prompt_too_long",
    ],
    ["missing voucher", () => chat({}), 402, "payment_required"],
    ["garbage voucher", () => chat({ voucher: "%%%" }), 400, "voucher_malformed"],
    [
      "voucher signed by someone else",
      async () => chat({ voucher: await sign({ amount: 10_000n, key: "client-4" }) }),
      402,
      "voucher_signer_mismatch",
    ],
    [
      "voucher for another chain",
      async () => chat({ voucher: await sign({ amount: 10_000n, chainId: 1 }) }),
      402,
      "voucher_signer_mismatch",
    ],
    [
      "voucher for another contract",
      async () =>
        chat({ voucher: await sign({ amount: 10_000n, contract: "0x0000000000000000000000000000000000000001" }) }),
      402,
      "voucher_signer_mismatch",
    ],
    [
      "unknown channel",
      async () => chat({ voucher: await sign({ amount: 10_000n, channel: `0x${"12".repeat(32)}` }) }),
      402,
      "voucher_wrong_channel",
    ],
    [
      "another payer's channel signed by us",
      async () => chat({ voucher: await sign({ amount: 500n, channel: other }) }),
      402,
      "voucher_signer_mismatch",
    ],
    [
      "voucher above the escrow",
      async () => chat({ voucher: await sign({ amount: DEPOSIT + 1n }) }),
      402,
      "voucher_exceeds_escrow",
    ],
    [
      "malformed seed key",
      () =>
        chat({
          voucher: good,
          body: {
            model: "verity-tiny",
            messages: [{ role: "user", content: "hi" }],
            max_tokens: 8,
            verity: { seed_key: "0x1234", audit_commit: `0x${"ab".repeat(32)}` },
          },
        }),
      400,
      "seed_key_invalid",
    ],
    [
      "malformed audit commitment",
      () =>
        chat({
          voucher: good,
          body: {
            model: "verity-tiny",
            messages: [{ role: "user", content: "hi" }],
            max_tokens: 8,
            verity: { seed_key: `0x${"ab".repeat(32)}`, audit_commit: 7 },
          },
        }),
      400,
      "seed_key_invalid",
    ],
    [
      "seed fields that are not an object",
      () =>
        chat({
          voucher: good,
          body: { model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8, verity: "seed" },
        }),
      400,
      "seed_key_invalid",
    ],
    [
      "voucher below the request's ceiling",
      async () => chat({ voucher: await sign({ amount: 3n }) }),
      402,
      "voucher_below_ceiling",
    ],
  ];
  const before = await snapshot();
  for (const [name, run, status, code] of cases) {
    const result = await run();
    assert.equal(result.code, code, `${name}: got ${result.code}`);
    assert.equal(result.status, status, `${name}: status`);
  }
  assert.deepEqual(await snapshot(), before);
});

test("the 402 body says how to pay", async () => {
  const result = await chat({});
  assert.equal(result.status, 402);
  const payment = result.json.payment as {
    scheme: string;
    agentId: string;
    modelId: string;
    chainId: number;
    ceiling: string;
  };
  assert.equal(payment.scheme, "verity-channel");
  assert.equal(payment.agentId, p.info.agentId.toString());
  assert.equal(payment.modelId, modelId.toString());
  assert.equal(payment.chainId, p.deployment.chainId);
  assert.ok(BigInt(payment.ceiling) > 0n);
});

test("a replayed or non-monotonic voucher is refused after a paid request", async () => {
  const first = await sign({ amount: 5_000n });
  const ok = await chat({ voucher: first });
  assert.equal(ok.status, 200);
  const before = await snapshot();
  const replay = await chat({ voucher: first });
  assert.deepEqual([replay.status, replay.code], [409, "voucher_replayed"]);
  const charged = before.charges?.charged ?? 0n;
  assert.ok(charged > 0n);
  const stale = await chat({ voucher: await sign({ amount: charged - 1n }) });
  assert.deepEqual([stale.status, stale.code], [409, "voucher_not_monotonic"]);
  assert.deepEqual(await snapshot(), before);
});

test("a channel whose withdrawal is about to finalize is refused", async () => {
  const channel = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-5",
    agentId: p.info.agentId,
    modelId,
    amount: 10_000n,
  });
  const hash = await p.t.wallet("client-5").writeContract({
    address: p.deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "initiateWithdraw",
    args: [
      await channelConfigOf({
        publicClient: p.t.publicClient,
        paymentChannels: p.deployment.contracts.PaymentChannels.address,
        channelId: channel,
      }),
    ],
  });
  await p.t.publicClient.waitForTransactionReceipt({ hash });
  await p.t.increaseTime(3_600 - 60);
  await new Promise((r) => setTimeout(r, 300)); // the indexer polls every 50 ms in tests
  const result = await chat({ voucher: await sign({ amount: 5_000n, channel, key: "client-5" }) });
  assert.deepEqual([result.status, result.code], [402, "channel_withdrawing"]);
});
