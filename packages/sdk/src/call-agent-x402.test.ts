/**
 * x402 inside A2A tasks: a real provider, the official `@a2a-js/sdk` client (directly, and under
 * `callAgent`), and the unmodified `@x402/evm` batch-settlement client scheme producing the
 * a2a-x402 PaymentPayload. The provider settles it through its HTTP x402 door.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Role, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ServiceParameters, withA2AExtensions } from "@a2a-js/sdk/client";
import { testUSDAbi } from "@verity/contracts";
import { x402Client } from "@x402/core/client";
import { toClientEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/client";
import { type Address, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createX402AgentPayer } from "./agent-x402-payer.ts";
import { callAgent } from "./call-agent.ts";

const X402_EXTENSION = "https://github.com/google-agentic-commerce/a2a-x402/blob/main/spec/v0.2";
let p: TestProvider;

before(async () => {
  p = await startTestProvider();
  await mintTestUSD(p.t, p.deployment, "client-1", 50_000_000n);
});
after(async () => {
  await p?.close();
});

const registry = () => p.deployment.contracts.AgentRegistry.address;
const balanceOf = (who: Address) =>
  p.t.publicClient.readContract({
    address: p.deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [who],
  });

function batchClient(name: string) {
  const account = privateKeyToAccount(p.t.account(name).privateKey);
  return new x402Client()
    .register(
      `eip155:${p.t.chain.id}`,
      new BatchSettlementEvmScheme(toClientEvmSigner(account, p.t.publicClient as never), {
        salt: keccak256(toHex(`a2a-${name}`)),
        depositPolicy: { depositMultiplier: 20 },
      }),
    )
    .setSpendControls({
      allowedAssets: [
        { network: `eip155:${p.t.chain.id}`, asset: p.deployment.token.address, maxAmountPerPayment: "100000000" },
      ],
    });
}

/** One message over the official A2A client; the last status update's state and metadata. */
async function send(args: { metadata: Record<string, unknown>; taskId?: string; contextId?: string }) {
  const client = await new ClientFactory().createFromUrl(p.url);
  let last: { state: TaskState | undefined; meta: Record<string, unknown>; taskId: string; contextId: string } = {
    state: undefined,
    meta: {},
    taskId: "",
    contextId: "",
  };
  for await (const e of client.sendMessageStream(
    {
      tenant: "",
      configuration: undefined,
      metadata: undefined,
      message: {
        messageId: `m-${Math.random()}`,
        contextId: args.contextId ?? "",
        taskId: args.taskId ?? "",
        role: Role.ROLE_USER,
        parts: [
          { content: { $case: "text", value: "hello" }, metadata: undefined, filename: "", mediaType: "text/plain" },
        ],
        metadata: { maxTokens: 4, ...args.metadata },
        extensions: [],
        referenceTaskIds: [],
      },
    },
    { serviceParameters: ServiceParameters.create(withA2AExtensions(X402_EXTENSION)) },
  )) {
    const payload = e.payload;
    if (payload?.$case === "statusUpdate") {
      last = {
        state: payload.value.status?.state,
        meta: (payload.value.status?.message?.metadata ?? {}) as Record<string, unknown>,
        taskId: payload.value.taskId,
        contextId: payload.value.contextId,
      };
    }
  }
  return last;
}

test("an unpaid task's payment-required lists the Verity voucher and the x402 batch-settlement requirement", async () => {
  const asked = await send({ metadata: {} });
  assert.equal(asked.state, TaskState.TASK_STATE_INPUT_REQUIRED);
  const required = asked.meta["x402.payment.required"] as {
    x402Version: number;
    accepts: { scheme: string; payTo?: string; amount?: string }[];
  };
  assert.equal(required.x402Version, 2);
  assert.deepEqual(
    required.accepts.map((a) => a.scheme),
    ["verity-channel", "batch-settlement"],
  );
  assert.equal(required.accepts[1]?.payTo?.toLowerCase(), p.info.address.toLowerCase());
  assert.ok(BigInt(required.accepts[1]?.amount ?? "0") > 0n);
});

test("callAgent pays a task with an x402 batch-settlement payload; the settlement comes back as the receipt", async () => {
  const payer = p.t.account("client-1").address;
  const before = await balanceOf(payer);
  const x402 = createX402AgentPayer(batchClient("client-1"));
  const call = () =>
    callAgent({
      cardUrl: p.url,
      message: "Say something",
      maxTokens: 4,
      publicClient: p.t.publicClient as never,
      agentRegistry: registry(),
      payer: x402,
    });
  const first = await call();
  assert.ok(first.artifact.length > 0);
  assert.ok(first.charge > 0n);
  assert.equal(first.settlement?.success, true);
  assert.equal(first.receipt, undefined);
  assert.deepEqual(
    first.updates.map((u) => u.paymentStatus ?? u.state),
    ["submitted", "payment-required", "submitted", "payment-submitted", "payment-completed"],
  );
  // The client followed the channel: a second task is paid with the next cumulative voucher.
  const second = await call();
  assert.ok(second.charge > 0n);
  assert.equal(second.settlement?.success, true);
  const spent = before - (await balanceOf(payer));
  assert.ok(spent > 0n, "the deposit left the payer's wallet");
});

test("a payload that is neither a voucher nor an x402 PaymentPayload, or for a scheme not taken, fails the task unpaid", async () => {
  const asked = await send({ metadata: {} });
  const bogus = await send({
    metadata: { "x402.payment.payload": { scheme: "cash" } },
    taskId: asked.taskId,
    contextId: asked.contextId,
  });
  assert.deepEqual(
    [bogus.state, bogus.meta["x402.payment.status"], bogus.meta.code],
    [TaskState.TASK_STATE_FAILED, "payment-failed", "x402_payment_invalid"],
  );
  const exact = await send({
    metadata: {
      "x402.payment.payload": {
        x402Version: 2,
        accepted: { scheme: "exact", network: `eip155:${p.t.chain.id}` },
        payload: { signature: "0x00" },
      },
    },
  });
  assert.equal(exact.state, TaskState.TASK_STATE_FAILED);
  assert.equal(exact.meta.code, "x402_payment_invalid");
});
