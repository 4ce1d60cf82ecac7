import { ConfigError } from "@verity/core";
import type { Command } from "commander";
import {
  createDevnet,
  DEFAULT_DEVNET_STATE_DIR,
  DEVNET_AUDIT_P,
  DEVNET_VALIDATORS,
  type DevnetReady,
} from "../devnet/devnet.ts";
import { DEVNET_CHEAT_MODEL } from "../devnet/devnet-providers.ts";
import { formatTryIt } from "../devnet/try-it.ts";
import { createProgress, formatMs } from "../progress.ts";
import { runCommand } from "../run-command.ts";

type DevnetFlags = {
  host: string;
  port: string;
  portBase?: string;
  chainId: string;
  stateDir?: string;
  providers: string;
  cheaters: string;
  cheatModel: string;
  cheatRate: string;
  traffic?: string | boolean;
  agents?: boolean;
  validators: string;
  auditP: string;
  json?: boolean;
};

/** Builds the explorer page when it is missing or stale; the devnet runs without it if that fails. */
async function buildExplorer(): Promise<string> {
  const explorer = (await import("@verity/explorer")) as { ensureExplorerBuilt(): Promise<string> };
  return explorer.ensureExplorerBuilt();
}

export function registerDevnet(program: Command): void {
  program
    .command("devnet")
    .description(
      "Run the whole Verity network on this machine: chain, contracts, funded test accounts, providers, gateway, explorer",
    )
    .option("--host <host>", "interface every service listens on", "127.0.0.1")
    .option("--port <port>", "JSON-RPC port; the gateway takes the next one (0: free ports)", "8545")
    .option(
      "--port-base <port>",
      "chain on this port, gateway on +1, providers from +10, validators from +20 (overrides --port)",
    )
    .option("--chain-id <id>", "chain id of the embedded chain", "31337")
    .option("--providers <n>", "providers to start, each a bit dearer than the last", "3")
    .option("--cheaters <n>", "the last n providers cheat: they substitute a cheaper model", "0")
    .option("--cheat-model <spec>", "model the cheaters substitute", DEVNET_CHEAT_MODEL)
    .option("--cheat-rate <fraction>", "share of a cheater's paid requests it substitutes", "0.5")
    .option(
      "--validators <n>",
      "validators to start (a committee of three plus the challenger)",
      String(DEVNET_VALIDATORS),
    )
    .option("--audit-p <fraction>", "share of the gateway's paid answers sent for audit", String(DEVNET_AUDIT_P))
    .option("--traffic [rps]", "send paid chat requests through the gateway (default 1 per second)")
    .option("--agents", "also start the agent demo: a research agent that buys inference and hires a summariser agent")
    .option(
      "--state-dir <dir>",
      `keep the chain, deployment and node stores here and resume them on the next start (default: ${DEFAULT_DEVNET_STATE_DIR}, wiped at every start)`,
    )
    .option("--json", "print one JSON line per event (ready, claim, …) on stdout")
    .addHelpText(
      "after",
      [
        "",
        "State:",
        `  Without --state-dir the devnet starts afresh in ${DEFAULT_DEVNET_STATE_DIR} (wiped at each start).`,
        "  With --state-dir it resumes what that folder holds — balances, channels, stakes, agent ids, the",
        "  deployment and the provider and gateway stores — even after kill -9.",
        "",
        "Examples:",
        "  $ verity devnet",
        "  $ verity devnet --state-dir ./my-devnet --traffic",
        "  $ verity devnet --providers 4 --cheaters 1 --cheat-rate 0.25",
        "  $ verity devnet --port-base 9000 --json",
        "",
        "Stop it with Ctrl-C (a second Ctrl-C forces it).",
      ].join("\n"),
    )
    .action(async (flags: DevnetFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const providers = parseIntFlag("--providers", flags.providers);
        const cheaters = parseIntFlag("--cheaters", flags.cheaters);
        if (providers < 1 || providers > 6) {
          throw new ConfigError(`--providers must be between 1 and 6, got ${providers}`, {
            code: "invalid_parameter",
            hint: "The devnet has six provider accounts",
          });
        }
        if (cheaters > providers) {
          throw new ConfigError(`--cheaters ${cheaters} is more than --providers ${providers}`, {
            code: "invalid_parameter",
            hint: "Cheaters are the last n providers: pass at most --providers",
          });
        }
        const devnet = createDevnet({
          host: flags.host,
          port: parseIntFlag("--port", flags.port),
          chainId: parseIntFlag("--chain-id", flags.chainId),
          stateDir: flags.stateDir ?? DEFAULT_DEVNET_STATE_DIR,
          fresh: flags.stateDir === undefined,
          providers,
          cheaters,
          cheatModel: flags.cheatModel,
          cheatRate: parseFraction("--cheat-rate", flags.cheatRate),
          validators: parseValidators(flags.validators),
          auditP: parseFraction("--audit-p", flags.auditP),
          ...(flags.traffic === undefined ? {} : { traffic: parseRate(flags.traffic) }),
          ...(flags.agents ? { agents: true } : {}),
          ...(flags.portBase === undefined ? {} : { portBase: parseIntFlag("--port-base", flags.portBase) }),
          explorer: buildExplorer,
          progress,
          onEvent: (event) => {
            if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
            else progress.info(`• ${event.event} ${JSON.stringify({ ...event, event: undefined })}`);
          },
        });
        let signals = 0;
        const shutdown = async (signal: string) => {
          signals++;
          if (signals > 1) {
            progress.info(`${signal} again: forcing exit`);
            process.exit(130);
          }
          progress.info(`\n${signal}: stopping the devnet (finishing requests and final claims; Ctrl-C again forces)…`);
          const started = performance.now();
          const traffic = await devnet.stop();
          if (traffic) {
            if (json) process.stdout.write(`${JSON.stringify({ event: "traffic", ...traffic })}\n`);
            else progress.info(`traffic: ${traffic.sent} sent, ${traffic.ok} ok, ${traffic.failed} failed`);
          }
          progress.info(`devnet stopped (${formatMs(performance.now() - started)})`);
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
        let ready: DevnetReady;
        try {
          ready = await devnet.start();
        } catch (error) {
          await devnet.stop();
          throw error;
        }
        progress.info(`ready in ${formatMs(performance.now())} since the process started`);
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else process.stdout.write(formatTryIt(ready));
        await new Promise(() => {}); // run until a signal arrives
      });
    });
}

function parseIntFlag(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: `Pass a number, e.g. ${name} 8545`,
    });
  }
  return n;
}

/** 0 (no audits) or at least 4: a committee of three never includes the challenger. */
function parseValidators(value: string): number {
  const n = parseIntFlag("--validators", value);
  if ((n !== 0 && n < 4) || n > 5) {
    throw new ConfigError(`--validators must be 0 or between 4 and 5, got ${n}`, {
      code: "invalid_parameter",
      hint: "A dispute needs a committee of three validators besides the one that challenges; the devnet has five validator accounts",
    });
  }
  return n;
}

function parseFraction(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new ConfigError(`${name} must be a fraction between 0 and 1, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: `Pass e.g. ${name} 0.5`,
    });
  }
  return n;
}

function parseRate(value: string | boolean): number {
  if (value === true) return 1;
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 100) {
    throw new ConfigError(`--traffic must be a rate in requests per second (0 < rps ≤ 100), got ${String(value)}`, {
      code: "invalid_parameter",
      hint: "Pass e.g. --traffic 2, or --traffic alone for 1 request per second",
    });
  }
  return n;
}
