import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type BaseError, type KeyScope, keyScopeResources, keyStatement } from "@verity/core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";
import { createApiKeys } from "./api-keys.ts";
import { createPrepaidLedger } from "./prepaid-ledger.ts";
import type { GatewayStore } from "./store/index.ts";
import { openTestStore } from "./store/store-testing.ts";

const gateway = privateKeyToAccount(generatePrivateKey()).address;
const owner = privateKeyToAccount(generatePrivateKey());
const HOST = "gateway.example:8546";

const scratch = mkdtempSync(join(tmpdir(), "verity-keys-test-"));
const stores: GatewayStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  rmSync(scratch, { recursive: true, force: true });
});
let n = 0;
async function freshStore(): Promise<GatewayStore> {
  const store = await openTestStore({ stateDir: join(scratch, `s${++n}`) });
  stores.push(store);
  return store;
}

async function setup() {
  const store = await freshStore();
  const keys = createApiKeys({ store, chainId: 31337, gateway, domains: () => [HOST] });
  const ledger = createPrepaidLedger({ store, ...keys.ledgerHooks });
  return { store, keys, ledger };
}

async function signIn(
  keys: ReturnType<typeof createApiKeys>,
  overrides: {
    scope?: KeyScope;
    signer?: typeof owner;
    address?: `0x${string}`;
    chainId?: number;
    domain?: string;
    resources?: string[];
    issuedAt?: Date;
  } = {},
) {
  const { nonce } = await keys.issueNonce();
  const message = createSiweMessage({
    address: overrides.address ?? owner.address,
    chainId: overrides.chainId ?? 31337,
    domain: overrides.domain ?? HOST,
    uri: `http://${HOST}`,
    nonce,
    version: "1",
    issuedAt: overrides.issuedAt ?? new Date(),
    statement: keyStatement(gateway),
    resources:
      overrides.resources ?? keyScopeResources({ gateway, ...(overrides.scope ? { scope: overrides.scope } : {}) }),
  });
  const signature = await (overrides.signer ?? owner).signMessage({ message });
  return { message, signature };
}

const code = (expected: string) => (e: BaseError) => e.code === expected;

test("a signed sign-in mints a key for its owner; the key authenticates, unknown ones do not", async () => {
  const { keys } = await setup();
  const { key, apiKey } = await keys.mint({ ...(await signIn(keys, { scope: { label: "laptop" } })) });
  assert.match(key, /^vk_/);
  assert.equal(apiKey.owner, owner.address.toLowerCase());
  assert.equal(apiKey.scope.label, "laptop");
  assert.equal((await keys.authenticate(key)).id, apiKey.id);
  await assert.rejects(keys.authenticate("vk_nope"), code("invalid_api_key"));
});

test("a sign-in is refused for a wrong signer, chain, domain, gateway, time, scope or a reused nonce", async () => {
  const { keys } = await setup();
  const thief = privateKeyToAccount(generatePrivateKey());
  await assert.rejects(keys.mint({ ...(await signIn(keys, { signer: thief })) }), code("key_proof_invalid"));
  await assert.rejects(keys.mint({ ...(await signIn(keys, { chainId: 1 })) }), code("wrong_chain"));
  await assert.rejects(keys.mint({ ...(await signIn(keys, { domain: "evil.example" })) }), code("key_proof_invalid"));
  const otherGateway = privateKeyToAccount(generatePrivateKey()).address;
  await assert.rejects(
    keys.mint({ ...(await signIn(keys, { resources: keyScopeResources({ gateway: otherGateway }) })) }),
    code("key_proof_invalid"),
  );
  await assert.rejects(
    keys.mint({ ...(await signIn(keys, { issuedAt: new Date(Date.now() - 3_600_000) })) }),
    code("key_proof_invalid"),
  );
  await assert.rejects(
    keys.mint({
      ...(await signIn(keys, { resources: [...keyScopeResources({ gateway }), "verity:spend-everything:1"] })),
    }),
    code("key_scope_invalid"),
  );
  await assert.rejects(keys.mint({ ...(await signIn(keys, { resources: [] })) }), code("key_scope_invalid"));
  // A message that shows the signer a narrower scope than the parser reads (text after the first
  // resource ends viem's resource list), a URI off its domain, another statement, a malformed date.
  const narrow = await signIn(keys);
  const smuggled = narrow.message.replace(
    `- verity:gateway:${gateway.toLowerCase()}`,
    `- verity:gateway:${gateway.toLowerCase()}\nThis key is limited to:\n- verity:spend-limit:1`,
  );
  await assert.rejects(
    keys.mint({ message: smuggled, signature: await owner.signMessage({ message: smuggled }) }),
    code("key_proof_invalid"),
  );
  const offDomain = (await signIn(keys)).message.replace(`URI: http://${HOST}`, "URI: http://evil.example");
  await assert.rejects(
    keys.mint({ message: offDomain, signature: await owner.signMessage({ message: offDomain }) }),
    code("key_proof_invalid"),
  );
  const otherStatement = (await signIn(keys)).message.replace(keyStatement(gateway), "Sign in to Example.");
  await assert.rejects(
    keys.mint({ message: otherStatement, signature: await owner.signMessage({ message: otherStatement }) }),
    code("key_proof_invalid"),
  );
  const badDate = (await signIn(keys)).message.replace(/Issued At: .*/, "Issued At: yesterday");
  await assert.rejects(
    keys.mint({ message: badDate, signature: await owner.signMessage({ message: badDate }) }),
    code("key_proof_invalid"),
  );
  // A nonce this gateway never issued (well-formed, wrong HMAC), and one that expired.
  const issued = (await keys.issueNonce()).nonce;
  const forgedNonce = `${issued.slice(0, 28)}${"0".repeat(32)}`;
  const forged = (await signIn(keys)).message.replace(/Nonce: .*/, `Nonce: ${forgedNonce}`);
  await assert.rejects(
    keys.mint({ message: forged, signature: await owner.signMessage({ message: forged }) }),
    code("key_nonce_invalid"),
  );
  let clock = Date.now();
  const clocked = createApiKeys({
    store: await freshStore(),
    chainId: 31337,
    gateway,
    domains: () => [HOST],
    now: () => clock,
  });
  const late = await signIn(clocked);
  clock += 6 * 60_000;
  await assert.rejects(clocked.mint(late), (e: BaseError) =>
    ["key_nonce_invalid", "key_proof_invalid"].includes(e.code),
  );
  const signed = await signIn(keys);
  await keys.mint({ ...signed });
  await assert.rejects(keys.mint({ ...signed }), code("key_nonce_invalid"));
  const unissued = createSiweMessage({
    address: owner.address,
    chainId: 31337,
    domain: HOST,
    uri: `http://${HOST}`,
    nonce: "neverissued123",
    version: "1",
    issuedAt: new Date(),
    statement: keyStatement(gateway),
    resources: keyScopeResources({ gateway }),
  });
  await assert.rejects(
    keys.mint({ message: unissued, signature: await owner.signMessage({ message: unissued }) }),
    code("key_nonce_invalid"),
  );
});

test("a spend limit counts open holds and settled charges; a model list and an expiry are enforced", async () => {
  const { keys, ledger } = await setup();
  await ledger.credit({ owner: owner.address, amount: 10_000n, ref: "d1" });
  const { key, apiKey } = await keys.mint({
    ...(await signIn(keys, { scope: { spendLimit: 1_000n, models: ["tiny"] } })),
  });
  const k = await keys.authenticate(key);
  assert.throws(() => keys.authorize(k, { model: "big" }), code("api_key_model_not_allowed"));
  keys.authorize(k, { model: "tiny" });
  const first = await ledger.hold(owner.address, 700n, apiKey.id);
  await assert.rejects(ledger.hold(owner.address, 400n, apiKey.id), code("api_key_spend_limit"));
  assert.equal(await ledger.balanceOf(owner.address), 9_300n, "a refused hold changes nothing");
  await ledger.settle(first, 300n, "r1");
  assert.equal((await keys.authenticate(key)).spent, 300n);
  const second = await ledger.hold(owner.address, 700n, apiKey.id);
  await assert.rejects(ledger.hold(owner.address, 1n, apiKey.id), code("api_key_spend_limit"));
  await ledger.release(second);
  assert.equal(await ledger.balanceOf(owner.address), 9_700n);
  // Holds racing for the last of the limit: the key row's lock lets them through one at a time.
  const racing = await Promise.allSettled(
    Array.from({ length: 10 }, () => ledger.hold(owner.address, 300n, apiKey.id)),
  );
  assert.equal(racing.filter((o) => o.status === "fulfilled").length, 2, "300 spent + 2 × 300 ≤ 1,000");

  let now = Date.now();
  const clocked = createApiKeys({
    store: await freshStore(),
    chainId: 31337,
    gateway,
    domains: () => [HOST],
    now: () => now,
  });
  const expiring = await clocked.mint({
    ...(await signIn(clocked, { scope: { expiresAt: Math.floor(now / 1000) + 60 } })),
  });
  await clocked.authenticate(expiring.key);
  now += 61_000;
  await assert.rejects(clocked.authenticate(expiring.key), code("api_key_expired"));
});

test("owners list and revoke keys; a scoped key sees and revokes only itself", async () => {
  const { keys } = await setup();
  const full = await keys.mint({ ...(await signIn(keys)) });
  const agent = await keys.mint({ ...(await signIn(keys, { scope: { spendLimit: 5n } })) });
  const other = privateKeyToAccount(generatePrivateKey());
  const stranger = await keys.mint({ ...(await signIn(keys, { signer: other, address: other.address })) });
  assert.deepEqual(
    (await keys.list(await keys.authenticate(full.key))).map((k) => k.id).sort(),
    [full.apiKey.id, agent.apiKey.id].sort(),
  );
  assert.deepEqual(
    (await keys.list(await keys.authenticate(agent.key))).map((k) => k.id),
    [agent.apiKey.id],
  );
  await assert.rejects(
    keys.revoke({ actor: await keys.authenticate(agent.key), id: full.apiKey.id }),
    code("api_key_scope_forbidden"),
  );
  await assert.rejects(
    keys.revoke({ actor: await keys.authenticate(full.key), id: stranger.apiKey.id }),
    code("not_found"),
  );
  await keys.revoke({ actor: await keys.authenticate(full.key), id: agent.apiKey.id });
  await assert.rejects(keys.authenticate(agent.key), code("api_key_revoked"));
  await keys.authenticate(stranger.key);
});

test("one sign-in sent twice at once mints one key: the nonce is consumed by one conditional update", async () => {
  const { keys } = await setup();
  const signed = await signIn(keys);
  const outcomes = await Promise.allSettled([keys.mint({ ...signed }), keys.mint({ ...signed })]);
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
  const refused = outcomes.find((o) => o.status === "rejected");
  assert.equal((refused?.reason as BaseError | undefined)?.code, "key_nonce_invalid");
});

test("a key revoked through another replica cannot spend, even while this replica's paid path has it cached", async () => {
  const { store, keys, ledger } = await setup();
  // A second replica on the same store: its own key cache, its own ledger.
  const otherKeys = createApiKeys({ store, chainId: 31337, gateway, domains: () => [HOST] });
  await ledger.credit({ owner: owner.address, amount: 10_000n, ref: "d-cache" });
  const full = await keys.mint({ ...(await signIn(keys)) });
  const spender = await keys.mint({ ...(await signIn(keys, { scope: { label: "agent" } })) });
  const cached = await keys.authenticate(spender.key, { cached: true });
  const hold = await ledger.hold(cached.owner, 100n, cached.id);
  await ledger.settle(hold, 40n, "r-cache-1");

  await otherKeys.revoke({ actor: await otherKeys.authenticate(full.key), id: spender.apiKey.id });
  // This replica still authenticates from its cache, but the hold re-reads the key and refuses it.
  const stale = await keys.authenticate(spender.key, { cached: true });
  await assert.rejects(ledger.hold(stale.owner, 100n, stale.id), code("api_key_revoked"));
  await assert.rejects(keys.authenticate(spender.key), code("api_key_revoked"), "uncached lookups see it at once");
  assert.equal(await ledger.balanceOf(owner.address), 9_960n, "the refused hold changed nothing");

  // Revoked through this replica: its cache forgets the key at once.
  const second = await keys.mint({ ...(await signIn(keys, { scope: { label: "agent-2" } })) });
  await keys.authenticate(second.key, { cached: true });
  await keys.revoke({ actor: await keys.authenticate(full.key), id: second.apiKey.id });
  await assert.rejects(keys.authenticate(second.key, { cached: true }), code("api_key_revoked"));
});
