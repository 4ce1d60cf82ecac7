import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createVerityClient, type VerityClient, type VerityClientOptions } from "./verity-client.ts";

let p: TestProvider;
const clients: VerityClient[] = [];
const messages = [{ role: "user" as const, content: "hello" }];

async function clientOf(account: string, extra: Partial<VerityClientOptions> = {}) {
  const client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account(account).privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-sdk-bad-")),
    indexerPollMs: 50,
    ...extra,
  });
  clients.push(client);
  await client.start();
  return client;
}

before(async () => {
  p = await startTestProvider();
});
after(async () => {
  for (const client of clients) await client.stop();
  await p.close();
});

test("an unknown model is unknown_model, naming the offered ones", async () => {
  const client = await clientOf("client-4", { autoOpen: { amount: 1_000_000n } });
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-9", messages }),
    (error: Error & { code: string }) => {
      assert.equal(error.code, "unknown_model");
      assert.match(error.message, /verity-tiny/);
      return true;
    },
  );
});

test("no offer under maxPrice is offer_over_max_price", async () => {
  const client = await clientOf("client-4", { maxPrice: { outputPerMTok: 1_000n } });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages }), {
    name: "RequestError",
    code: "offer_over_max_price",
  });
  await assert.rejects(
    client.chat.completions.create(
      { model: "verity-tiny", messages },
      { maxPrice: { inputPerMTok: 10n, outputPerMTok: 10n } },
    ),
    { code: "offer_over_max_price" },
  );
});

test("auto-open without the token balance is erc20_insufficient_balance, and nothing is left half-open", async () => {
  const client = await clientOf("client-5", { autoOpen: { amount: 1_000_000n } });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 }), {
    name: "PaymentError",
    code: "erc20_insufficient_balance",
  });
  assert.deepEqual(await client.channels(), []);
  await mintTestUSD(p.t, p.deployment, "client-5", 5_000_000n);
  const completion = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 });
  assert.equal((await client.channels())[0]?.charged, BigInt(completion.verity.charged));
});

test("without a channel and without autoOpen the request is no_channel_headroom", async () => {
  const client = await clientOf("client-5");
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 }), {
    name: "PaymentError",
    code: "no_channel_headroom",
  });
});

test("limits: max_tokens over the offer, a ceiling over the cap, malformed parameters", async () => {
  const client = await clientOf("client-5", { autoOpen: { amount: 100_000n }, maxCeiling: 100n });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 100_000 }), {
    code: "max_tokens_over_offer",
  });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 200 }), {
    code: "ceiling_over_cap",
  });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages: [] }), {
    code: "invalid_request",
  });
  await assert.rejects(client.completions.create({ model: "verity-tiny", prompt: "x", max_tokens: 0 }), {
    code: "invalid_request",
  });
  await assert.rejects(client.openChannel({ agentId: p.info.agentId, modelId: 1n, amount: 0n }), {
    code: "invalid_parameter",
  });
  await assert.rejects(client.openChannel({ agentId: 999n, modelId: 1n, amount: 1_000n }), {
    name: "ChainError",
    code: "unknown_agent",
  });
  assert.throws(() => createVerityClient({ ...({} as VerityClientOptions), stateDir: "/tmp/x" }), {
    code: "invalid_parameter",
  });
});

test("a provider's refusal keeps its reason code and gives the reservation back", async () => {
  const client = await clientOf("client-5", { autoOpen: { amount: 100_000n } });
  const long = "lorem ipsum ".repeat(400);
  await assert.rejects(
    client.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: long }],
      max_tokens: 8,
    }),
    { name: "RequestError", code: "prompt_too_long" },
  );
  const [channel] = await client.channels();
  assert.equal(channel?.pending, 0n);
  assert.equal(channel?.charged, 0n);
});
