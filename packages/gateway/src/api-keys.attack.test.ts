import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { type Deployment, keyScopeResources, keyStatement } from "@verity/core";
import { createGatewayKey, listGatewayKeys, revokeGatewayKey } from "@verity/sdk";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { createTestKey, fundedKey, keyBalance } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let gateway: Gateway;
let url: string;
let gatewayAddress: `0x${string}`;
let victimKey: string;
const chat = { model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 };

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const errorCode = async (res: Response) => ((await res.json()) as { error?: { code?: string } }).error?.code;

/** A sign-in message for the victim's address over a fresh nonce of `target`, signed by `signer`. */
async function signedMessage(args: { signer: string; address?: string; target?: string; gateway?: `0x${string}` }) {
  const target = args.target ?? url;
  const issued = (await (await fetch(`${target}/v1/keys/nonce`, { method: "POST" })).json()) as {
    nonce: string;
    gateway: `0x${string}`;
  };
  const host = new URL(target).host;
  const message = createSiweMessage({
    address: (args.address ?? t.account(args.signer).address) as `0x${string}`,
    chainId: deployment.chainId,
    domain: host,
    uri: `http://${host}`,
    nonce: issued.nonce,
    version: "1",
    issuedAt: new Date(),
    statement: keyStatement(args.gateway ?? issued.gateway),
    resources: keyScopeResources({ gateway: args.gateway ?? issued.gateway }),
  });
  const signature = await privateKeyToAccount(t.account(args.signer).privateKey).signMessage({ message });
  return { message, signature };
}

/** The maximum price the gateway holds for `chat`: the amount of its x402 payment requirement. */
async function maxPriceOf(body: unknown): Promise<bigint> {
  const res = await post("/v1/chat/completions", body);
  assert.equal(res.status, 402);
  const header = res.headers.get("payment-required") ?? "";
  const required = JSON.parse(Buffer.from(header, "base64").toString()) as { accepts: { amount: string }[] };
  return BigInt(required.accepts[0]?.amount ?? "0");
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment, account: "provider-1" });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-keys-attack-"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
  });
  ({ url, address: gatewayAddress } = await gateway.start());
  victimKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n })).key;
});
after(async () => {
  await gateway.stop();
  await provider.close();
  await t.close();
});

test("attack: mint a key for a funded address without proof, with the attacker's own signature, or by replaying the owner's sign-in", async () => {
  const victim = t.account("client-1").address;
  const before = await keyBalance(url, victimKey);
  // The old unauthenticated shape.
  const bare = await post("/v1/keys", { owner: victim });
  assert.deepEqual([bare.status, await errorCode(bare)], [400, "invalid_request"]);
  // A message naming the victim's address, signed by the attacker.
  const forged = await post("/v1/keys", await signedMessage({ signer: "client-6", address: victim }));
  assert.deepEqual([forged.status, await errorCode(forged)], [401, "key_proof_invalid"]);
  // The victim's own sign-in, seen in transit and replayed after it minted the victim's key.
  const honest = await signedMessage({ signer: "client-1" });
  assert.equal((await post("/v1/keys", honest)).status, 201);
  const replayed = await post("/v1/keys", honest);
  assert.deepEqual([replayed.status, await errorCode(replayed)], [409, "key_nonce_invalid"]);
  // Two submissions of one signed message racing: exactly one key.
  const racing = await signedMessage({ signer: "client-1" });
  const statuses = (await Promise.all([post("/v1/keys", racing), post("/v1/keys", racing)])).map((r) => r.status);
  assert.deepEqual(statuses.sort(), [201, 409]);
  assert.equal(await keyBalance(url, victimKey), before, "the victim's balance is untouched");
});

test("attack: a sign-in the victim gave another gateway (or another chain) does not mint a key here", async () => {
  const before = await keyBalance(url, victimKey);
  const elsewhere = t.account("client-5").address as `0x${string}`;
  const phished = await post("/v1/keys", await signedMessage({ signer: "client-1", gateway: elsewhere }));
  assert.deepEqual([phished.status, await errorCode(phished)], [401, "key_proof_invalid"]);
  const otherChain = await createGatewayKey({
    gatewayUrl: url,
    account: privateKeyToAccount(t.account("client-1").privateKey),
    chainId: 1,
  }).catch((e: { code: string }) => e.code);
  assert.equal(otherChain, "wrong_chain");
  assert.equal(await keyBalance(url, victimKey), before);
});

test("attack: a scoped agent key spends past its signed limit, calls another model, or revokes its owner's keys", async () => {
  const owner = privateKeyToAccount(t.account("client-1").privateKey);
  const maxPrice = await maxPriceOf(chat);
  const limit = (maxPrice * 5n) / 2n;
  const agent = await createGatewayKey({
    gatewayUrl: url,
    account: owner,
    scope: { spendLimit: limit, models: ["verity-tiny"], label: "agent" },
  });
  const before = (await keyBalance(url, victimKey)) ?? 0n;
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: agent.key, maxRetries: 0 });
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, () =>
      openai.chat.completions.create({ ...chat, messages: [{ role: "user", content: "hi" }] }),
    ),
  );
  const refused = results.filter((r) => r.status === "rejected");
  assert.ok(refused.length >= 3, "at most two holds of the maximum price fit the limit at once");
  for (const r of refused) assert.equal((r.reason as { code?: string }).code, "api_key_spend_limit");
  const [info] = await listGatewayKeys({ gatewayUrl: url, apiKey: agent.key });
  assert.ok(info);
  const spent = BigInt(info.spent);
  assert.ok(spent > 0n && spent <= limit, `spent ${spent} within the limit ${limit}`);
  assert.equal((await keyBalance(url, victimKey)) ?? 0n, before - spent, "the owner paid exactly what the key spent");

  const allowed = await createTestKey({ t, url, account: "client-1", scope: { models: ["another-model"] } });
  const scoped = await post("/v1/chat/completions", chat, { authorization: `Bearer ${allowed.key}` });
  assert.deepEqual([scoped.status, await errorCode(scoped)], [403, "api_key_model_not_allowed"]);

  const full = (await listGatewayKeys({ gatewayUrl: url, apiKey: victimKey })).map((k) => k.id);
  assert.ok(full.includes(agent.id) && full.length >= 3, "a full key lists all the owner's keys");
  const ownerKeyId = full.find((id) => id !== agent.id && id !== allowed.id) as string;
  const revokeOwner = await revokeGatewayKey({ gatewayUrl: url, apiKey: agent.key, id: ownerKeyId }).catch(
    (e: { code: string }) => e.code,
  );
  assert.equal(revokeOwner, "api_key_scope_forbidden");
  assert.equal((await keyBalance(url, victimKey)) ?? 0n, before - spent);
});

test("attack: a revoked or stranger's key id; oversized and malformed key requests change nothing", async () => {
  const stolen = await createTestKey({ t, url, account: "client-1", label: "stolen" });
  const revoked = await revokeGatewayKey({ gatewayUrl: url, apiKey: victimKey, id: stolen.id });
  assert.ok(revoked.revoked);
  const before = await keyBalance(url, victimKey);
  const use = await post("/v1/chat/completions", chat, { authorization: `Bearer ${stolen.key}` });
  assert.deepEqual([use.status, await errorCode(use)], [401, "api_key_revoked"]);
  const stranger = await createTestKey({ t, url, account: "client-6" });
  const crossRevoke = await revokeGatewayKey({ gatewayUrl: url, apiKey: stranger.key, id: stolen.id }).catch(
    (e: { code: string }) => e.code,
  );
  assert.equal(crossRevoke, "not_found");
  const huge = await post("/v1/keys", { message: "x".repeat(64 * 1024), signature: "0x00" });
  assert.deepEqual([huge.status, await errorCode(huge)], [413, "payload_too_large"]);
  const hugeNonce = await post("/v1/keys/nonce", "x".repeat(64 * 1024));
  assert.equal(hugeNonce.status, 413);
  const malformed = await post("/v1/keys", "{nope");
  assert.deepEqual([malformed.status, await errorCode(malformed)], [400, "invalid_json"]);
  const garbage = await post("/v1/keys", { message: "hello", signature: "0x1234" });
  assert.deepEqual([garbage.status, await errorCode(garbage)], [401, "key_proof_invalid"]);
  assert.equal(await keyBalance(url, victimKey), before);
});

test("attack: a key aborts its streamed answers once the text arrived, to get them free and past its spend limit", async () => {
  const owner = privateKeyToAccount(t.account("client-1").privateKey);
  const body = { ...chat, max_tokens: 32, stream: true };
  const maxPrice = await maxPriceOf(body);
  const agent = await createGatewayKey({ gatewayUrl: url, account: owner, scope: { spendLimit: maxPrice * 3n } });
  const before = (await keyBalance(url, victimKey)) ?? 0n;
  let spent = 0n;
  for (let i = 0; i < 2; i++) {
    const controller = new AbortController();
    const res = await post("/v1/chat/completions", body, { authorization: `Bearer ${agent.key}` });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!/"content":"[^"]+"/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    controller.abort();
    await reader.cancel();
    // The gateway settles the aborted request in the background: wait until the key's spend moves.
    for (let n = 0; n < 200; n++) {
      const [info] = await listGatewayKeys({ gatewayUrl: url, apiKey: agent.key });
      if (info && BigInt(info.spent) > spent) {
        spent = BigInt(info.spent);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.ok(spent > 0n, "aborted answers are paid for");
  assert.ok(spent <= maxPrice * 2n, "each at most its hold");
  assert.equal((await keyBalance(url, victimKey)) ?? 0n, before - spent, "the owner paid exactly what the key spent");
});
