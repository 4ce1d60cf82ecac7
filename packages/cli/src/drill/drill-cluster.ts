/**
 * The drill's devnet as separate processes: `verity chain` + `verity deploy`, two providers serving
 * test:verity-tiny, a third serving it through `--upstream` from an OpenAI-compatible engine process
 * (which the drill can SIGSTOP to make it hang), a validator, and two gateway replicas — each with its
 * own state directory and key file, so any of them can be killed with SIGKILL and started again from
 * what it left on disk. The gateways share one Postgres (`--database`) when the gateway command has
 * that flag and a Postgres server can be started; otherwise each keeps its own state directory.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectChain, readDeployment } from "@verity/chain";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { sendGatewayDeposit } from "@verity/gateway";
import { createGatewayKey } from "@verity/sdk";
import { privateKeyToAccount } from "viem/accounts";
import { type EngineServerProcess, startEngineServerProcess } from "../../../engine/src/engine-server-process.ts";
import { type DrillProcess, runVerityOnce, startDrillProcess } from "./drill-process.ts";

/** What each drill client deposits at each gateway (100 TUSD). */
export const DRILL_DEPOSIT = 100_000_000n;
const TUSD = 10n ** 6n;

export type DrillGateway = {
  process: DrillProcess;
  url: string;
  address: `0x${string}`;
  stateDir: string;
  apiKey: string;
  /** The client's own books for the key's owner: deposited on-chain, charged for complete answers (one object shared by replicas on one database). */
  books: { deposited: bigint; spent: bigint };
};

export type DrillCluster = {
  dir: string;
  /** "own state dir per replica" or "shared Postgres". */
  gatewayMode: string;
  rpcUrl: string;
  deployment: Deployment;
  deploymentFile: string;
  providers: DrillProcess[];
  upstreamProvider: DrillProcess;
  upstream: EngineServerProcess;
  validator: DrillProcess;
  gateways: DrillGateway[];
  /** The client that owns the API keys. */
  client: `0x${string}`;
  stop(): Promise<void>;
};

/** A port nothing listens on now: services keep it across restarts, so their URLs stay the same. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Account = { name: string; address: `0x${string}`; privateKey: `0x${string}` };

/** Does this `verity gateway start` accept `--database` (replicas sharing one Postgres)? */
async function gatewaySupportsDatabase(): Promise<boolean> {
  const { spawnSync } = await import("node:child_process");
  const { VERITY_BIN } = await import("./drill-process.ts");
  const help = spawnSync(process.execPath, [VERITY_BIN, "gateway", "start", "--help"], { encoding: "utf8" });
  return help.stdout.includes("--database");
}

async function sharedDatabase(): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  if (!(await gatewaySupportsDatabase())) return undefined;
  const { startTestPostgres } = await import("../../../gateway/src/store/postgres-testing.ts");
  const pg = await startTestPostgres();
  if ("skip" in pg) return undefined;
  return { url: await pg.createDatabase(), stop: () => pg.stop() };
}

export async function startDrillCluster(options: { dir?: string; log?: (line: string) => void } = {}) {
  const log = options.log ?? (() => {});
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "verity-drill-"));
  mkdirSync(dir, { recursive: true });
  const started: { kill(signal?: NodeJS.Signals): Promise<void> }[] = [];
  let database: Awaited<ReturnType<typeof sharedDatabase>>;
  const stopAll = async () => {
    for (const p of started.reverse()) await p.kill("SIGTERM").catch(() => {});
    await database?.stop();
  };
  try {
    const chain = await startDrillProcess({
      name: "chain",
      args: ["chain", "--port", "0", "--accounts", "24"],
    });
    started.push(chain);
    const rpcUrl = String(chain.ready.rpcUrl);
    const accounts = chain.ready.accounts as Account[];
    const byName = (name: string) => {
      const a = accounts.find((x) => x.name === name);
      if (!a) throw new Error(`the drill chain has no account ${name}`);
      return a;
    };
    const keyFile = (name: string) => {
      const path = join(dir, `${name}.key`);
      writeFileSync(path, `${byName(name).privateKey}\n`, { mode: 0o600 });
      return path;
    };
    const deploymentFile = join(dir, "deployment.json");
    await runVerityOnce(["deploy", "--rpc", rpcUrl, "--key-file", keyFile("deployer"), "--out", deploymentFile]);
    const deployment = readDeployment(deploymentFile);
    log(`chain ${rpcUrl}, contracts deployed`);

    // TestUSD for stakes, bonds, channel escrow and deposits (the deployer mints on a devnet).
    const deployer = await connectChain({ rpcUrl, account: byName("deployer").privateKey });
    const roles = ["provider-1", "provider-2", "provider-3", "validator-1", "gateway", "account-21", "client-1"];
    for (const name of roles) {
      const hash = await deployer.walletClient.writeContract({
        address: deployment.token.address,
        abi: testUSDAbi,
        functionName: "mint",
        args: [byName(name).address, 10_000n * TUSD],
        chain: deployer.chain,
      });
      await deployer.publicClient.waitForTransactionReceipt({ hash });
    }

    const chainFlags = ["--rpc", rpcUrl, "--deployment", deploymentFile];
    const providerFlags = async (name: string) => [
      "provider",
      "start",
      ...chainFlags,
      "--key-file",
      keyFile(name),
      "--port",
      String(await freePort()),
      "--stake",
      "100",
      "--data-dir",
      join(dir, name),
      // Claims wait for the oldest charge to be 10 s old: a provider killed soon after serving is still owed.
      "--claim-min",
      "1000",
      "--claim-max-age",
      "10s",
      "--register-model",
    ];
    const providers: DrillProcess[] = [];
    for (const name of ["provider-1", "provider-2"]) {
      const p = await startDrillProcess({
        name,
        args: [...(await providerFlags(name)), "--model", "test:verity-tiny"],
      });
      started.push(p);
      providers.push(p);
    }
    log("providers 1 and 2 serving test:verity-tiny");

    const upstream = await startEngineServerProcess();
    started.push({
      kill: (s) => {
        upstream.child.kill("SIGCONT"); // a hung (stopped) upstream only handles SIGTERM once resumed
        return upstream.kill(s);
      },
    });
    const listed = (await (await fetch(`${upstream.url}/v1/models`)).json()) as {
      data: { id: string; verity: { weightsHash: string; tokenizerHash: string; contextSize: number } }[];
    };
    const entry = listed.data[0];
    if (!entry) throw new Error("the upstream engine lists no model");
    const manifestFile = join(dir, "upstream-manifest.json");
    writeFileSync(
      manifestFile,
      JSON.stringify({
        name: entry.id,
        weightsDigest: entry.verity.weightsHash,
        tokenizerDigest: entry.verity.tokenizerHash,
        quantization: "f16",
        engine: { name: "verity-engine-server", version: "0.1.0" },
        contextLength: entry.verity.contextSize,
      }),
    );
    const upstreamProvider = await startDrillProcess({
      name: "provider-3 (upstream)",
      args: [...(await providerFlags("provider-3")), "--upstream", `${upstream.url}/v1`, "--model", manifestFile],
    });
    started.push(upstreamProvider);
    log(`provider 3 serving ${entry.id} through ${upstream.url}`);

    const validator = await startDrillProcess({
      name: "validator",
      args: [
        "validator",
        "start",
        ...chainFlags,
        "--key-file",
        keyFile("validator-1"),
        "--port",
        String(await freePort()),
        "--model",
        "test:verity-tiny",
        "--data-dir",
        join(dir, "validator-1"),
        "--poll",
        "500ms",
      ],
    });
    started.push(validator);
    log(`validator at ${validator.ready.url}`);

    database = await sharedDatabase();
    const gatewayMode = database ? "shared Postgres" : "own state dir per replica";
    const client = byName("client-1");
    const clientChain = await connectChain({ rpcUrl, account: client.privateKey });
    const gateways: DrillGateway[] = [];
    for (const [i, name] of ["gateway", "account-21"].entries()) {
      const stateDir = join(dir, `gateway-${i + 1}`);
      const gw = await startDrillProcess({
        name: `gateway-${i + 1}`,
        args: [
          "gateway",
          "start",
          ...chainFlags,
          "--key-file",
          keyFile(database ? "gateway" : name),
          "--port",
          String(await freePort()),
          "--state-dir",
          stateDir,
          "--allow-private-offers",
          "--deposit-confirmations",
          "0",
          "--channel-deposit",
          "5",
          "--audit-p",
          "1",
          "--validator-url",
          `${validator.ready.url}/v1/audits`,
          // Replicas on one database share the gateway's address and balances; each pays providers
          // from its own payer key so their channel vouchers and transaction nonces never collide.
          ...(database
            ? ["--database", database.url, "--replica-id", `gateway-${i + 1}`, "--payer-key-file", keyFile(name)]
            : []),
        ],
      });
      started.push(gw);
      const url = String(gw.ready.url);
      const address = gw.ready.address as `0x${string}`;
      const created = await createGatewayKey({
        gatewayUrl: url,
        account: privateKeyToAccount(client.privateKey),
        chainId: deployment.chainId,
        scope: { label: `drill-${i + 1}` },
      });
      const deposited = database && i > 0 ? 0n : DRILL_DEPOSIT;
      if (deposited > 0n) {
        await sendGatewayDeposit({ clients: clientChain, deployment, gateway: address, amount: deposited });
      }
      const books = database && gateways[0] ? gateways[0].books : { deposited, spent: 0n };
      gateways.push({ process: gw, url, address, stateDir, apiKey: created.key, books });
    }
    log(`gateways at ${gateways.map((g) => g.url).join(", ")} (${gatewayMode})`);

    const cluster: DrillCluster = {
      dir,
      gatewayMode,
      rpcUrl,
      deployment,
      deploymentFile,
      providers,
      upstreamProvider,
      upstream,
      validator,
      gateways,
      client: client.address,
      stop: stopAll,
    };
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
