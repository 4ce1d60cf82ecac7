import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createGateway } from "@verity/gateway";
import { privateKeyToAccount } from "viem/accounts";
import { gatewayStateDir } from "../../../gateway/src/store/store-testing.ts";
import { startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { runVerity } from "../cli-testing.ts";

let provider: TestProvider;
let gateway: ReturnType<typeof createGateway>;
let gatewayUrl: string;

before(async () => {
  provider = await startTestProvider({ maxOutputTokens: 256 });
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment: provider.deployment,
    provider: provider.t.edr.provider,
    account: privateKeyToAccount(provider.t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-quote-"),
    port: 0,
    x402: false,
  });
  gatewayUrl = (await gateway.start()).url;
});
after(async () => {
  await gateway?.stop();
  await provider?.close();
});

test("quote names the provider that would serve and the expected price", async () => {
  const q = await runVerity([
    "quote",
    "--gateway",
    gatewayUrl,
    "--model",
    "verity-tiny",
    "--max-tokens",
    "100",
    "--prompt-tokens",
    "10",
    "--json",
  ]);
  assert.equal(q.status, 0, q.stdout + q.stderr);
  const line = q.json[0] as { servable: boolean; expectedPrice: string; providers: { agentId: string; url: string }[] };
  assert.equal(line.servable, true);
  // 10 prompt tokens at 1 TUSD/1M + 100 output tokens at 2 TUSD/1M = 210 base units.
  assert.equal(line.expectedPrice, "210");
  assert.equal(line.providers[0]?.agentId, provider.info.agentId.toString());
  const readable = await runVerity([
    "quote",
    "--gateway",
    `${gatewayUrl}/v1`,
    "--model",
    "verity-tiny",
    "--max-tokens",
    "100",
  ]);
  assert.equal(readable.status, 0, readable.stderr);
  assert.match(readable.stdout, new RegExp(`verity-tiny: served by agent ${provider.info.agentId} `));
});

test("quote says why a request would not be served, and exits 1", async () => {
  const ask = (model: string, maxTokens: string, extra: string[] = []) =>
    runVerity(["quote", "--gateway", gatewayUrl, "--model", model, "--max-tokens", maxTokens, ...extra, "--json"]);
  const noModel = await ask("no-such-model", "10");
  assert.equal(noModel.status, 1);
  assert.deepEqual([noModel.json[0]?.servable, noModel.json[0]?.reason], [false, "no_offer_for_model"]);
  assert.equal((await ask("verity-tiny", "100000")).json[0]?.reason, "max_tokens_over_offer");
  assert.equal((await ask("verity-tiny", "10", ["--max-price-out", "0.5"])).json[0]?.reason, "all_above_max_price");
  const readable = await runVerity(["quote", "--gateway", gatewayUrl, "--model", "no-such-model"]);
  assert.match(readable.stdout, /not served — No provider offers no-such-model \[no_offer_for_model\]/);
});

test("quote --provider applies the chat route's provider preferences", async () => {
  const id = provider.info.agentId.toString();
  const ask = (prefs: string) =>
    runVerity([
      "quote",
      "--gateway",
      gatewayUrl,
      "--model",
      "verity-tiny",
      "--max-tokens",
      "10",
      "--provider",
      prefs,
      "--json",
    ]);
  const only = await ask(JSON.stringify({ only: [id], allow_fallbacks: false }));
  assert.equal(only.status, 0, only.stdout + only.stderr);
  assert.deepEqual(only.json[0]?.route, [id]);
  const ignored = await ask(JSON.stringify({ ignore: [id] }));
  assert.equal(ignored.status, 1);
  assert.deepEqual([ignored.json[0]?.reason, ignored.json[0]?.excluded], ["no_provider_matches", { ignore: [id] }]);
  const invalid = await ask(JSON.stringify({ sort: "cheapest" }));
  assert.equal(invalid.json[0]?.code, "provider_preferences_invalid");
  const notJson = await ask("{sort:");
  assert.equal(notJson.json[0]?.code, "invalid_parameter");
  const readable = await runVerity([
    "quote",
    "--gateway",
    gatewayUrl,
    "--model",
    "verity-tiny",
    "--provider",
    `{"only":[${id}]}`,
  ]);
  assert.match(readable.stdout, new RegExp(`tried in order: agents ${id}\n`));
});

test("quote against a gateway that does not answer, or bad flags, is a one-line error", async () => {
  const down = await runVerity(["quote", "--gateway", "http://127.0.0.1:1", "--model", "verity-tiny"]);
  assert.equal(down.status, 1);
  assert.match(down.stderr, /^✖ The gateway at http:\/\/127\.0\.0\.1:1 did not answer.*\[upstream_unreachable\]\n$/);
  const bad = await runVerity([
    "quote",
    "--gateway",
    gatewayUrl,
    "--model",
    "verity-tiny",
    "--max-tokens",
    "0",
    "--json",
  ]);
  assert.equal(bad.json[0]?.code, "invalid_parameter");
});
