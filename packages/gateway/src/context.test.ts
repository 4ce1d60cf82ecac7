/**
 * Portable context end to end on a real chain, provider (llama.cpp) and gateway: the user keeps the
 * encrypted context on the gateway; a chat with a `verity_context` reference — through the official
 * `openai` client at the gateway, and through VerityClient straight to a provider — carries only the
 * selected parts, decrypted on the user's side, and a raw reference is refused by both.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import {
  type ContextClient,
  createContextClient,
  createContextFetch,
  createHttpContextBackend,
  createVerityClient,
  type UserContext,
} from "@verity/sdk";
import OpenAI from "openai";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let gateway: Gateway;
let url: string;
let apiKey: string;
let context: ContextClient;

const userContext: UserContext = {
  preferences: { answer_language: "Esperanto" },
  facts: [
    { text: "The user's cat is called Marmalade", tags: ["pets"] },
    { text: "The user's bank PIN hint is 'blue door'", tags: ["private"] },
  ],
  summaries: [{ title: "trip", text: "planned a trip to Tallinn" }],
};

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
    stateDir: await gatewayStateDir(),
    indexerPollMs: 50,
    probeIntervalMs: 200,
  });
  url = (await gateway.start()).url;
  apiKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n })).key;
  context = createContextClient({ privateKey: generatePrivateKey(), backend: createHttpContextBackend({ url }) });
  await context.put(userContext);
});
after(async () => {
  await gateway.stop();
  await provider.close();
  await t.close();
});

const select = { preferences: true, facts: ["pets"] };

test("the openai client with a context reference sends only the selected context; the gateway serves the blob but gets no key", async () => {
  const sent: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (typeof init?.body === "string") sent.push(init.body);
    return fetch(input, init);
  };
  const openai = new OpenAI({
    baseURL: `${url}/v1`,
    apiKey,
    maxRetries: 0,
    fetch: createContextFetch({ context, fetch: recording }),
  });
  const completion = await openai.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "What is my cat called?" }],
    max_tokens: 8,
    // the Verity extension: resolved on this machine before the request leaves
    ...({ verity_context: { owner: context.owner, select } } as object),
  });
  assert.ok(completion.choices[0]);
  const body = JSON.parse(sent.at(-1) ?? "{}") as { messages: { role: string; content: string }[] };
  assert.equal(Object.hasOwn(body, "verity_context"), false);
  assert.equal(body.messages[0]?.role, "system");
  assert.match(body.messages[0]?.content ?? "", /Marmalade/);
  assert.match(body.messages[0]?.content ?? "", /Esperanto/);
  for (const unselected of ["blue door", "Tallinn"]) assert.ok(!(sent.at(-1) ?? "").includes(unselected));
  // what the gateway stores is the ciphertext only, never what was selected
  const stored = (await (await fetch(`${url}/v1/context/${context.owner}`)).json()) as { blob: string };
  assert.ok(!Buffer.from(stored.blob, "base64").toString("latin1").includes("Marmalade"));
  assert.ok(!(sent.at(-1) ?? "").includes(stored.blob.slice(0, 40)), "the blob never travels in a request");
});

test("VerityClient resolves the reference and the provider receives the selected context, not the blob", async () => {
  const toProvider: string[] = [];
  const client = createVerityClient({
    provider: t.edr.provider,
    deployment,
    account: privateKeyToAccount(t.account("client-2").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-context-client-")),
    indexerPollMs: 50,
    autoOpen: { amount: 5_000_000n },
    audit: { p: 0 },
    context,
    fetch: async (input, init) => {
      if (String(input).includes("/chat/completions") && typeof init?.body === "string") toProvider.push(init.body);
      return fetch(input, init);
    },
  });
  await mintTestUSD(t, deployment, "client-2", 50_000_000n);
  await client.start();
  try {
    const answer = await client.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
      ...({ verity_context: { owner: context.owner, select: { facts: ["pets"] } } } as object),
    });
    assert.ok(answer.choices[0]);
    const reached = toProvider.at(-1) ?? "";
    assert.match(reached, /Marmalade/);
    assert.ok(!reached.includes("verity_context"));
    assert.ok(!reached.includes("blue door") && !reached.includes("Esperanto"));
    const stored = (await (await fetch(`${url}/v1/context/${context.owner}`)).json()) as { blob: string };
    assert.ok(!reached.includes(stored.blob.slice(0, 40)));
  } finally {
    await client.stop();
  }
});

test("a raw request with an unresolved verity_context is refused by the gateway and the provider", async () => {
  const raw = JSON.stringify({
    model: "verity-tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 4,
    verity_context: { owner: context.owner },
  });
  for (const target of [`${url}/v1/chat/completions`, `${provider.url}/v1/chat/completions`]) {
    const res = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: raw,
    });
    assert.equal(res.status, 400, target);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "context_unresolved");
  }
});
