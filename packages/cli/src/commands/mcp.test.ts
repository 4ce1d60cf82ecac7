/**
 * `verity mcp` driven by the official MCP client (`@modelcontextprotocol/sdk`) over stdio and over
 * streamable HTTP, against a real provider on a real chain, paying under a mandate signed with
 * `verity mandate sign`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createNativeAccount } from "@verity/chain";
import { createAgent } from "../../../provider/src/agent.ts";
import type { Provider, ProviderInfo } from "../../../provider/src/provider.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { runVerity, startTestNetwork, startVerity, type TestNetwork, VERITY_BIN } from "../cli-testing.ts";

let net: TestNetwork;
let provider: TestProvider;
let flags: string[];
let mandateFile: string;
let agentMandateFile: string;
let agent: Provider;
let agentInfo: ProviderInfo;
const messages = [{ role: "user", content: "Name a colour." }];

type ToolResult = { isError?: boolean; structuredContent: Record<string, unknown>; content: { text?: string }[] };

before(async () => {
  net = await startTestNetwork();
  provider = await startTestProvider({ t: net.t, deployment: net.deployment });
  await mintTestUSD(net.t, net.deployment, "client-4", 50_000_000n);
  const keyFile = join(net.dir, "payer.key");
  writeFileSync(keyFile, `${net.key("client-4")}\n`, { mode: 0o600 });
  flags = [
    "--rpc",
    net.rpcUrl,
    "--deployment",
    net.deploymentFile,
    "--key-file",
    keyFile,
    "--state-dir",
    join(net.dir, "client"),
  ];
  mandateFile = join(net.dir, "mandate.json");
  const signed = await runVerity([
    "mandate",
    "sign",
    ...flags,
    "--total",
    "0.0003",
    "--per-call",
    "0.00012",
    "--models",
    "verity-tiny",
    "--valid-for",
    "1d",
    "--out",
    mandateFile,
    "--json",
  ]);
  assert.equal(signed.status, 0, signed.stderr);
  assert.equal(signed.json[0]?.event, "mandate");
  const shown = await runVerity([
    "mandate",
    "show",
    mandateFile,
    "--rpc",
    net.rpcUrl,
    "--deployment",
    net.deploymentFile,
  ]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /signed by its owner/);
  await mintTestUSD(net.t, net.deployment, "provider-5", 1_000_000_000n);
  agent = createAgent({
    deployment: net.deployment,
    provider: net.t.edr.provider,
    account: createNativeAccount(net.key("provider-5") as `0x${string}`),
    skill: "summarise",
    description: "Summarises a text in one line",
    handler: { kind: "function", run: async (m) => `summary: ${m.slice(0, 20)}` },
    pricePerTask: 50n,
    stake: 500_000_000n,
    dataDir: mkdtempSync(join(tmpdir(), "verity-mcp-agent-")),
    indexerPollMs: 50,
  });
  agentInfo = await agent.start();
  agentMandateFile = join(net.dir, "agent-mandate.json");
  const agentSigned = await runVerity([
    "mandate",
    "sign",
    ...flags,
    "--total",
    "0.0001",
    "--per-call",
    "0.00006",
    "--models",
    "summarise",
    "--counterparties",
    agentInfo.agentId.toString(),
    "--valid-for",
    "1d",
    "--out",
    agentMandateFile,
    "--json",
  ]);
  assert.equal(agentSigned.status, 0, agentSigned.stderr);
});

after(async () => {
  await agent?.stop({ finalClaim: false, drainMs: 500 });
  await provider.close();
  await net.close();
});

async function exercise(client: Client): Promise<void> {
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(tools, ["balance", "call_agent", "chat", "find_agents", "list_models", "quote"]);
  const listed = (await client.callTool({ name: "list_models", arguments: {} })) as ToolResult;
  const offers = listed.structuredContent.offers as { model: string; agentId: string }[];
  assert.ok(offers.some((o) => o.model === "verity-tiny" && o.agentId === provider.info.agentId.toString()));
  const quoted = (await client.callTool({
    name: "quote",
    arguments: { model: "verity-tiny", messages, max_tokens: 8 },
  })) as ToolResult;
  assert.ok(Number((quoted.structuredContent.quotes as { ceiling: string }[])[0]?.ceiling) > 0);

  const before = (await client.callTool({ name: "balance", arguments: {} })) as ToolResult;
  const spentBefore = BigInt((before.structuredContent.mandate as { spent: { total: string } }).spent.total);
  const answer = (await client.callTool({
    name: "chat",
    arguments: { model: "verity-tiny", messages, max_tokens: 8, temperature: 0 },
  })) as ToolResult;
  assert.equal(answer.isError, undefined, answer.content[0]?.text);
  const payment = answer.structuredContent.payment as { agentId: string; charge: string; requestId: string };
  assert.equal(payment.agentId, provider.info.agentId.toString());
  assert.ok(BigInt(payment.charge) > 0n);
  assert.equal(typeof answer.structuredContent.content, "string");
  const afterChat = (await client.callTool({ name: "balance", arguments: {} })) as ToolResult;
  const mandate = afterChat.structuredContent.mandate as { spent: { total: string }; left: { total: string } };
  assert.equal(BigInt(mandate.spent.total), spentBefore + BigInt(payment.charge));

  // Over the per-call limit: refused by name, nothing spent.
  const tooBig = (await client.callTool({
    name: "chat",
    arguments: { model: "verity-tiny", messages, max_tokens: 200 },
  })) as ToolResult;
  assert.equal(tooBig.isError, true);
  assert.match(tooBig.content[0]?.text ?? "", /^mandate_exceeded/);
  assert.equal((tooBig.structuredContent.details as { limit: string }).limit, "per_call");
  const outside = (await client.callTool({
    name: "chat",
    arguments: { model: "verity-tiny-q4", messages, max_tokens: 4 },
  })) as ToolResult;
  assert.equal(outside.isError, true);
  const unchanged = (await client.callTool({ name: "balance", arguments: {} })) as ToolResult;
  assert.equal((unchanged.structuredContent.mandate as { spent: { total: string } }).spent.total, mandate.spent.total);
  // Malformed arguments are refused by the tool's schema.
  const bad = (await client.callTool({ name: "chat", arguments: { model: "", messages: "hi" } })) as ToolResult;
  assert.equal(bad.isError, true);
}

test("over stdio: list, quote, buy a verified answer and read the budget; over-limit calls are refused", async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [VERITY_BIN, "mcp", ...flags, "--mandate", mandateFile],
    env: { ...(process.env as Record<string, string>) },
    stderr: "pipe",
  });
  const client = new Client({ name: "verity-test", version: "1.0.0" });
  await client.connect(transport);
  try {
    await exercise(client);
  } finally {
    await client.close();
  }
});

test("over streamable HTTP: the same tools, the same budget", async () => {
  const server = await startVerity(["mcp", ...flags, "--mandate", mandateFile, "--http", "0"]);
  const client = new Client({ name: "verity-test", version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(String(server.ready.url))));
    await exercise(client);
    await client.close();
  } finally {
    await server.stop();
  }
});

test("a mandate signed for another key or tampered with is refused at start", async () => {
  const forged = join(net.dir, "forged.json");
  const original = JSON.parse((await import("node:fs")).readFileSync(mandateFile, "utf8")) as {
    mandate: { total: string };
  };
  original.mandate.total = "999999999";
  writeFileSync(forged, JSON.stringify(original));
  const run = await runVerity(["mcp", ...flags, "--mandate", forged, "--http", "0", "--json"]);
  assert.equal(run.status, 1);
  assert.equal(run.json[0]?.code, "mandate_invalid");
});

test("find_agents lists verified agents; call_agent pays one under the mandate and refuses past it", async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [VERITY_BIN, "mcp", ...flags, "--mandate", agentMandateFile, "--auto-open", "0.001"],
    env: { ...(process.env as Record<string, string>) },
    stderr: "pipe",
  });
  const client = new Client({ name: "verity-test", version: "1.0.0" });
  await client.connect(transport);
  try {
    const found = (await client.callTool({ name: "find_agents", arguments: { skill: "summarise" } })) as ToolResult;
    assert.equal(found.isError, undefined, found.content[0]?.text);
    const agents = found.structuredContent.agents as { agentId: string; skill: string; maxTaskPrice: string }[];
    assert.deepEqual(
      agents.map((a) => [a.agentId, a.skill, a.maxTaskPrice]),
      [[agentInfo.agentId.toString(), "summarise", "50"]],
    );
    const all = (await client.callTool({ name: "find_agents", arguments: {} })) as ToolResult;
    const skills = (all.structuredContent.agents as { skill: string }[]).map((a) => a.skill).sort();
    assert.deepEqual(skills, ["summarise", "verity-tiny"]);

    const hired = (await client.callTool({
      name: "call_agent",
      arguments: { skill: "summarise", message: "A long text about agents paying agents" },
    })) as ToolResult;
    assert.equal(hired.isError, undefined, hired.content[0]?.text);
    assert.equal(hired.structuredContent.artifact, "summary: A long text about ag");
    assert.equal((hired.structuredContent.payment as { charge: string }).charge, "50");

    // A provider outside the mandate's counterparties and models: refused, nothing paid.
    const outside = (await client.callTool({
      name: "call_agent",
      arguments: { card_url: provider.url, message: "hi", max_tokens: 4 },
    })) as ToolResult;
    assert.equal(outside.isError, true);
    assert.match(outside.content[0]?.text ?? "", /^mandate_not_allowed/);
    const unknown = (await client.callTool({
      name: "call_agent",
      arguments: { skill: "no-such-skill", message: "hi" },
    })) as ToolResult;
    assert.match(unknown.content[0]?.text ?? "", /^agent_skill_unknown/);
    // 50 spent of a 100 total: the second task fits, a third would not.
    const second = (await client.callTool({
      name: "call_agent",
      arguments: { card_url: agentInfo.url, message: "again" },
    })) as ToolResult;
    assert.equal(second.isError, undefined, second.content[0]?.text);
    const third = (await client.callTool({
      name: "call_agent",
      arguments: { card_url: agentInfo.url, message: "once more" },
    })) as ToolResult;
    assert.match(third.content[0]?.text ?? "", /^mandate_exceeded/);
    const balance = (await client.callTool({ name: "balance", arguments: {} })) as ToolResult;
    assert.equal((balance.structuredContent.mandate as { spent: { total: string } }).spent.total, "100");
  } finally {
    await client.close();
  }
});
