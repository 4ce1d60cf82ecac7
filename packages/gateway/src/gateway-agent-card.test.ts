/**
 * The gateway's Agent Card: a real chain, two real providers at different prices, a gateway with an
 * agent identity registered at start, and the SDK's `verifyAgentCard` (the check every client runs).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentCard } from "@a2a-js/sdk";
import { agentRegistryAbi } from "@verity/contracts";
import { BaseError } from "@verity/core";
import { signAgentCard } from "@verity/provider";
import { verifyAgentCard } from "@verity/sdk";
import { privateKeyToAccount } from "viem/accounts";
import { startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";

let cheap: TestProvider;
let dear: TestProvider;
let gateway: Gateway;
let plain: Gateway;
let url: string;
let plainUrl: string;
let agentId: bigint | undefined;
let stateDir: string;
let options: Omit<Parameters<typeof createGateway>[0], "stateDir">;

before(async () => {
  cheap = await startTestProvider({
    account: "provider-1",
    inputPricePerMTok: 1_000_000n,
    outputPricePerMTok: 2_000_000n,
  });
  dear = await startTestProvider({
    t: cheap.t,
    deployment: cheap.deployment,
    account: "provider-2",
    inputPricePerMTok: 3_000_000n,
    outputPricePerMTok: 4_000_000n,
  });
  options = {
    allowPrivateEndpoints: true,
    deployment: cheap.deployment,
    provider: cheap.t.edr.provider,
    account: privateKeyToAccount(cheap.t.account("gateway").privateKey),
    indexerPollMs: 50,
    feeBps: 500,
  };
  stateDir = await gatewayStateDir("verity-gw-card-");
  gateway = createGateway({ ...options, stateDir, agent: {} });
  ({ url, agentId } = await gateway.start());
  plain = createGateway({ ...options, stateDir: await gatewayStateDir("verity-gw-nocard-"), x402: false });
  plainUrl = (await plain.start()).url;
});
after(async () => {
  await gateway?.stop();
  await plain?.stop();
  await dear?.close();
  await cheap?.close();
});

const registry = () => cheap.deployment.contracts.AgentRegistry.address;
const fetchCard = async () => AgentCard.fromJSON(await (await fetch(`${url}/.well-known/agent-card.json`)).json());
const verify = (card: AgentCard) =>
  verifyAgentCard({ card, publicClient: cheap.t.publicClient as never, agentRegistry: registry() });

test("the gateway registers an agent identity and its signed card verifies against the registry", async () => {
  assert.ok(agentId !== undefined && agentId > 0n);
  const owner = await cheap.t.publicClient.readContract({
    address: registry(),
    abi: agentRegistryAbi,
    functionName: "ownerOf",
    args: [agentId],
  });
  assert.equal(owner.toLowerCase(), cheap.t.account("gateway").address.toLowerCase());
  const verified = await verify(await fetchCard());
  assert.equal(verified.agentId, agentId);
  assert.equal(verified.signer.toLowerCase(), owner.toLowerCase());
  // the skill is the model both providers serve, priced from the cheapest to the dearest, fee included
  const skill = verified.skills["verity-tiny"] as unknown as Record<string, unknown>;
  assert.deepEqual(
    [skill.inputPerMTok, skill.maxInputPerMTok, skill.outputPerMTok, skill.maxOutputPerMTok, skill.providers],
    ["1050000", "3150000", "2100000", "4200000", 2],
  );
  const card = verified.card;
  assert.deepEqual(
    card.skills.map((s) => s.id),
    ["verity-tiny"],
  );
  const pay = card.capabilities?.extensions.find((e) => e.uri.includes("a2a-x402"))?.params as {
    accepts: { scheme: string; payTo: string }[];
  };
  assert.deepEqual(pay.accepts.map((a) => a.scheme).slice(0, 2), ["api-key", "exact"]);
  assert.ok(pay.accepts.every((a) => a.payTo.toLowerCase() === owner.toLowerCase()));
});

test("a tampered or re-signed gateway card is agent_card_invalid", async () => {
  const card = await fetchCard();
  const json = AgentCard.toJSON(card) as { description: string };
  const invalid = (e: unknown) => e instanceof BaseError && e.code === "agent_card_invalid";
  await assert.rejects(verify(AgentCard.fromJSON({ ...json, description: "cheapest gateway in town" })), invalid);
  const impostor = privateKeyToAccount(cheap.t.account("client-2").privateKey);
  const resigned = await signAgentCard({
    card,
    account: impostor,
    ref: { chainId: cheap.deployment.chainId, agentRegistry: registry(), agentId: agentId as bigint },
  });
  await assert.rejects(verify(resigned), invalid);
});

test("a gateway without an agent identity publishes no card", async () => {
  const response = await fetch(`${plainUrl}/.well-known/agent-card.json`);
  assert.equal(response.status, 404);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, "not_found");
});

test("a restart keeps the gateway's agent id instead of registering another", async () => {
  await gateway.stop();
  gateway = createGateway({ ...options, stateDir, agent: {} });
  const restarted = await gateway.start();
  assert.equal(restarted.agentId, agentId);
  url = restarted.url;
  assert.equal((await verify(await fetchCard())).agentId, agentId);
});
