/**
 * The explorer in a real browser: an in-process chain, two real providers (llama.cpp test model),
 * the gateway serving the built page, real paid traffic through the official `openai` client and a
 * forced claim; then Chromium from npm (launch-chromium.ts) renders the page and we read what a person would see.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { datasetRegistryAbi, inferenceOracleAbi, modelRegistryAbi, testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { createGateway, type Gateway } from "@verity/gateway";
import OpenAI from "openai";
import type { Browser, Page } from "playwright-core";
import { keccak256, maxUint256, parseEventLogs, stringToHex, toHex, zeroAddress, zeroHash } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { fundedKey } from "../../../packages/gateway/src/testing.ts";
import { createOracleNode, type OracleNode } from "../../../packages/provider/src/oracle-node.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../../packages/provider/src/testing.ts";
import { ensureExplorerBuilt } from "./build.ts";
import { launchChromium } from "./launch-chromium.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const screenshot = join(repoRoot, "artifacts", "explorer.png");

let t: TestChain;
let deployment: Deployment;
const providers: TestProvider[] = [];
let gateway: Gateway;
let url: string;
let apiKey: string;
let browser: Browser | undefined;
let oracleNode: OracleNode | undefined;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  const distDir = await ensureExplorerBuilt();
  t = await createTestChain();
  deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { oracleChallengeWindow: 1n },
  });
  providers.push(await startTestProvider({ t, deployment, account: "provider-1", outputPricePerMTok: 2_000_000n }));
  providers.push(
    await startTestProvider({
      t,
      deployment,
      account: "provider-2",
      inputPricePerMTok: 1_500_000n,
      outputPricePerMTok: 3_500_000n,
    }),
  );
  // client-6 contributes a dataset that the served model credits with half of its royalty.
  const sent = async (hash: Promise<`0x${string}`>) => t.publicClient.waitForTransactionReceipt({ hash: await hash });
  await sent(
    t.wallet("client-6").writeContract({
      address: deployment.contracts.DatasetRegistry?.address ?? "0x",
      abi: datasetRegistryAbi,
      functionName: "register",
      args: [keccak256(stringToHex("explorer dataset")), 0, 0n, "ipfs://licence", "ipfs://data"],
    }),
  );
  await sent(
    t.wallet("modelOwner").writeContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "creditDataset",
      args: [1n, 1n, 5_000],
    }),
  );
  // provider-1 also answers inference-oracle requests.
  oracleNode = createOracleNode({
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("provider-1").privateKey),
    agentId: providers[0]?.info.agentId ?? 0n,
    engines: providers[0]?.engines ?? [],
    pollMs: 50,
  });
  await oracleNode.start();
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-explorer-gateway-")),
    indexerPollMs: 50,
    probeIntervalMs: 200,
    x402: false,
    explorer: { distDir },
  });
  url = (await gateway.start()).url;
  const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 20_000_000n });
  apiKey = created.key;
  const launched = await launchChromium();
  browser = launched.browser;
  console.log(`browser tests: Chromium from ${launched.source} at ${launched.executablePath}`);
});

after(async () => {
  await browser?.close();
  await gateway?.stop();
  await oracleNode?.stop();
  for (const p of providers) await p.close();
  await t?.close();
});

test("the explorer shows providers, live traffic and a settled claim linked to its transaction", async () => {
  // Real paid traffic: chat completions, streamed and not, through the official client.
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  for (let i = 0; i < 8; i++) {
    if (i % 2 === 0) {
      await client.chat.completions.create({
        model: "verity-tiny",
        messages: [{ role: "user", content: `hello explorer ${i}` }],
        max_tokens: 16,
      });
    } else {
      const stream = await client.chat.completions.create({
        model: "verity-tiny",
        messages: [{ role: "user", content: `stream ${i}` }],
        max_tokens: 16,
        stream: true,
      });
      for await (const _ of stream) {
        // drain
      }
    }
  }
  // Settle what was charged: each provider claims now instead of waiting for its thresholds.
  for (const p of providers) await p.provider.claimer?.claimNow(true);
  const claimTxs = async () =>
    (
      (await (await fetch(`${url}/api/events?names=Claimed&limit=50`)).json()) as { data: { tx_hash: string }[] }
    ).data.map((e) => e.tx_hash);
  await waitFor("a claim to be indexed", async () => ((await claimTxs()).length > 0 ? true : undefined));
  type Snapshot = { network: { requests: number; totalPaid: string }; providers: { requests: number }[] };
  const overview = await waitFor("the traffic series to count every request", async () => {
    const o = (await (await fetch(`${url}/api/overview`)).json()) as Snapshot;
    return o.network.requests === 8 ? o : undefined;
  });
  assert.ok(BigInt(overview.network.totalPaid) > 0n);

  const page: Page = await (browser as Browser).newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${url}/`);
  const agentId = providers[0]?.info.agentId.toString() ?? "";
  const row = page.locator(`tr[data-agent-id="${agentId}"]`);
  await row.waitFor({ timeout: 15_000 });
  assert.match((await row.textContent()) ?? "", new RegExp(`#${agentId}`));
  // Requests column of the busiest provider shows served traffic.
  const served = overview.providers.map((p) => p.requests).reduce((a, b) => a + b, 0);
  assert.equal(served, 8);
  const counts = await page
    .locator("tr[data-agent-id]")
    .evaluateAll((rows) =>
      rows.map((r) => Number((r.querySelectorAll("td")[7]?.textContent ?? "0").replace(/,/g, ""))),
    );
  assert.ok(
    counts.some((n) => n > 0),
    `a provider row shows requests > 0 (got ${counts.join(", ")})`,
  );
  // The claim is in the live feed with its transaction hash.
  const claimItem = page.locator('li[data-event="Claimed"]').first();
  await claimItem.waitFor({ timeout: 15_000 });
  assert.match((await claimItem.textContent()) ?? "", /Claim settled/);
  const txLink = claimItem.locator("a.link");
  const shown = await txLink.getAttribute("title");
  assert.ok((await claimTxs()).includes(shown ?? ""), `the feed links the claim's transaction (${shown})`);
  // The stats read as formatted token amounts, not base units.
  assert.match((await page.locator(".stat", { hasText: "Total paid" }).textContent()) ?? "", /\d\.\d+\s*TUSD/);
  await page.waitForTimeout(400); // let the charts draw their latest snapshot
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`explorer screenshot: ${screenshot}`);

  // The transaction link opens the page's own view of that transaction.
  await txLink.click();
  await page
    .locator(".panel", { hasText: "Transaction" })
    .locator('li[data-event="Claimed"]')
    .waitFor({ timeout: 10_000 });
  // A provider's page is a client-side route.
  await page.goto(`${url}/#/providers/${agentId}`);
  await page.locator("h1", { hasText: `#${agentId}` }).waitFor({ timeout: 10_000 });
  await page.locator(".offers li", { hasText: "verity-tiny" }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(dirname(screenshot), "explorer-provider.png"), fullPage: true });
  // The models page lists the credited dataset and what the claims paid its contributor.
  await page.goto(`${url}/#/models`);
  const dataset = page.locator('tr[data-dataset="1"]');
  await dataset.waitFor({ timeout: 10_000 });
  const text = (await dataset.textContent()) ?? "";
  assert.match(text, /verity-tiny \(50(\.0+)? ?% of royalty\)/);
  const contributor = t.account("client-6").address;
  const api = (await (await fetch(`${url}/api/datasets`)).json()) as {
    data: { earned: string; payees: { to: string }[] }[];
  };
  assert.ok(BigInt(api.data[0]?.earned ?? "0") > 0n, "the claims paid the dataset");
  assert.deepEqual(
    api.data[0]?.payees.map((p) => p.to),
    [contributor],
  );
  assert.match(text, new RegExp(`${contributor.slice(0, 6)}`, "i"), "the contributor is shown");
  assert.deepEqual(errors, [], "the page ran without errors");
  await page.close();
});

test("the oracle page shows a request answered by a provider and finalized, with its timeline", async () => {
  const oracle = deployment.contracts.InferenceOracle?.address ?? "0x";
  const sent = async (hash: Promise<`0x${string}`>) => t.publicClient.waitForTransactionReceipt({ hash: await hash });
  await mintTestUSD(t, deployment, "client-2", 1_000_000n);
  await sent(
    t.wallet("client-2").writeContract({
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "approve",
      args: [oracle, maxUint256],
    }),
  );
  const model = providers[0]?.info.models[0];
  assert.ok(model);
  const latest = (await t.publicClient.getBlock()).timestamp;
  const receipt = await sent(
    t.wallet("client-2").writeContract({
      address: oracle,
      abi: inferenceOracleAbi,
      functionName: "request",
      args: [
        {
          modelId: model.modelId,
          offerId: model.offerId,
          prompt: toHex("Is the sky blue? Answer yes or no."),
          promptHash: zeroHash,
          promptURI: "",
          maxTokens: 16,
          temperatureMilli: 0,
          topPMilli: 1000,
          seed: 7n,
          fee: 10_000n,
          callback: zeroAddress,
          callbackSelector: "0x00000000",
          callbackGasLimit: 0,
          deadline: latest + 3_600n,
        },
      ],
    }),
  );
  const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: receipt.logs, eventName: "OracleRequested" });
  const id = event?.args.requestId.toString() ?? "";
  const row = await waitFor(
    "the request to be answered and finalized",
    async () => {
      const r = (await (await fetch(`${url}/api/oracle/${id}`)).json()) as {
        status?: string;
        answer?: { text: string };
      };
      return r.status === "finalized" ? r : undefined;
    },
    600,
  );
  const page: Page = await (browser as Browser).newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${url}/#/oracle`);
  const card = page.locator(`li[data-oracle-request="${id}"][data-status="finalized"]`);
  await card.waitFor({ timeout: 15_000 });
  const text = (await card.textContent()) ?? "";
  assert.match(text, /Is the sky blue\?/);
  assert.match(text, /finalized/);
  assert.match(text, /verity-tiny/);
  assert.ok(text.includes((row.answer?.text ?? "").trim().slice(0, 20)), "the model's answer is shown");
  for (const step of ["requested", "answered", "finalized"]) {
    const link = card.locator(`li[data-step="${step}"] a.link`);
    assert.match(
      (await link.getAttribute("title")) ?? "",
      /^0x[0-9a-f]{64}$/,
      `the ${step} step links its transaction`,
    );
  }
  const agentId = providers[0]?.info.agentId.toString() ?? "";
  assert.equal(
    await card.locator(`a.agent-link[href="#/providers/${agentId}"]`).count(),
    1,
    "the answering provider links to its page",
  );
  await page.screenshot({ path: join(dirname(screenshot), "explorer-oracle.png"), fullPage: true });
  // The provider's page lists the oracle requests it answered.
  await page.goto(`${url}/#/providers/${agentId}`);
  await page
    .locator(".panel", { hasText: "Oracle answers" })
    .locator(`li[data-oracle-request="${id}"]`)
    .waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, [], "the page ran without errors");
  await page.close();
});

test("the page is served at / and /explorer/ without shadowing the APIs", async () => {
  const home = await fetch(`${url}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get("content-type") ?? "", /^text\/html/);
  const html = await home.text();
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, "index.html references its script");
  const js = await fetch(`${url}/explorer/${script}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
  assert.equal((await fetch(`${url}/explorer/`)).status, 200);
  const api = await fetch(`${url}/api/nothing-here`);
  assert.equal(api.status, 404);
  assert.equal(((await api.json()) as { error: { code: string } }).error.code, "not_found");
  const models = await fetch(`${url}/v1/models`);
  assert.match(models.headers.get("content-type") ?? "", /^application\/json/);
});
