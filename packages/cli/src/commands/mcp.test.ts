/**
 * `verity mcp` driven by the official MCP client (`@modelcontextprotocol/sdk`) over stdio and over
 * streamable HTTP, against a real provider on a real chain, paying under a mandate signed with
 * `verity mandate sign`.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { runVerity, startTestNetwork, startVerity, type TestNetwork, VERITY_BIN } from "../cli-testing.ts";

let net: TestNetwork;
let provider: TestProvider;
let flags: string[];
let mandateFile: string;
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
});

after(async () => {
  await provider.close();
  await net.close();
});

async function exercise(client: Client): Promise<void> {
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  assert.deepEqual(tools, ["balance", "chat", "list_models", "quote"]);
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
