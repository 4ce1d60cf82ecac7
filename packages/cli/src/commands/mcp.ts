import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createNativeAccount } from "@verity/chain";
import { testUSDAbi } from "@verity/contracts";
import { ConfigError, mandateJson } from "@verity/core";
import { createVerityClient, loadOrCreateSecret } from "@verity/sdk";
import type { Command } from "commander";
import { Hono } from "hono";
import { type ChainFlags, openChainContext } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { DEFAULT_CLIENT_STATE_DIR } from "../channel-state.ts";
import { createVerityMcpServer } from "../mcp/verity-mcp.ts";
import { parseAmount, parseInteger } from "../parse-flags.ts";
import { runCommand } from "../run-command.ts";
import { readMandateFile } from "./mandate.ts";

type McpFlags = ChainFlags & {
  stateDir: string;
  mandate: string;
  gateway?: string;
  http?: string;
  host: string;
  autoOpen: string;
  json?: boolean;
};

/** Status lines: on stderr with stdio (stdout carries the MCP protocol there), else on stdout. */
let status = (line: string) => process.stdout.write(`${line}\n`);

export function registerMcp(program: Command): void {
  addChainOptions(
    program
      .command("mcp")
      .description("Serve Verity as MCP tools (chat, list_models, quote, balance) over stdio or streamable HTTP"),
    { key: "payer's private key" },
  )
    .requiredOption("--mandate <file>", "spend mandate bounding every payment (see `verity mandate sign`)")
    .option(
      "--state-dir <dir>",
      "client state dir (channels, voucher key), shared with the SDK",
      DEFAULT_CLIENT_STATE_DIR,
    )
    .option("--gateway <url>", "discover offers through this gateway's /v1/providers (default: the chain's own index)")
    .option("--http <port>", "serve streamable HTTP on this port at /mcp instead of stdio")
    .option("--host <host>", "address to bind with --http", "127.0.0.1")
    .option("--auto-open <amount>", "deposit of a channel opened when none has headroom (payment token)", "1")
    .option("--json", "status lines as JSON (on stderr with stdio, stdout with --http)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity mandate sign --total 5 --per-call 0.05 --out mandate.json\n" +
        "  $ verity mcp --key-file payer.key --mandate mandate.json              # stdio, for an MCP client's config\n" +
        "  $ verity mcp --key-file payer.key --mandate mandate.json --http 8700  # http://127.0.0.1:8700/mcp\n\n" +
        "Every payment is checked against the mandate before a voucher is signed; a refusal names the limit.",
    )
    .action(async (flags: McpFlags) => {
      const json = flags.json === true;
      if (flags.http === undefined) status = (line: string) => process.stderr.write(`${line}\n`);
      await runCommand(json, async () => {
        const { deployment, clients, account } = await openChainContext({ ...flags, needKey: true });
        if (!account) throw new Error("unreachable: needKey");
        const stateDir = resolve(flags.stateDir);
        const authorizer = createNativeAccount(loadOrCreateSecret(stateDir, "authorizer.key"));
        const signed = await readMandateFile({
          file: flags.mandate,
          chainId: deployment.chainId,
          spender: authorizer.address,
        });
        if (signed.mandate.owner.toLowerCase() !== account.address.toLowerCase()) {
          throw new ConfigError("The mandate's owner is not the payer key given", {
            code: "mandate_invalid",
            hint: `Sign the mandate with the payer's key (${account.address}) or pass the owner's key`,
          });
        }
        const client = createVerityClient({
          rpcUrl: flags.rpc,
          deployment,
          account,
          authorizer,
          stateDir,
          mandate: mandateJson(signed),
          autoOpen: { amount: parseAmount("--auto-open", flags.autoOpen, deployment.token.decimals) },
          ...(flags.gateway ? { directory: { gatewayUrl: flags.gateway } } : {}),
          onError: (error) => status(`! ${error instanceof Error ? error.message : String(error)}`),
        });
        await client.start();
        const options = {
          client,
          mandate: signed.mandate,
          token: { symbol: deployment.token.symbol, decimals: deployment.token.decimals },
          balanceOf: () =>
            clients.publicClient.readContract({
              address: deployment.token.address,
              abi: testUSDAbi,
              functionName: "balanceOf",
              args: [account.address],
            }),
        };
        const say = (event: Record<string, unknown>, text: string) => status(json ? JSON.stringify(event) : text);
        const stopping = new Promise<void>((done) => {
          for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => done());
        });

        if (flags.http === undefined) {
          const server = createVerityMcpServer(options);
          const transport = new StdioServerTransport();
          const closed = new Promise<void>((done) => {
            transport.onclose = () => done();
          });
          await server.connect(transport);
          say(
            { event: "ready", transport: "stdio", payer: account.address },
            `✔ verity mcp on stdio (payer ${account.address})`,
          );
          await Promise.race([stopping, closed]);
          await server.close();
        } else {
          const port = parseInteger("--http", flags.http, 0);
          const app = new Hono();
          // Stateless streamable HTTP: one server and transport per request, as the MCP SDK recommends.
          app.all("/mcp", async (c) => {
            const server = createVerityMcpServer(options);
            const transport = new WebStandardStreamableHTTPServerTransport({});
            await server.connect(transport);
            return transport.handleRequest(c.req.raw);
          });
          const http = serve({ fetch: app.fetch, port, hostname: flags.host });
          await new Promise<void>((ready, fail) => {
            http.once("listening", () => ready());
            http.once("error", fail);
          });
          const address = http.address();
          const bound = typeof address === "object" && address ? address.port : port;
          say(
            { event: "ready", transport: "http", url: `http://${flags.host}:${bound}/mcp`, payer: account.address },
            `✔ verity mcp at http://${flags.host}:${bound}/mcp (payer ${account.address})`,
          );
          await stopping;
          await new Promise<void>((done) => http.close(() => done()));
        }
        await client.stop();
      });
    });
}
